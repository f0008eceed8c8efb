"""A progress bar in code page 437: full blocks for what is done, a light shade for the rest.

Textual's own bar draws heavy lines (U+2501), which the console's font does not have.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from agent.i18n import number

DONE = "\u2588"  # full block
LEFT = "\u2591"  # light shade
_DONE_STYLE = Style(color="green")
_LEFT_STYLE = Style(color="bright_black")
PERCENT_WIDTH = 6  # " 100 %"


def bar_text(fraction: float, width: int, *, failed: bool = False) -> Text:
    """`width` cells, the first `fraction` of them full."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    text = Text(no_wrap=True, overflow="crop")
    text.append(DONE * filled, Style(color="red") if failed else _DONE_STYLE)
    text.append(LEFT * (width - filled), _LEFT_STYLE)
    return text


def bar_with_percent(fraction: float, width: int, *, failed: bool = False) -> Text:
    """A bar and its percentage, `width` cells in all (at least 10 for the bar)."""
    bar = bar_text(fraction, max(10, width - PERCENT_WIDTH), failed=failed)
    bar.append(f" {number(100 * min(1.0, max(0.0, fraction))):>3} %")
    return bar

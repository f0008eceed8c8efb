"""The Linux console as the screen's target: code page 437 glyphs, and text that is only text.

The console (TERM=linux) draws with the VGA font, whose 256 glyphs are code page 437: any other
character shows as a block. Textual draws some of its widgets with glyphs outside it (eighth
blocks in scrollbars, heavy lines in progress bars), so those are replaced here, once, before the
first screen is drawn. Borders are `solid` in the stylesheet: its box-drawing lines are CP437.

Every string that comes from outside (DMI, disk models, configuration, hub answers, error texts)
reaches the screen as `Content`, never as a markup string: "[/b]" in a disk model is shown as it
is, never interpreted.
"""

from __future__ import annotations

from textual.content import Content
from textual.scrollbar import ScrollBarRender

# Full-cell thumbs: the partial eighth-blocks (U+2581...U+258F) are not in the console's font.
_SCROLLBAR_CELLS = [" "] * 8


def use_console_glyphs() -> None:
    ScrollBarRender.VERTICAL_BARS = list(_SCROLLBAR_CELLS)
    ScrollBarRender.HORIZONTAL_BARS = list(_SCROLLBAR_CELLS)


def plain(text: str) -> Content:
    """Text shown exactly as it is, whatever brackets it holds."""
    return Content(text)


def plain_lines(lines: list[str]) -> Content:
    return Content("\n".join(lines))

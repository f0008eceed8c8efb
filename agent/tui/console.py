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

from rich.cells import set_cell_size
from rich.text import Text
from textual.content import Content
from textual.scrollbar import ScrollBarRender

# What ends a line cut to fit: Rich's own ellipsis (U+2026) is not in the console's font.
ELLIPSIS = "..."

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


def fit_line(text: Text, width: int) -> Text:
    """`text` on one line of `width` cells at most, "..." at its end when it was cut: a widget
    that draws its own lines keeps its height whatever a long model name or message holds
    (Textual wraps a long line, whatever its `no_wrap`)."""
    line = text.split("\n")[0] if "\n" in text.plain else text.copy()
    if width <= 0:
        return Text()
    if line.cell_len <= width:
        return line
    if width <= len(ELLIPSIS):
        return Text(set_cell_size(line.plain, width))
    line.truncate(width - len(ELLIPSIS), overflow="crop")
    line.append(ELLIPSIS)
    return line


def printable(text: str) -> str:
    """Text from outside (a device's name, a command's error) as the console's font can draw
    it: other characters become "?"."""
    return "".join(char if char.isprintable() and char.encode("cp437", "ignore") else "?"
                   for char in text)

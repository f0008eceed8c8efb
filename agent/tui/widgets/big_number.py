"""A number drawn five lines high in full blocks, for what must be read from across the room (a
countdown): the console has one size of font, and full blocks are in its code page 437."""

from __future__ import annotations

from textual.widgets import Static

from agent.tui.console import plain_lines

BLOCK = "\u2588"  # CP437 0xDB
# Each digit on a grid of 3 columns and 5 rows; "#" is a block. Each column is drawn two cells
# wide, since a cell is about twice as high as it is wide.
_DIGITS = {
    "0": ("###", "# #", "# #", "# #", "###"),
    "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"),
    "3": ("###", "  #", "###", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"),
    "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"),
    "7": ("###", "  #", "  #", "  #", "  #"),
    "8": ("###", "# #", "###", "# #", "###"),
    "9": ("###", "# #", "###", "  #", "###"),
}
ROWS = 5


def big_lines(number: int) -> list[str]:
    """`number` (0 or more) as ROWS lines of blocks and spaces, all as wide (centred line by
    line, they stay one above the other)."""
    digits = [_DIGITS[digit] for digit in str(max(number, 0))]
    return ["  ".join("".join(BLOCK * 2 if cell == "#" else "  " for cell in digit[row])
                      for digit in digits) for row in range(ROWS)]


class BigNumber(Static):
    def __init__(self, number: int, *, id: str | None = None) -> None:
        super().__init__(plain_lines(big_lines(number)), id=id, markup=False)

    def show(self, number: int) -> None:
        self.update(plain_lines(big_lines(number)))

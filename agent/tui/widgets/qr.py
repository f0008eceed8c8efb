"""A QR code drawn with code page 437 half blocks, so a phone can open the machine's passport.

Each character cell holds two modules, one above the other ("▀", "▄", "█" or a space), which
makes the modules square on the console's 8x16 font. Light modules are drawn in bright white on
black, with the quiet zone around them light too, as phones expect (dark modules on light).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

QUIET_ZONE = 2  # modules; the standard's 4 costs four lines a 25-line screen cannot spare
_LIGHT = Style(color="bright_white", bgcolor="black")
# (upper light, lower light) -> glyph drawn in the light colour
_CELLS = {(True, True): "\u2588", (True, False): "\u2580", (False, True): "\u2584",
          (False, False): " "}


def qr_matrix(data: str) -> list[list[bool]]:
    """The modules of `data`'s QR code, True for dark, without a quiet zone."""
    import qrcode  # only the result screen needs it
    from qrcode.constants import ERROR_CORRECT_L

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, border=0)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def qr_text(data: str, quiet_zone: int = QUIET_ZONE) -> Text:
    """The QR code of `data` as lines of half blocks (each line covers two rows of modules)."""
    matrix = qr_matrix(data)
    width = len(matrix) + 2 * quiet_zone
    light_row = [True] * width
    rows = [light_row] * quiet_zone + [
        [True] * quiet_zone + [not dark for dark in row] + [True] * quiet_zone
        for row in matrix] + [light_row] * quiet_zone
    if len(rows) % 2:
        rows.append([False] * width)  # the last half line: nothing under it
    lines = ["".join(_CELLS[pair] for pair in zip(upper, lower, strict=True))
             for upper, lower in zip(rows[0::2], rows[1::2], strict=True)]
    # Joined, not stripped: a line may end with dark modules, which are spaces.
    return Text("\n".join(lines), _LIGHT, no_wrap=True, overflow="crop")


class QrCode(Static):
    """The passport's address as a QR code; empty when there is no address."""

    DEFAULT_CSS = """
    QrCode { width: auto; height: auto; }
    """

    def __init__(self, data: str | None = None, *, id: str | None = None) -> None:
        super().__init__(qr_text(data) if data else "", id=id, markup=False)

    def show(self, data: str | None) -> None:
        self.update(qr_text(data) if data else "")

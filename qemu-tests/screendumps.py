"""Pictures of a QEMU machine's screen (the monitor's `screendump`), for tests that can only see
a frame buffer: waiting until the screen has changed and settled, and comparing it with a
reference picture of what a working system shows.

A reference is the screen reduced to a grid of average colours (`reduce`), kept as a small PPM
file in qemu-tests/reference/, so that a clock, a blinking cursor or a font's antialiasing do not
matter, while a dialog, a black screen or another background do. A test run with
REEEBOOT_UPDATE_REFERENCES=1 writes its references instead of comparing; or, from a screendump a
test kept in its artifacts (look at it first):

    python3 qemu-tests/screendumps.py reduce ARTIFACT.ppm qemu-tests/reference/NAME.ppm
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The reference grid: 64 x 48 cells, 16 x 16 pixels on a 1024 x 768 screen (20 x 16 on 1280 x
# 800, what OVMF gives).
GRID_COLUMNS, GRID_ROWS = 64, 48
# Two cells differ when their average colours are further apart than this (0..441).
CELL_DISTANCE = 40
# What counts as the screen changing while waiting: this many 16-pixel cells with any pixel
# changed. A blinking text cursor or a clock's second hand changes one or two.
CHANGED_CELLS = 12


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    pixels: bytes  # 3 bytes (R, G, B) a pixel, row after row

    @classmethod
    def read(cls, path: Path) -> Picture:
        """A binary PPM file ("P6"), as QEMU's screendump writes it: the magic, width, height
        and maximum value separated by whitespace (with # comments), then the pixels."""
        data = path.read_bytes()
        fields: list[bytes] = []
        position = 0
        while len(fields) < 4:
            while data[position:position + 1].isspace():
                position += 1
            if data[position:position + 1] == b"#":
                position = data.index(b"\n", position) + 1
                continue
            end = position
            while end < len(data) and not data[end:end + 1].isspace():
                end += 1
            fields.append(data[position:end])
            position = end
        magic, width, height, maximum = fields
        if magic != b"P6" or maximum != b"255":
            raise ValueError(f"{path}: not an 8-bit binary PPM picture")
        pixels = data[position + 1:]
        size = int(width) * int(height) * 3
        if len(pixels) < size:
            raise ValueError(f"{path}: {len(pixels)} bytes of pixels, {size} expected")
        return cls(int(width), int(height), pixels[:size])

    def write(self, path: Path) -> None:
        path.write_bytes(b"P6\n%d %d\n255\n" % (self.width, self.height) + self.pixels)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        start = (y * self.width + x) * 3
        red, green, blue = self.pixels[start:start + 3]
        return red, green, blue

    def lit_share(self) -> float:
        """The share of pixels that are not black (sampled every 4th pixel of every 4th row)."""
        samples = lit = 0
        for y in range(0, self.height, 4):
            row = y * self.width * 3
            for x in range(0, self.width, 4):
                samples += 1
                if self.pixels[row + x * 3:row + x * 3 + 3] != b"\0\0\0":
                    lit += 1
        return lit / samples


def reduce(picture: Picture, columns: int = GRID_COLUMNS, rows: int = GRID_ROWS) -> Picture:
    """The picture as a `columns` x `rows` grid of average colours (every other pixel of every
    other row sampled), whatever its size: a reference does not depend on the resolution."""
    cells = bytearray()
    for row in range(rows):
        top, bottom = row * picture.height // rows, (row + 1) * picture.height // rows
        for column in range(columns):
            left, right = column * picture.width // columns, (column + 1) * picture.width // columns
            totals = [0, 0, 0]
            count = 0
            for y in range(top, bottom, 2):
                start = y * picture.width * 3
                for x in range(left, right, 2):
                    offset = start + x * 3
                    totals[0] += picture.pixels[offset]
                    totals[1] += picture.pixels[offset + 1]
                    totals[2] += picture.pixels[offset + 2]
                    count += 1
            cells += bytes(total // max(count, 1) for total in totals)
    return Picture(columns, rows, bytes(cells))


def differing_cells(picture: Picture, reference: Picture) -> list[tuple[int, int]]:
    """The grid cells (column, row) where `picture`, reduced to the reference's grid, has a
    colour further than CELL_DISTANCE from the reference's."""
    reduced = reduce(picture, reference.width, reference.height)
    differing = []
    for row in range(reference.height):
        for column in range(reference.width):
            ours, theirs = reduced.pixel(column, row), reference.pixel(column, row)
            distance = sum((a - b) ** 2 for a, b in zip(ours, theirs, strict=True)) ** 0.5
            if distance > CELL_DISTANCE:
                differing.append((column, row))
    return differing


def changed_cells(before: Picture, after: Picture, cell: int = 16) -> int:
    """How many `cell` x `cell` squares have any pixel changed (all of them if the size did)."""
    if (before.width, before.height) != (after.width, after.height):
        return -(-after.width // cell) * -(-after.height // cell)
    changed = set()
    stride = after.width * 3
    for y in range(after.height):
        start = y * stride
        if before.pixels[start:start + stride] == after.pixels[start:start + stride]:
            continue
        for x in range(0, after.width, cell):
            if (x, y // cell) in changed:
                continue
            segment = slice(start + x * 3, start + min(x + cell, after.width) * 3)
            if before.pixels[segment] != after.pixels[segment]:
                changed.add((x, y // cell))
    return len(changed)


def wait_until_settled(take: Callable[[], Picture], since: Picture | None, *, quiet: float,
                       timeout: float,
                       accept: Callable[[Picture], bool] = lambda _picture: True) -> Picture:
    """Takes pictures until the screen has changed from `since` (if given) and then stayed the
    same, but for a cursor or a clock, for `quiet` seconds, and `accept`s it (a black screen
    between two programs settles too); returns the last one. Raises TimeoutError, naming what
    it waited for, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    changed = since is None
    last = take()
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = take()
        if since is not None and not changed:
            changed = changed_cells(since, now) >= CHANGED_CELLS
            still_since = time.monotonic()
        elif changed_cells(last, now) >= CHANGED_CELLS:
            still_since = time.monotonic()
        elif time.monotonic() - still_since >= quiet and accept(now):
            return now
        last = now
    raise TimeoutError("the screen did not change" if not changed
                       else f"the screen did not settle for {quiet} s as expected")


def main(arguments: list[str]) -> int:
    if len(arguments) != 3 or arguments[0] != "reduce":
        print(__doc__, file=sys.stderr)
        return 2
    reduce(Picture.read(Path(arguments[1]))).write(Path(arguments[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Sectors a disk refused to write or read, kept as merged byte ranges and shown as LBA ranges."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class TooManyBadSectors(OSError):
    """The disk refuses so much that narrowing every error down would take longer than it helps."""


@dataclass
class BadSectors:
    sector: int
    limit: int = 8192  # sectors; past this the disk is failed rather than narrowed further
    _ranges: list[tuple[int, int]] = field(default_factory=list)  # (start byte, end byte)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, start: int, length: int) -> None:
        with self._lock:
            self._ranges = _merge([*self._ranges, (start, start + length)])
            if self.count() > self.limit:
                raise TooManyBadSectors(f"more than {self.limit} unusable sectors")

    def count(self) -> int:
        return sum(end - start for start, end in self._ranges) // self.sector

    def covers(self, start: int, length: int) -> bool:
        """True when every byte of [start, start+length) is already known to be bad."""
        end = start + length
        return any(low <= start and end <= high for low, high in self._ranges)

    def lba_ranges(self) -> list[list[int]]:
        """[[first LBA, last LBA], ...] in logical sectors, as the report lists them."""
        return [[start // self.sector, (end - 1) // self.sector] for start, end in self._ranges]

    def __bool__(self) -> bool:
        return bool(self._ranges)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged

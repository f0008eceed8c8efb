"""The read-back sample that a firmware erase must pass before it counts.

Before the command, the sampled sectors (the first and last MiB and, by default, 1,000 random
sectors over the whole LBA range) are read and fingerprinted; afterwards they are read again. A
sector that still holds what it held before, and held real content (not one byte repeated, which a
blank disk and an erased one can share), is old data the drive did not erase: the erase does not
count. Drives that report "success" without erasing are thereby caught.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.blockdev.buffers import AlignedBuffer
from agent.blockdev.device import BlockDevice, open_device
from agent.wipe.engine import sample_regions


@dataclass(frozen=True)
class SectorPrint:
    lba: int
    digest: bytes | None  # None: the sector could not be read
    uniform: bool  # one byte value repeated: says nothing about old content


@dataclass
class SampleCheck:
    ok: bool
    sectors: int  # sampled
    with_content_before: int  # sampled sectors that held real content before the erase
    unchanged: list[int] = field(default_factory=list)  # LBAs still holding their old content
    unreadable_after: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["unchanged"] = self.unchanged[:100]
        return data


def fingerprint(disk: BlockDevice, sample_sectors: int, *,
                seed: int | None = None) -> list[SectorPrint]:
    """Read the sample and fingerprint each sector of it."""
    prints: list[SectorPrint] = []
    regions = sample_regions(disk, sample_sectors, seed=seed)
    largest = max(length for _, length in regions)
    fd = open_device(disk.path, os.O_RDONLY)
    try:
        with AlignedBuffer(largest) as buffer:
            for offset, length in regions:
                prints.extend(_prints(fd, buffer, offset, length, disk.sector))
    finally:
        os.close(fd)
    return prints


def compare(before: list[SectorPrint], disk: BlockDevice) -> SampleCheck:
    """Read the same sectors again and count those the erase left as they were."""
    after = {item.lba: item for item in _reread(disk, [item.lba for item in before])}
    meaningful = [item for item in before if item.digest is not None and not item.uniform]
    unchanged = [item.lba for item in meaningful if after[item.lba].digest == item.digest]
    unreadable = sum(1 for item in after.values() if item.digest is None)
    return SampleCheck(ok=not unchanged, sectors=len(before),
                       with_content_before=len(meaningful), unchanged=unchanged,
                       unreadable_after=unreadable)


def _reread(disk: BlockDevice, lbas: list[int]) -> list[SectorPrint]:
    fd = open_device(disk.path, os.O_RDONLY)
    try:
        with AlignedBuffer(disk.sector) as buffer:
            found: list[SectorPrint] = []
            for lba in lbas:
                found.extend(_prints(fd, buffer, lba * disk.sector, disk.sector, disk.sector))
            return found
    finally:
        os.close(fd)


def _prints(fd: int, buffer: AlignedBuffer, offset: int, length: int,
            sector: int) -> list[SectorPrint]:
    try:
        got = os.preadv(fd, [buffer.view[:length]], offset)
    except OSError:
        got = -1
    if got != length:
        if length > sector:  # read what can be read, sector by sector
            return [item for at in range(offset, offset + length, sector)
                    for item in _prints(fd, buffer, at, sector, sector)]
        return [SectorPrint(offset // sector, None, False)]
    prints = []
    for at in range(0, length, sector):
        data = buffer.view[at : at + sector]
        uniform = data.tobytes() == bytes([data[0]]) * sector
        prints.append(SectorPrint((offset + at) // sector, hashlib.sha256(data).digest(), uniform))
    return prints

"""A block device as the erasure, the install and the benchmark see it, and the loops that read
and write it whole.

O_DIRECT everywhere a disk is read or written, so neither the page cache's speed nor its copy of
the data stands in for the disk's; O_EXCL when writing, so nothing can mount the disk meanwhile.
A regular file (a disk image in the tests) is opened through the cache: not every file system
takes O_DIRECT, and there is no disk behind it to reach.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

_BLKSSZGET = 0x1268  # ioctl: the logical sector size


@dataclass(frozen=True)
class BlockDevice:
    """What the loops need of a disk: its path, its size and its logical sector size. (The
    inventory's `Disk` describes the disk for people and the report; this is the handle.)"""

    path: str
    size_bytes: int
    sector: int = 512

    @classmethod
    def at(cls, path: str) -> BlockDevice:
        """The device at `path`, its size and sector size asked of the kernel."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return cls(path, device_size(fd), sector_size(fd))
        finally:
            os.close(fd)

    @property
    def sysfs(self) -> Path:
        return Path("/sys/class/block") / Path(os.path.realpath(self.path)).name


@dataclass
class VerifyOutcome:
    """What reading a device back found: an erasure's verification or an install's."""

    ok: bool
    bytes_read: int
    seconds: float
    mode: str = "full"  # "full" or "sample" (erasure); an install reads its ranges in full
    mismatched: list[list[int]] = field(default_factory=list)  # [first LBA, last LBA]
    digest: str | None = None  # what chunks were checked with, where not compared byte by byte
    bytes_by_digest: int = 0  # of `bytes_read`, those whose chunk's digest matched


def is_block_device(path: str) -> bool:
    return stat.S_ISBLK(os.stat(path).st_mode)


def open_device(path: str, flags: int, *, exclusive: bool = False) -> int:
    """`path` opened with `flags`, plus O_DIRECT on a block device (and O_EXCL if `exclusive`)."""
    extra = os.O_CLOEXEC
    if is_block_device(path):
        extra |= os.O_DIRECT | (os.O_EXCL if exclusive else 0)
    return os.open(path, flags | extra)


def device_size(fd: int) -> int:
    return os.lseek(fd, 0, os.SEEK_END)


def sector_size(fd: int) -> int:
    """The logical sector size of a block device; 512 for a regular file."""
    if not stat.S_ISBLK(os.fstat(fd).st_mode):
        return 512
    value = fcntl.ioctl(fd, _BLKSSZGET, struct.pack("i", 0))
    return int(struct.unpack("i", value)[0])


def write_all(fd: int, view: memoryview, offset: int) -> None:
    """pwrite all of `view` at `offset`; a write that makes no progress is an I/O error."""
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.EIO, f"short write at byte {offset}")
        view, offset = view[written:], offset + written


def read_all(fd: int, view: memoryview, offset: int) -> None:
    """Fill `view` from `offset`; the end of the device before it is full is an I/O error."""
    while view:
        got = os.preadv(fd, [view], offset)
        if got <= 0:
            raise OSError(errno.EIO, f"short read at byte {offset}")
        view, offset = view[got:], offset + got

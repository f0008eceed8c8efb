"""The names of a disk's GPT partitions, read from the disk itself.

The kernel's own reading of the table (sysfs PARTNAME, udev's ID_PART_ENTRY_NAME) depends on how
it was built and on udev having run; a few sectors read here do not. Only what is needed to tell
a reeeboot stick is read: the header, then the entries' names. Anything that is not a sound GPT
gives no names.
"""

from __future__ import annotations

import os
import struct

SIGNATURE = b"EFI PART"
MAX_ENTRIES = 256  # what every partitioning tool writes; more is not a stick
NAME_OFFSET, NAME_BYTES = 56, 72  # UTF-16LE, in each entry (UEFI 2.10, 5.3.3)


def partition_names(path: str) -> list[str]:
    """The names of the used GPT entries on the disk at `path` ([] if it has no GPT)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        for sector in (512, 4096):  # the header is in the disk's LBA 1, whatever its sector size
            header = os.pread(fd, 92, sector)
            if len(header) == 92 and header[:8] == SIGNATURE:
                return _names(fd, header, sector)
    except OSError:
        pass
    finally:
        os.close(fd)
    return []


def _names(fd: int, header: bytes, sector: int) -> list[str]:
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    if not 0 < count <= MAX_ENTRIES or size < NAME_OFFSET + NAME_BYTES or size > 4096:
        return []
    table = os.pread(fd, count * size, entries_lba * sector)
    names = []
    for at in range(0, len(table) - size + 1, size):
        entry = table[at : at + size]
        if entry[:16] == bytes(16):  # an unused entry: no partition type
            continue
        raw = entry[NAME_OFFSET : NAME_OFFSET + NAME_BYTES]
        names.append(raw.decode("utf-16-le", errors="replace").split("\x00", 1)[0])
    return names

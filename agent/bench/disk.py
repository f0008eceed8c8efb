"""Sequential read throughput of a disk: bounded in bytes and time, read-only, O_DIRECT.

O_DIRECT keeps the page cache out of the figure (a second run would otherwise read memory). A
device that refuses O_DIRECT is read through the cache once, and the result says so.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from agent.blockdev.buffers import AlignedBuffer
from agent.blockdev.device import is_block_device, open_device
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.inventory.model import Disk

BLOCK = 1 << 20
LIMIT_BYTES = 256 << 20
LIMIT_SECONDS = 3.0


@dataclass(frozen=True)
class DiskBenchmark:
    path: str
    serial: str | None
    model: str | None
    result: str  # "measured" or "failed"
    read_bytes_per_second: float = 0.0
    bytes_read: int = 0
    seconds: float = 0.0
    direct_io: bool = True
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _open_for_reading(path: str) -> tuple[int, bool]:
    """The device O_DIRECT where it takes it; through the cache where it refuses (EINVAL)."""
    try:
        return open_device(path, os.O_RDONLY), is_block_device(path)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False


def measure_disk(
    disk: Disk,
    *,
    limit_bytes: int = LIMIT_BYTES,
    limit_seconds: float = LIMIT_SECONDS,
    sink: EventSink = ignore_events,
) -> DiskBenchmark:
    total = min(limit_bytes, disk.size_bytes) // BLOCK * BLOCK
    try:
        fd, direct = _open_for_reading(disk.path)
    except OSError as error:
        return DiskBenchmark(disk.path, disk.serial, disk.model, "failed",
                             error=f"{disk.path}: {error.strerror or error}")
    done = 0
    started = time.perf_counter()
    try:
        with AlignedBuffer(BLOCK) as buffer:
            while done < total and time.perf_counter() - started < limit_seconds:
                read = os.preadv(fd, [buffer.view[:BLOCK]], done)
                if read <= 0:
                    break
                done += read
                if done % (32 * BLOCK) == 0:
                    elapsed = time.perf_counter() - started
                    sink(ProgressEvent(disk.path, "bench", done, total,
                                       done / elapsed if elapsed else 0.0))
    except OSError as error:
        return DiskBenchmark(disk.path, disk.serial, disk.model, "failed", bytes_read=done,
                             direct_io=direct, error=f"{disk.path}: {error.strerror or error}")
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - started
    if done == 0:
        return DiskBenchmark(disk.path, disk.serial, disk.model, "failed", direct_io=direct,
                             error=f"{disk.path}: nothing could be read")
    sink(ProgressEvent(disk.path, "done", done, total, done / elapsed))
    return DiskBenchmark(disk.path, disk.serial, disk.model, "measured", round(done / elapsed),
                         done, round(elapsed, 3), direct)

"""The overwrite engine: one pass of a keyed stream, then a full read-back verification.

Writes are large, aligned and O_DIRECT so the page cache neither slows the pass nor hides what
reached the disk; the device is opened O_EXCL so nothing can mount it while we write.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.wipe.stream import AES_BLOCK, KeyedStream

CHUNK_BYTES = 4 << 20
PAGE = mmap.PAGESIZE
PROGRESS_INTERVAL = 0.5


@dataclass
class VerifyOutcome:
    ok: bool
    bytes_read: int
    seconds: float
    mismatched_offsets: list[int] = field(default_factory=list)  # first bad sector of each chunk


def device_size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _aligned_buffer(size: int) -> mmap.mmap:
    # Anonymous maps are page aligned, which O_DIRECT needs; the slack is for update_into.
    return mmap.mmap(-1, size + PAGE)


def write_pass(
    path: str, stream: KeyedStream, *, sink: EventSink = ignore_events, chunk: int = CHUNK_BYTES
) -> tuple[int, float]:
    """Write the stream over the whole device; returns (bytes written, seconds)."""
    size = device_size(path)
    buffer = _aligned_buffer(chunk)
    view = memoryview(buffer)
    started = last_report = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_EXCL)
    try:
        offset = 0
        while offset < size:
            length = min(chunk, size - offset)
            stream.fill(offset, view, length)
            written = os.pwrite(fd, view[:length], offset)
            if written <= 0:
                raise OSError(f"short write at byte {offset}")
            offset += written
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL:
                sink(ProgressEvent(path, "write", offset, size, offset / (now - started)))
                last_report = now
        os.fsync(fd)
    finally:
        os.close(fd)
        view.release()
        buffer.close()
    return size, time.monotonic() - started


def verify_pass(
    path: str,
    stream: KeyedStream,
    *,
    sink: EventSink = ignore_events,
    chunk: int = CHUNK_BYTES,
    sector: int = 512,
) -> VerifyOutcome:
    """Read the whole device back (O_DIRECT, so from the disk, not the cache) and compare."""
    size = device_size(path)
    read_buffer = _aligned_buffer(chunk)
    read_view = memoryview(read_buffer)
    # The unmasked chunk is all zeros where the disk holds the stream; the spare 15 bytes are
    # what update_into needs and stay zero, so a full chunk compares in one memcmp.
    unmasked = bytearray(chunk + AES_BLOCK - 1)
    all_zero = bytes(len(unmasked))
    outcome = VerifyOutcome(ok=True, bytes_read=0, seconds=0.0)
    started = last_report = time.monotonic()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        offset = 0
        while offset < size:
            length = min(chunk, size - offset)
            got = os.preadv(fd, [read_view[:length]], offset)
            if got != length:
                raise OSError(f"short read at byte {offset}")
            if length < chunk:
                unmasked[:] = all_zero
            stream.unmask(offset, read_view[:length], unmasked)
            if unmasked != all_zero:
                outcome.ok = False
                outcome.mismatched_offsets.append(offset + _first_nonzero(unmasked, sector))
            offset += length
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL:
                sink(ProgressEvent(path, "verify", offset, size, offset / (now - started)))
                last_report = now
    finally:
        os.close(fd)
        read_view.release()
        read_buffer.close()
    outcome.bytes_read = size
    outcome.seconds = time.monotonic() - started
    return outcome


def _first_nonzero(data: bytearray, sector: int) -> int:
    """Offset of the first sector holding something other than the stream."""
    zero_sector = bytes(sector)
    for start in range(0, len(data), sector):
        if data[start : start + sector] != zero_sector[: len(data[start : start + sector])]:
            return start
    return 0


assert CHUNK_BYTES % PAGE == 0 and CHUNK_BYTES % AES_BLOCK == 0

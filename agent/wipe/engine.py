"""The overwrite engine: passes written over the whole device, then the last one read back.

Writes are large, aligned and O_DIRECT, several in flight, so the page cache neither slows the
pass nor hides what reached the disk; the device is opened O_EXCL so nothing can mount it while
we write. An I/O error is narrowed down to the logical sectors that refuse it; everything else is
still written, and the failing sectors are listed instead of being guessed at 4 MiB granularity.
"""

from __future__ import annotations

import errno
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.blockdev.buffers import AlignedBuffer
from agent.blockdev.device import BlockDevice, VerifyOutcome, open_device, read_all, write_all
from agent.blockdev.sweep import Tick, Workspace, chunks, sweep
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.wipe.badsectors import BadSectors
from agent.wipe.passes import OverwritePass
from agent.wipe.stream import AES, DIGEST_BYTES, PIECE, KeyedStream

CHUNK_BYTES = 4 << 20
DEPTH = 4  # requests in flight per disk
SAMPLE_SECTORS = 1000
SAMPLE_EDGE_BYTES = 1 << 20  # the first and last MiB are always read in a sample
# Errors that mean "this part of the medium refuses", worth narrowing down to the sector.
MEDIA_ERRORS = {errno.EIO, errno.EILSEQ, errno.ENODATA, errno.EREMOTEIO, errno.ENOSPC,
                errno.EBADMSG, errno.ETIMEDOUT}


class DiskVanished(OSError):
    pass


class ChunkDigests:
    """The stream's digest of every whole chunk written in this process, 8 bytes a chunk (2 MiB
    for a 1 TB disk): what the verification compares a chunk read back with, instead of making
    the stream again. Chunks written before a power cut have none and are compared in full."""

    def __init__(self, size_bytes: int, chunk: int) -> None:
        self.chunk = chunk
        self.size_bytes = size_bytes
        slots = -(-size_bytes // chunk)
        self._digests = bytearray(slots * DIGEST_BYTES)
        self._known = bytearray(slots)

    def _slot(self, offset: int, length: int) -> int | None:
        whole = offset % self.chunk == 0 and length == min(self.chunk, self.size_bytes - offset)
        return offset // self.chunk if whole else None

    def record(self, offset: int, length: int, digest: bytes | None) -> None:
        slot = self._slot(offset, length)
        if slot is not None and digest is not None:
            self._digests[slot * DIGEST_BYTES : (slot + 1) * DIGEST_BYTES] = digest
            self._known[slot] = 1

    def get(self, offset: int, length: int) -> bytes | None:
        slot = self._slot(offset, length)
        if slot is None or not self._known[slot]:
            return None
        return bytes(self._digests[slot * DIGEST_BYTES : (slot + 1) * DIGEST_BYTES])


class PassData:
    """What one pass puts on the disk: the keyed stream (of `generator`), or one byte repeated.

    A stream pass keeps the digest of each chunk it writes (`digests`), so that verifying it
    costs a read and a digest; a chunk whose digest differs, or has none, is compared with the
    stream made again, sector by sector, which gives the exact LBAs that do not hold the pass.
    """

    def __init__(self, overwrite_pass: OverwritePass, key: bytes | None, chunk: int,
                 generator: str = AES) -> None:
        self.overwrite_pass = overwrite_pass
        self._stream = KeyedStream(key, generator) if overwrite_pass.is_random else None
        self._pattern: AlignedBuffer | None = None
        self.digests: ChunkDigests | None = None
        if overwrite_pass.byte is not None:
            self._pattern = AlignedBuffer(max(chunk, PIECE))
            self._pattern.fill(overwrite_pass.byte)

    def start_digests(self, size_bytes: int, chunk: int) -> None:
        """Keep chunk digests from now on (stream passes only: a pattern is compared as fast)."""
        if self._stream is not None and (self.digests is None or self.digests.chunk != chunk
                                         or self.digests.size_bytes != size_bytes):
            self.digests = ChunkDigests(size_bytes, chunk)

    def expected(self, offset: int, length: int, workspace: Workspace) -> AlignedBuffer:
        """A buffer whose first `length` bytes are what belongs at `offset`."""
        if self._pattern is not None:
            return self._pattern
        assert self._stream is not None
        scratch = workspace.buffer("expected")
        if self.digests is None:
            self._stream.fill(offset, scratch.view, length)
        else:
            self.digests.record(offset, length,
                                self._stream.fill_with_digest(offset, scratch.view, length))
        return scratch

    @property
    def digest_name(self) -> str | None:
        return (self._stream.digest_name if self._stream is not None
                and self.digests is not None else None)

    def digest_matches(self, offset: int, got: AlignedBuffer, length: int) -> bool:
        """Whether got[:length], read from `offset`, has the digest recorded while writing
        (False when none was: the caller then compares in full)."""
        if self.digests is None or self._stream is None:
            return False
        recorded = self.digests.get(offset, length)
        return recorded is not None and self._stream.digest_of(offset, got.view, length) == recorded

    def mismatches(self, offset: int, got: AlignedBuffer, at: int, length: int, sector: int,
                   workspace: Workspace) -> list[int]:
        """Sectors of got[at, at+length), read from `offset`, that do not hold this pass's data,
        as offsets relative to `at`."""
        bad: list[int] = []
        if self._stream is not None:
            piece_buffer = workspace.buffer("piece", PIECE)
            for piece_at, size in self._stream.pieces(offset, length, piece_buffer.view):
                if not got.equals_at(at + piece_at, piece_buffer, 0, size):
                    bad.extend(piece_at + s for s in range(0, size, sector)
                               if not got.equals_at(at + piece_at + s, piece_buffer, s, sector))
            return bad
        assert self._pattern is not None
        for piece_at in range(0, length, PIECE):
            # The pattern is one byte repeated: its first piece stands for any other.
            size = min(PIECE, length - piece_at)
            if not got.equals_at(at + piece_at, self._pattern, 0, size):
                bad.extend(piece_at + s for s in range(0, size, sector)
                           if not got.equals_at(at + piece_at + s, self._pattern, 0, sector))
        return bad

    def close(self) -> None:
        if self._pattern is not None:
            self._pattern.close()


@dataclass
class PassOutcome:
    bytes_written: int
    seconds: float


def write_pass(
    disk: BlockDevice,
    data: PassData,
    bad: BadSectors,
    *,
    start: int = 0,
    cancel: threading.Event | None = None,
    sink: EventSink = ignore_events,
    phase: str = "write",
    on_checkpoint: Callable[[int], None] | None = None,
    checkpoint_seconds: float = 5.0,
    progress_seconds: float = 0.5,
    chunk: int = CHUNK_BYTES,
    depth: int = DEPTH,
    keep_digests: bool = True,
) -> PassOutcome:
    """Write the pass over [start, size); unwritable sectors go into `bad`, the rest is written.

    `on_checkpoint(offset)` is called every `checkpoint_seconds` once everything below `offset`
    is written and flushed, so a journal can resume from there after a power cut.
    `keep_digests`: keep the chunk digests a full verification of this pass compares; a pass
    nobody reads back in full is spared them (ChaCha20's CRC costs a fifth of its time).
    """
    cancel = cancel or threading.Event()
    if keep_digests:
        data.start_digests(disk.size_bytes, chunk)
    fd = open_device(disk.path, os.O_WRONLY, exclusive=True)
    last_checkpoint = [time.monotonic()]

    def write_chunk(offset: int, length: int, workspace: Workspace) -> None:
        view = data.expected(offset, length, workspace).view[:length]
        try:
            write_all(fd, view, offset)
        except OSError as error:
            _raise_unless_media_error(error, disk)
            _narrow_write(fd, view, offset, disk, bad)

    def tick(progress: Tick) -> None:
        now = time.monotonic()
        if on_checkpoint and now - last_checkpoint[0] >= checkpoint_seconds:
            os.fdatasync(fd)
            on_checkpoint(progress.low_water)
            last_checkpoint[0] = now
        rate = progress.done_bytes / progress.seconds if progress.seconds else 0.0
        sink(ProgressEvent(disk.path, phase, start + progress.done_bytes, disk.size_bytes, rate))

    try:
        done = sweep(chunks(start, disk.size_bytes, chunk), write_chunk, chunk=chunk,
                     depth=depth, cancel=cancel, on_tick=tick, tick_seconds=progress_seconds,
                     name=f"write {disk.path}")
        os.fsync(fd)
    finally:
        os.close(fd)
    if on_checkpoint:
        on_checkpoint(disk.size_bytes)
    return PassOutcome(done.done_bytes, done.seconds)


def verify(
    disk: BlockDevice,
    data: PassData,
    bad: BadSectors,
    *,
    mode: str = "full",
    cancel: threading.Event | None = None,
    sink: EventSink = ignore_events,
    chunk: int = CHUNK_BYTES,
    depth: int = DEPTH,
    sample_sectors: int = SAMPLE_SECTORS,
) -> VerifyOutcome:
    """Read the device back (O_DIRECT: from the disk, not the cache) and compare with `data`.

    Sectors already known to be bad are expected to differ and are not counted again; sectors
    that cannot be read are added to `bad`.
    """
    cancel = cancel or threading.Event()
    regions = (chunks(0, disk.size_bytes, chunk) if mode == "full"
               else sample_regions(disk, sample_sectors))
    mismatched = BadSectors(disk.sector, limit=1 << 62)
    by_digest, lock = [0], threading.Lock()
    fd = open_device(disk.path, os.O_RDONLY)

    def verify_chunk(offset: int, length: int, workspace: Workspace) -> None:
        got = workspace.buffer("read")
        try:
            read_all(fd, got.view[:length], offset)
        except OSError as error:
            _raise_unless_media_error(error, disk)
            for start, size in _narrow_read(fd, got, offset, length, disk, bad):
                compare(start, size, got, start - offset, workspace)
            return
        if mode == "full" and data.digest_matches(offset, got, length):
            with lock:
                by_digest[0] += length
            return
        compare(offset, length, got, 0, workspace)

    def compare(offset: int, length: int, got: AlignedBuffer, at: int,
                workspace: Workspace) -> None:
        for sector_at in data.mismatches(offset, got, at, length, disk.sector, workspace):
            position = offset + sector_at
            if not bad.covers(position, disk.sector):
                mismatched.add(position, disk.sector)

    total = sum(length for _, length in regions)

    def tick(progress: Tick) -> None:
        rate = progress.done_bytes / progress.seconds if progress.seconds else 0.0
        sink(ProgressEvent(disk.path, "verify", progress.done_bytes, total, rate))

    try:
        done = sweep(regions, verify_chunk, chunk=chunk, depth=depth if mode == "full" else 1,
                     cancel=cancel, on_tick=tick, name=f"verify {disk.path}")
    finally:
        os.close(fd)
    ranges = mismatched.lba_ranges()
    return VerifyOutcome(not ranges, done.done_bytes, done.seconds, mode, ranges[:100],
                         data.digest_name if by_digest[0] else None, by_digest[0])


def region_holds(disk: BlockDevice, data: PassData, offset: int, length: int) -> bool:
    """Whether [offset, offset+length) reads back as `data` (one read; any error means no)."""
    workspace = Workspace(max(length, disk.sector))
    fd = open_device(disk.path, os.O_RDONLY)
    try:
        got = workspace.buffer("read")
        read_all(fd, got.view[:length], offset)
        return not data.mismatches(offset, got, 0, length, disk.sector, workspace)
    except OSError:
        return False
    finally:
        os.close(fd)
        workspace.close()


def sample_regions(disk: BlockDevice, sectors: int, *,
                   seed: int | None = None) -> list[tuple[int, int]]:
    """The first and last MiB, and `sectors` sectors spread at random over the whole LBA range."""
    edge = min(SAMPLE_EDGE_BYTES, disk.size_bytes) // disk.sector * disk.sector
    regions = {(0, edge), (disk.size_bytes - edge, edge)}
    total = disk.size_bytes // disk.sector
    chooser = random.Random(seed)
    for _ in range(min(sectors, total)):
        regions.add((chooser.randrange(total) * disk.sector, disk.sector))
    return sorted(regions)


def _raise_unless_media_error(error: OSError, disk: BlockDevice) -> None:
    if error.errno in (errno.ENODEV, errno.ENXIO) or not disk.sysfs.exists():
        raise DiskVanished(errno.ENODEV, f"{disk.path} disappeared") from error
    if error.errno not in MEDIA_ERRORS:
        raise error


def _narrow_write(fd: int, view: memoryview, offset: int, disk: BlockDevice,
                  bad: BadSectors) -> None:
    """The chunk at `offset` failed: halve it until each failing piece is one logical sector."""
    length = len(view)
    if length <= disk.sector:
        bad.add(offset, length)
        return
    half = max(disk.sector, length // 2 // disk.sector * disk.sector)
    for piece_at in (0, half):
        piece = view[piece_at:] if piece_at else view[:half]
        try:
            write_all(fd, piece, offset + piece_at)
        except OSError as error:
            _raise_unless_media_error(error, disk)
            _narrow_write(fd, piece, offset + piece_at, disk, bad)


def _narrow_read(fd: int, got: AlignedBuffer, offset: int, length: int, disk: BlockDevice,
                 bad: BadSectors) -> list[tuple[int, int]]:
    """Read what can be read of [offset, offset+length); returns the readable pieces."""
    readable: list[tuple[int, int]] = []

    def narrow(start: int, size: int) -> None:
        at = start - offset
        try:
            read_all(fd, got.view[at : at + size], start)
            readable.append((start, size))
            return
        except OSError as error:
            _raise_unless_media_error(error, disk)
        if size <= disk.sector:
            bad.add(start, size)
            return
        half = max(disk.sector, size // 2 // disk.sector * disk.sector)
        narrow(start, half)
        narrow(start + half, size - half)

    if length <= disk.sector:
        bad.add(offset, length)
        return []
    half = max(disk.sector, length // 2 // disk.sector * disk.sector)
    narrow(offset, half)
    narrow(offset + half, length - half)
    return readable

"""Writing an OS image to a disk: only the mapped ranges, checked as they stream, then read back.

A producer thread decompresses into page-aligned buffers (an image made of independent zstd
frames, as `agent.install.pack` makes them, is decompressed by several threads, and its frames
that hold only holes are never read); the calling thread checks each range's checksum in image
order; a small pool writes with O_DIRECT (O_EXCL, so nothing mounts the disk meanwhile), several
writes in flight. zstd, sha256 and the writes all release the GIL, so the work overlaps.

A half-written disk must never boot or pass for installed. So the disk's first and last MiB
(where partition tables live) are zeroed before anything else, the image's first MiB is held back
and written only after everything else reached the disk, and any failure (corrupt or short
stream, checksum mismatch, I/O error, cancellation) zeroes those edges again before raising.

Without a block map the whole image is written: on a disk that held other data (random, after an
erasure) the holes of an image cannot be skipped safely unless the map says they do not matter.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import os
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from agent.blockdev.buffers import PAGE, AlignedBuffer
from agent.blockdev.device import (
    BlockDevice,
    VerifyOutcome,
    device_size,
    open_device,
    read_all,
    sector_size,
    write_all,
)
from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import _
from agent.install.errors import (
    ChecksumMismatch,
    CorruptImage,
    ImageError,
    InstallCancelled,
    NoPartitionTable,
    TargetTooSmall,
    TruncatedImage,
    UnsupportedImage,
    WriteFailed,
)
from agent.install.image import OsImage
from agent.install.streams import (
    DECOMPRESSION_ERRORS,
    RawStream,
    ZstdFrame,
    decompress_frame,
    open_raw,
    read_fully,
    read_head,
    skip,
    zstd_layout,
)

CHUNK_BYTES = 4 << 20
EDGE_BYTES = 1 << 20  # partition tables live in the first and last MiB
PROGRESS_SECONDS = 0.5
DECOMPRESSORS = 2  # threads decompressing independent zstd frames
MAX_FRAME_BYTES = 64 << 20
WRITERS = 4  # writes in flight: a disk (or its queue) is kept busy while the next chunk comes
BUFFERS = WRITERS + 2  # chunks between the decompressor and the disk
_HEAD_BYTES = 8192 + 512


@dataclass(frozen=True)
class WriteOutcome:
    target: str
    bytes_written: int  # image bytes put on the disk (the mapped ranges, or the whole image)
    image_size: int
    seconds: float
    ranges: int  # checked ranges (1 without a block map)
    checksum_type: str
    image_sha256: str | None  # the whole raw image's, when written without a block map


@dataclass(frozen=True)
class _Piece:
    """Bytes [start, end) of the image, written and checked as one range (end None: to EOF)."""

    start: int
    end: int | None
    checksum: str | None


@dataclass
class _Filled:
    offset: int
    length: int
    buffer: AlignedBuffer
    piece: int
    last: bool  # the piece's final chunk
    at: int = 0  # where the bytes start in the buffer
    release: bool = True  # the buffer's last use: hand it back afterwards


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_Item = _Filled | _Failed | None


def partition_table_kind(head: bytes) -> str | None:
    """"gpt" or "mbr" when the first bytes of a disk image hold a partition table, else None."""
    for sector in (512, 4096):
        if head[sector:sector + 8] == b"EFI PART":
            return "gpt"
    if len(head) < 512 or head[510:512] != b"\x55\xaa":
        return None
    # A file system's boot sector also ends in 55 AA: tell them apart by their own marks.
    if head[54:59] == b"FAT12" or head[54:59] == b"FAT16" or head[82:87] == b"FAT32":
        return None
    if head[3:11] in (b"NTFS    ", b"EXFAT   "):
        return None
    entries = [head[446 + 16 * n: 462 + 16 * n] for n in range(4)]
    if any(entry[0] not in (0x00, 0x80) for entry in entries):
        return None
    used = [e for e in entries if e[4] != 0 and struct.unpack_from("<I", e, 12)[0] > 0]
    return "mbr" if used else None


@dataclass(frozen=True)
class ImageCheck:
    size: int | None  # the raw image's, when known
    frames: list[tuple[int, int, ZstdFrame]] | None  # independent zstd frames, by raw offset


def check_image(image: OsImage, target: str) -> ImageCheck:
    """The checks made before the disk is touched: a complete stream of the announced size, a
    partition table, and a disk large enough."""
    if image.path is None:
        raise UnsupportedImage(image.location, _("download it first"))
    path = str(image.path)
    size = image.image_size
    frames = None
    if image.compression == "zst":
        layout = zstd_layout(path)
        frames = layout.raw_offsets()
        if layout.content_size is not None:
            if size is not None and layout.content_size != size:
                raise CorruptImage(path, _("it holds {got} bytes, its block map or manifest "
                                           "says {expected}").format(got=layout.content_size,
                                                                     expected=size))
            size = layout.content_size
    head = read_head(path, image.compression, _HEAD_BYTES)
    if partition_table_kind(head) is None:
        raise NoPartitionTable(path)
    available = BlockDevice.at(target).size_bytes
    if size is not None and size > available:
        raise TargetTooSmall(target, available, size)
    return ImageCheck(size, frames)


def _framed(frames: list[tuple[int, int, ZstdFrame]] | None) -> bool:
    """Whether the frames can be decompressed apart, in parallel, straight into aligned buffers:
    several, each of a whole number of pages and not too large."""
    if frames is None or len(frames) < 2:
        return False
    sizes = [end - start for start, end, _ in frames]
    return max(sizes) <= MAX_FRAME_BYTES and all(size % PAGE == 0 for size in sizes[:-1])


def _plan(image: OsImage, size: int | None) -> list[_Piece]:
    if image.bmap is not None:
        return [_Piece(start, end, checksum) for start, end, checksum in image.bmap.byte_ranges()]
    expected = image.manifest.sha256 if image.manifest is not None else None
    return [_Piece(0, size, expected)]


def write_image(image: OsImage, target: str, *, progress: EventSink = ignore_events,
                cancel: threading.Event | None = None, chunk: int = CHUNK_BYTES) -> WriteOutcome:
    """Write `image` to the block device `target`; raises an `ImageError` after leaving the disk
    without a partition table if anything goes wrong."""
    checked = check_image(image, target)
    size = checked.size
    assert image.path is not None
    cancel = cancel or threading.Event()
    checksum_type = image.bmap.checksum_type if image.bmap is not None else "sha256"
    pieces = _plan(image, size)
    total = image.bmap.mapped_size if image.bmap is not None else (size or 0)
    started = time.monotonic()
    try:
        fd = open_device(target, os.O_WRONLY, exclusive=True)
    except OSError as error:
        raise WriteFailed(target, os.strerror(error.errno or errno.EIO)) from error
    try:
        _zero_edges(fd, target)
        written, image_sha256, end = _stream_and_write(
            image, fd, target, pieces, checksum_type, total, progress, cancel, chunk,
            checked.frames if _framed(checked.frames) else None)
    except BaseException as error:
        os.close(fd)
        make_unbootable(target)
        converted = _as_image_error(error, image, target)
        if converted is error:
            raise
        raise converted from error
    os.close(fd)
    return WriteOutcome(target, written, end, time.monotonic() - started, len(pieces),
                        checksum_type, image_sha256)


def _as_image_error(error: BaseException, image: OsImage, target: str) -> BaseException:
    if isinstance(error, ImageError):
        return error
    if isinstance(error, EOFError):
        return TruncatedImage(image.location)
    if isinstance(error, DECOMPRESSION_ERRORS):
        return CorruptImage(image.location, str(error) or type(error).__name__)
    if isinstance(error, OSError):
        return WriteFailed(target, error.strerror or str(error))
    return error


def _stream_and_write(image: OsImage, fd: int, target: str, pieces: list[_Piece],
                      checksum_type: str, total: int, progress: EventSink,
                      cancel: threading.Event, chunk: int,
                      frames: list[tuple[int, int, ZstdFrame]] | None,
                      ) -> tuple[int, str | None, int]:
    assert image.path is not None
    sector = sector_size(fd)
    available = device_size(fd)
    held = AlignedBuffer(EDGE_BYTES)
    held.fill(0)
    held_spans: list[tuple[int, int]] = []
    stream: RawStream | None = None
    if frames is not None:
        largest = max(end - start for start, end, _ in frames)
        workers = max(1, min(DECOMPRESSORS, os.cpu_count() or 1))
        producer = _Producer(_decompressed_frames(str(image.path), frames, pieces, workers),
                             -(-largest // PAGE) * PAGE, workers + 1 + WRITERS)
    else:
        stream = open_raw(str(image.path), image.compression)
        producer = _Producer(_decompressed(stream, pieces, chunk, image.location), chunk)
    writes = _Writes(fd, sector, WRITERS, producer.release)
    written = 0
    image_end = 0
    whole_hash: str | None = None
    ticker = _Ticker(progress, target, "write", total)
    try:
        digest = _new_hash(checksum_type)
        for item in producer.items():
            if cancel.is_set():
                raise InstallCancelled(target)
            piece = pieces[item.piece]
            digest.update(item.buffer.view[item.at:item.at + item.length])
            end = item.offset + item.length
            if end > available:
                raise TargetTooSmall(target, available, end)
            kept = _hold_back(item.buffer.view, item.at, item.offset, item.length, held,
                              held_spans)
            writes.submit(item.buffer, item.at + kept, item.offset + kept, item.length - kept,
                          last_use=item.release)
            written += item.length
            image_end = max(image_end, end)
            ticker.tick(written)
            if item.last:
                got = digest.hexdigest()
                if piece.checksum is not None and got != piece.checksum:
                    raise ChecksumMismatch(image.location, piece.start, end)
                if image.bmap is None:
                    whole_hash = got
                digest = _new_hash(checksum_type)
        if written == 0 and pieces:
            raise TruncatedImage(image.location, 0, pieces[-1].end or 1)
        writes.finish()
        os.fdatasync(fd)
        # Everything else is on the disk: now the partition tables, which make it a system.
        for start, length in held_spans:
            _write_aligned(fd, held.view, start, length, sector, start)
        os.fsync(fd)
        ticker.tick(written, force=True)
    finally:
        writes.close()
        producer.stop()
        if stream is not None:
            stream.close()
        held.close()
    return written, whole_hash, image_end


class _Ticker:
    def __init__(self, sink: EventSink, target: str, phase: str, total: int) -> None:
        self._sink, self._target, self._phase, self._total = sink, target, phase, total
        self._started = time.monotonic()
        self._last = 0.0

    def tick(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_SECONDS:
            self._last = now
            seconds = now - self._started
            self._sink(ProgressEvent(self._target, self._phase, done,
                                     max(self._total, done), done / seconds if seconds else 0.0))


def _new_hash(kind: str) -> hashlib._Hash:
    return hashlib.new(kind)


def _hold_back(view: memoryview, at: int, offset: int, length: int, held: AlignedBuffer,
               held_spans: list[tuple[int, int]]) -> int:
    """Copy the part of view[at:at+length] (image bytes from `offset`) that falls in the first
    MiB into `held`, to be written last; returns how many bytes that was."""
    if offset >= EDGE_BYTES:
        return 0
    kept = min(length, EDGE_BYTES - offset)
    held.view[offset:offset + kept] = view[at:at + kept]
    held_spans.append((offset, kept))
    return kept


class _Writes:
    """Writes in flight on their own threads, so checking the next chunk does not wait for the
    disk. A buffer goes back to the producer once its last use was submitted and every write
    from it is done."""

    def __init__(self, fd: int, sector: int, depth: int,
                 release: Callable[[AlignedBuffer], None]) -> None:
        self._fd, self._sector, self._release = fd, sector, release
        self._pool = ThreadPoolExecutor(depth, thread_name_prefix="image write")
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}
        self._last_used: set[int] = set()
        self._futures: deque[Future[None]] = deque()

    def submit(self, buffer: AlignedBuffer, at: int, offset: int, length: int, *,
               last_use: bool) -> None:
        key = id(buffer)
        with self._lock:
            if last_use:
                self._last_used.add(key)
            if length <= 0:
                self._give_back_if_done(buffer)
                return
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        future = self._pool.submit(_write_aligned, self._fd, buffer.view, offset, length,
                                   self._sector, at)
        future.add_done_callback(lambda _future: self._finished(buffer))
        self._futures.append(future)
        while self._futures and self._futures[0].done():
            self._futures.popleft().result()  # a failed write stops everything now

    def _finished(self, buffer: AlignedBuffer) -> None:
        with self._lock:
            self._in_flight[id(buffer)] -= 1
            self._give_back_if_done(buffer)

    def _give_back_if_done(self, buffer: AlignedBuffer) -> None:
        key = id(buffer)
        if key in self._last_used and not self._in_flight.get(key):
            self._last_used.discard(key)
            self._in_flight.pop(key, None)
            self._release(buffer)

    def finish(self) -> None:
        while self._futures:
            self._futures.popleft().result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _write_aligned(fd: int, view: memoryview, offset: int, length: int, sector: int,
                   at: int) -> None:
    """pwrite view[at:at+length] at `offset`; an image ending mid-sector is padded with zeros
    (the buffers always have room: they are whole pages)."""
    padded = -(-length // sector) * sector
    if padded != length:
        view[at + length:at + padded] = bytes(padded - length)
    write_all(fd, view[at:at + padded], offset)


def _zero_edges(fd: int, target: str) -> None:
    size = device_size(fd)
    edge = min(EDGE_BYTES, size)
    with AlignedBuffer(edge) as zeros:
        zeros.fill(0)
        for offset in sorted({0, max(0, size - edge)}):
            _write_aligned(fd, zeros.view, offset, edge, 1, 0)
    os.fdatasync(fd)
    del target


def make_unbootable(target: str) -> None:
    """Zero the first and last MiB (the partition tables): a half-written system never boots.
    Best effort: the disk may be the reason things failed."""
    try:
        fd = open_device(target, os.O_WRONLY, exclusive=True)
    except OSError:
        return
    try:
        _zero_edges(fd, target)
    except OSError:
        pass
    finally:
        os.close(fd)



Fill = Callable[[Callable[[], AlignedBuffer]], Iterator[_Filled]]


class _Stopped(Exception):
    pass


class _Producer:
    """Runs `fill` in its own thread: it takes free aligned buffers, fills them and hands them
    over; `release` gives them back, so at most BUFFERS chunks are ever in memory."""

    def __init__(self, fill: Fill, chunk: int, count: int = BUFFERS) -> None:
        self._stopping = threading.Event()
        self._buffers = [AlignedBuffer(chunk) for _ in range(count)]
        self._free: queue.Queue[AlignedBuffer] = queue.Queue()
        for buffer in self._buffers:
            self._free.put(buffer)
        self._filled: queue.Queue[_Item] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(fill,), name="image producer",
                                        daemon=True)
        self._thread.start()

    def _take(self) -> AlignedBuffer:
        while True:
            if self._stopping.is_set():
                raise _Stopped()
            try:
                return self._free.get(timeout=0.1)
            except queue.Empty:
                continue

    def _run(self, fill: Fill) -> None:
        try:
            for item in fill(self._take):
                self._filled.put(item)
            self._filled.put(None)
        except _Stopped:
            pass
        except BaseException as error:
            self._filled.put(_Failed(error))

    def items(self) -> Iterator[_Filled]:
        while True:
            item = self._filled.get()
            if item is None:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def release(self, buffer: AlignedBuffer) -> None:
        self._free.put(buffer)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        for buffer in self._buffers:
            buffer.close()


def _decompressed(stream: RawStream, pieces: list[_Piece], chunk: int, where: str) -> Fill:
    """The producer's work for writing: each piece's bytes in chunks, passing over the holes."""

    def fill(take: Callable[[], AlignedBuffer]) -> Iterator[_Filled]:
        scratch = AlignedBuffer(chunk)
        try:
            position = 0
            for index, piece in enumerate(pieces):
                if piece.start > position:
                    passed = skip(stream, piece.start - position, scratch.view)
                    if passed < piece.start - position:
                        raise TruncatedImage(where, position + passed, pieces[-1].end)
                    position = piece.start
                while True:
                    want = chunk if piece.end is None else min(chunk, piece.end - position)
                    buffer = take()
                    got = read_fully(stream, buffer.view[:want])
                    if piece.end is not None and got < want:
                        raise TruncatedImage(where, position + got, pieces[-1].end)
                    last = got < want if piece.end is None else position + got == piece.end
                    yield _Filled(position, got, buffer, index, last)
                    position += got
                    if last:
                        break
        finally:
            scratch.close()

    return fill


def _decompressed_frames(path: str, frames: list[tuple[int, int, ZstdFrame]],
                        pieces: list[_Piece], workers: int) -> Fill:
    """The producer's work for an image made of independent zstd frames: only the frames that
    hold mapped data are decompressed (frames inside holes are never read), several at once,
    each straight into its own aligned buffer; their mapped parts come out in image order."""
    ends = [p.end if p.end is not None else 1 << 62 for p in pieces]

    def overlapping(start: int, end: int) -> Iterator[tuple[int, _Piece]]:
        index = bisect.bisect_right(ends, start)
        while index < len(pieces) and pieces[index].start < end:
            yield index, pieces[index]
            index += 1

    needed = [(start, end, frame) for start, end, frame in frames
              if next(overlapping(start, end), None) is not None]

    def fill(take: Callable[[], AlignedBuffer]) -> Iterator[_Filled]:
        with open(path, "rb") as handle, ThreadPoolExecutor(workers) as pool:
            fd = handle.fileno()
            pending: deque[tuple[int, int, AlignedBuffer, Future[int]]] = deque()
            upcoming = iter(needed)

            def submit() -> None:
                for start, end, frame in upcoming:
                    buffer = take()
                    view = buffer.view[:end - start]
                    pending.append((start, end, buffer,
                                    pool.submit(decompress_frame, fd, frame, view)))
                    return

            for _ in range(workers + 1):
                submit()
            while pending:
                start, end, buffer, future = pending.popleft()
                if future.result() != end - start:
                    raise CorruptImage(path, _("a zstd frame is shorter than it says"))
                segments = [(index, max(p.start, start), min(ends[index], end))
                            for index, p in overlapping(start, end)]
                for number, (index, low, high) in enumerate(segments):
                    yield _Filled(low, high - low, buffer, index, high == ends[index],
                                  at=low - start, release=number == len(segments) - 1)
                submit()

    return fill


def _read_back(fd: int, pieces: list[_Piece], chunk: int, sector: int) -> Fill:
    """The producer's work for verification: each range read from the disk in chunks."""

    def fill(take: Callable[[], AlignedBuffer]) -> Iterator[_Filled]:
        for index, piece in enumerate(pieces):
            assert piece.end is not None
            position = piece.start
            while position < piece.end:
                length = min(chunk, piece.end - position)
                padded = -(-length // sector) * sector
                buffer = take()
                read_all(fd, buffer.view[:padded], position)
                yield _Filled(position, length, buffer, index, position + length == piece.end)
                position += length

    return fill


def verify_written(image: OsImage, target: str, *, written: WriteOutcome | None = None,
                   progress: EventSink = ignore_events, cancel: threading.Event | None = None,
                   chunk: int = CHUNK_BYTES) -> VerifyOutcome:
    """Read the written ranges back from the disk (O_DIRECT: the disk, not the cache) and check
    their checksums; the whole image's sha256 without a block map. A mismatch leaves the disk
    without a partition table and raises `ChecksumMismatch` (on_disk=True)."""
    cancel = cancel or threading.Event()
    if image.bmap is not None:
        pieces = [_Piece(start, end, checksum)
                  for start, end, checksum in image.bmap.byte_ranges()]
        checksum_type = image.bmap.checksum_type
    else:
        size = written.image_size if written is not None else image.image_size
        expected = (image.manifest.sha256 if image.manifest is not None
                    else written.image_sha256 if written is not None else None)
        if size is None or expected is None:
            raise UnsupportedImage(image.location, _("there is no checksum to verify against"))
        pieces, checksum_type = [_Piece(0, size, expected)], "sha256"
    total = sum((p.end or 0) - p.start for p in pieces)
    started = time.monotonic()
    fd = open_device(target, os.O_RDONLY, exclusive=True)
    ticker = _Ticker(progress, target, "verify", total)
    producer = _Producer(_read_back(fd, pieces, chunk, sector_size(fd)), chunk)
    checked = 0
    try:
        digest = _new_hash(checksum_type)
        for item in producer.items():
            if cancel.is_set():
                raise InstallCancelled(target)
            digest.update(item.buffer.view[:item.length])
            producer.release(item.buffer)
            checked += item.length
            ticker.tick(checked)
            if item.last:
                piece = pieces[item.piece]
                if digest.hexdigest() != piece.checksum:
                    raise ChecksumMismatch(target, piece.start, piece.end or 0, on_disk=True)
                digest = _new_hash(checksum_type)
        ticker.tick(checked, force=True)
    except BaseException as error:
        producer.stop()
        os.close(fd)
        make_unbootable(target)
        if isinstance(error, OSError):
            raise WriteFailed(target, error.strerror or str(error)) from error
        raise
    producer.stop()
    os.close(fd)
    return VerifyOutcome(True, checked, time.monotonic() - started)

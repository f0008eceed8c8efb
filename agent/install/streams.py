"""The raw bytes of an image, decompressed as they stream: zstd, xz, gzip or none.

zstd goes through the `zstandard` package (its C decompressor releases the GIL, so it runs beside
the checksum and the writes); xz and gzip through the standard library. A zstd stream that simply
stops looks like a clean end to the decompressor, so `zstd_layout` walks the frames' block headers
first (cheap: a few bytes per 128 KiB block) to find truncation and the content size before
anything is written.
"""

from __future__ import annotations

import gzip
import lzma
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import zstandard

from agent.i18n import _
from agent.install.errors import CorruptImage, TruncatedImage

DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    zstandard.ZstdError, lzma.LZMAError, zlib.error, gzip.BadGzipFile, EOFError)
_ZSTD_MAGIC = 0xFD2FB528
_READ_SIZE = 1 << 20


class RawStream(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def close(self) -> None: ...


class _Plain:
    """An uncompressed image: holes are skipped by seeking, not read."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()

    def readinto(self, buffer: memoryview) -> int:
        return self._file.readinto(buffer) or 0

    def skip(self, count: int) -> None:
        self._file.seek(count, os.SEEK_CUR)

    def close(self) -> None:
        self._file.close()


class _Wrapped:
    def __init__(self, reader: RawStream, raw: BinaryIO | None = None) -> None:
        self._reader = reader
        self._raw = raw

    def readinto(self, buffer: memoryview) -> int:
        return self._reader.readinto(buffer) or 0

    def close(self) -> None:
        self._reader.close()
        if self._raw is not None:
            self._raw.close()


def open_raw(path: str, compression: str) -> RawStream:
    """The decompressed bytes of `path`, read with `readinto`."""
    if compression == "none":
        return _Plain(path)
    if compression == "zst":
        raw = open(path, "rb")  # noqa: SIM115 - closed with the reader
        reader = zstandard.ZstdDecompressor().stream_reader(
            raw, read_size=_READ_SIZE, read_across_frames=True, closefd=False)
        return _Wrapped(reader, raw)
    if compression == "xz":
        return _Wrapped(lzma.open(path, "rb"))
    if compression == "gz":
        return _Wrapped(gzip.open(path, "rb"))
    raise ValueError(compression)


def skip(stream: RawStream, count: int, scratch: memoryview) -> int:
    """Pass over `count` bytes of the stream (a hole); returns how many there were."""
    if isinstance(stream, _Plain):
        stream.skip(count)
        return count
    passed = 0
    while passed < count:
        got = stream.readinto(scratch[: min(len(scratch), count - passed)])
        if not got:
            break
        passed += got
    return passed


def read_head(path: str, compression: str, size: int) -> bytes:
    """The first `size` decompressed bytes (fewer if the image is shorter)."""
    stream = open_raw(path, compression)
    try:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            n = stream.readinto(view[got:])
            if not n:
                break
            got += n
        return bytes(buffer[:got])
    except DECOMPRESSION_ERRORS as error:
        raise CorruptImage(path, str(error)) from error
    finally:
        stream.close()


@dataclass(frozen=True)
class ZstdFrame:
    start: int  # in the compressed file
    end: int
    content_size: int | None  # None when the frame does not record its size


@dataclass(frozen=True)
class ZstdLayout:
    frames: tuple[ZstdFrame, ...]

    @property
    def content_size(self) -> int | None:
        sizes = [frame.content_size for frame in self.frames]
        return None if None in sizes else sum(s for s in sizes if s is not None)

    def raw_offsets(self) -> list[tuple[int, int, ZstdFrame]] | None:
        """(raw start, raw end, frame) for every frame, when each records its size."""
        placed = []
        at = 0
        for frame in self.frames:
            if frame.content_size is None:
                return None
            placed.append((at, at + frame.content_size, frame))
            at += frame.content_size
        return placed


def zstd_layout(path: str) -> ZstdLayout:
    """Walk a zstd file's frames and blocks without decompressing: a file cut short raises
    `TruncatedImage`, an impossible header `CorruptImage`."""
    size = os.path.getsize(path)
    frames: list[ZstdFrame] = []
    if size == 0:
        raise CorruptImage(path, _("no zstd frame"))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = 0
        while at < size:
            header = data[at:at + 18]
            if len(header) < 8:
                raise TruncatedImage(path)
            magic = struct.unpack_from("<I", header)[0]
            if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame
                at += 8 + struct.unpack_from("<I", header, 4)[0]
                continue
            if magic != _ZSTD_MAGIC:
                raise CorruptImage(path, _("no zstd frame at byte {at}").format(at=at))
            frame_start = at
            descriptor = header[4]
            fcs_flag, single, has_checksum, dict_flag = (
                descriptor >> 6, descriptor >> 5 & 1, descriptor >> 2 & 1, descriptor & 3)
            position = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
            fcs_size = (1 if single else 0, 2, 4, 8)[fcs_flag]
            frame_size: int | None = None
            if fcs_size:
                field = header[position:position + fcs_size]
                frame_size = int.from_bytes(field, "little") + (256 if fcs_size == 2 else 0)
            at += position + fcs_size
            while True:
                block = data[at:at + 3]
                if len(block) < 3:
                    raise TruncatedImage(path)
                value = int.from_bytes(block, "little")
                last, kind, block_size = value & 1, value >> 1 & 3, value >> 3
                if kind == 3:
                    raise CorruptImage(path, _("a bad zstd block at byte {at}").format(at=at))
                at += 3 + (1 if kind == 1 else block_size)
                if at > size:
                    raise TruncatedImage(path, size, at)
                if last:
                    break
            at += 4 if has_checksum else 0
            if at > size:
                raise TruncatedImage(path, size, at)
            frames.append(ZstdFrame(frame_start, at, frame_size))
    if not frames:
        raise CorruptImage(path, _("no zstd frame"))
    return ZstdLayout(tuple(frames))


def decompress_frame(fd: int, frame: ZstdFrame, into: memoryview) -> int:
    """One independent frame, decompressed straight into `into` (its content size long)."""
    data = os.pread(fd, frame.end - frame.start, frame.start)
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_size=len(data) or 1)
    return read_fully(reader, into)


def read_fully(stream: RawStream, view: memoryview) -> int:
    """Fills `view` from `stream` until it is full or the stream ends; the bytes read."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got

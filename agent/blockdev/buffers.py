"""Page-aligned buffers for O_DIRECT, and a comparison that lets other threads run meanwhile.

`bytes == bytes` holds the GIL for the whole memcmp; libc's memcmp called through ctypes releases
it, so one disk's verification does not stall the others' writes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_libc.memcmp.restype = ctypes.c_int
_libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
_libc.memset.restype = ctypes.c_void_p


class AlignedBuffer:
    """`size` usable bytes, page aligned, with 16 spare bytes for the cipher's `update_into`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._map = mmap.mmap(-1, size + PAGE)
        self._anchor = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._anchor)
        self.view = memoryview(self._map)

    def fill(self, byte: int) -> None:
        _libc.memset(self.address, byte, self.size + PAGE)

    def equals_at(self, at: int, other: AlignedBuffer, other_at: int, length: int) -> bool:
        if at + length > self.size or other_at + length > other.size:
            raise ValueError("comparison past the end of a buffer")
        return _libc.memcmp(self.address + at, other.address + other_at, length) == 0

    def close(self) -> None:
        del self._anchor
        try:
            self.view.release()
            self._map.close()
        except BufferError:
            pass  # a slice still lives in an exception's traceback; the map goes with it

    def __enter__(self) -> AlignedBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""A keyed pseudo-random stream: AES in counter mode, addressable by byte offset.

The block counter is the offset divided by 16, so any chunk of the disk can be regenerated on its
own: the verifier reads a chunk back and recomputes exactly what should be there.

New keys are 128-bit: the stream only has to be unpredictable to the drive (so no controller can
compress or deduplicate it), not to keep a secret, and AES-128's ten rounds make the write and the
verification about a fifth cheaper than AES-256's fourteen. 256-bit keys are still accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_BLOCK = 16
KEY_BYTES = 16
PIECE = 256 << 10  # fits a core's L2 cache
_ZEROS = memoryview(bytes(PIECE))


class KeyedStream:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else os.urandom(KEY_BYTES)
        if len(self.key) not in (16, 32):
            raise ValueError("AES keys are 16 or 32 bytes")

    def fill(self, offset: int, out: memoryview, length: int) -> None:
        """Write the stream's bytes [offset, offset+length) into `out` (len >= length + 15)."""
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        if len(out) < length + AES_BLOCK - 1:
            raise ValueError("the output needs 15 spare bytes after `length`")
        counter = (offset // AES_BLOCK).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self.key), modes.CTR(counter)).encryptor()
        # Encrypting a small block of zeros again and again keeps the input in the CPU's cache,
        # so memory only carries the output: about a third faster than one 4 MiB call.
        for at in range(0, length, PIECE):
            piece = min(PIECE, length - at)
            encryptor.update_into(_ZEROS[:piece], out[at : at + piece + AES_BLOCK - 1])

    def pieces(self, offset: int, length: int, scratch: memoryview) -> Iterator[int]:
        """The stream's bytes [offset, offset+length), one cache-sized piece at a time: each
        piece is generated into `scratch` (PIECE + 15 bytes), then its start (relative to
        `offset`) is yielded for the caller to compare while the piece is still in the cache.

        Comparing against a piece that never leaves the CPU's cache, instead of unmasking the
        data read from the disk in place, spares memory a write-back of every byte verified.
        """
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        counter = (offset // AES_BLOCK).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self.key), modes.CTR(counter)).encryptor()
        for at in range(0, length, PIECE):
            piece = min(PIECE, length - at)
            encryptor.update_into(_ZEROS[:piece], scratch[: piece + AES_BLOCK - 1])
            yield at

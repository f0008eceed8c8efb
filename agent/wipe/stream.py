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

    def unmask_pieces(self, offset: int, data: memoryview, length: int) -> Iterator[int]:
        """XOR the stream into `data` in place, a cache-sized piece at a time; yields each
        piece's start (relative) once it is done, so the caller checks it while it is hot.

        Where the disk held the stream the piece is now all zeros. `data` needs 15 spare bytes
        after `length`, as for `fill`.
        """
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        counter = (offset // AES_BLOCK).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self.key), modes.CTR(counter)).encryptor()
        for at in range(0, length, PIECE):
            piece = min(PIECE, length - at)
            encryptor.update_into(data[at : at + piece], data[at : at + piece + AES_BLOCK - 1])
            yield at

    def unmask(self, offset: int, data: memoryview, out: bytearray) -> None:
        """XOR `data` read at `offset` with the stream into `out`: all zeros where it matches.

        Comparing against zeros lets one memcmp check a whole chunk, several times faster than
        comparing two memoryviews element by element.
        """
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        counter = (offset // AES_BLOCK).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self.key), modes.CTR(counter)).encryptor()
        encryptor.update_into(data, out)

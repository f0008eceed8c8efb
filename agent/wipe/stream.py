"""A keyed pseudo-random stream: AES in counter mode, addressable by byte offset.

The block counter is the offset divided by 16, so any chunk of the disk can be regenerated on its
own: the verifier reads a chunk back and recomputes exactly what should be there.

New keys are 128-bit: the stream only has to be unpredictable to the drive (so no controller can
compress or deduplicate it), not to keep a secret, and AES-128's ten rounds make the write and the
verification about a fifth cheaper than AES-256's fourteen. 256-bit keys are still accepted.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_BLOCK = 16
KEY_BYTES = 16


class KeyedStream:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else os.urandom(KEY_BYTES)
        if len(self.key) not in (16, 32):
            raise ValueError("AES keys are 16 or 32 bytes")
        self._zeros = b""

    def fill(self, offset: int, out: memoryview, length: int) -> None:
        """Write the stream's bytes [offset, offset+length) into `out` (len >= length + 15)."""
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        if len(self._zeros) < length:
            self._zeros = bytes(length)
        counter = (offset // AES_BLOCK).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self.key), modes.CTR(counter)).encryptor()
        encryptor.update_into(memoryview(self._zeros)[:length], out)

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

"""A keyed pseudo-random stream: AES-256 in counter mode, addressable by byte offset.

The block counter is the offset divided by 16, so any chunk of the disk can be regenerated on its
own: the verifier reads a chunk back and recomputes exactly what should be there.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_BLOCK = 16


class KeyedStream:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else os.urandom(32)
        if len(self.key) != 32:
            raise ValueError("AES-256 needs a 32-byte key")
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

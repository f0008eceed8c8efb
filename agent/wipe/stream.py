"""A keyed pseudo-random stream: AES in counter mode, addressable by byte offset.

The disk is cut into 256 KiB pieces; piece n is the AES keystream for the 96-bit nonce n, its
32-bit block counter starting at 2, exactly the keystream AES-GCM encrypts with (NIST SP 800-38D).
Any piece can therefore be regenerated on its own: the verifier reads a chunk back and recomputes
what should be there. The keystream is produced through the GCM interface because OpenSSL runs GCM
with the AVX-512 vector AES instructions where the CPU has them, and plain counter mode without:
on the CI machine's CPU the same keystream comes 1.8 times faster (the GHASH tag computed on the
way is thrown away).

Keys are 128-bit: the stream only has to be unpredictable to the drive (so no controller can
compress or deduplicate it), not to keep a secret, and AES-128's ten rounds are cheaper than
AES-256's fourteen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

AES_BLOCK = 16
KEY_BYTES = 16
PIECE = 256 << 10  # one nonce's worth of stream; fits a core's L2 cache
_ZEROS = memoryview(bytes(PIECE))


class KeyedStream:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else os.urandom(KEY_BYTES)
        if len(self.key) not in (16, 32):
            raise ValueError("AES keys are 16 or 32 bytes")

    def fill(self, offset: int, out: memoryview, length: int) -> None:
        """Write the stream's bytes [offset, offset+length) into `out` (len >= length + 15)."""
        if len(out) < length + AES_BLOCK - 1:
            raise ValueError("the output needs 15 spare bytes after `length`")
        for at, size, encryptor in self._pieces(offset, length):
            encryptor.update_into(_ZEROS[:size], out[at : at + size + AES_BLOCK - 1])

    def pieces(self, offset: int, length: int, scratch: memoryview) -> Iterator[tuple[int, int]]:
        """The stream's bytes [offset, offset+length), a piece at a time: each is generated into
        `scratch` (PIECE + 15 bytes), then (start relative to `offset`, size) is yielded for the
        caller to compare while the piece is still in the CPU's cache.

        Comparing against a piece that never leaves the cache, instead of unmasking the data read
        from the disk in place, spares memory a write-back of every byte verified.
        """
        for at, size, encryptor in self._pieces(offset, length):
            encryptor.update_into(_ZEROS[:size], scratch[: size + AES_BLOCK - 1])
            yield at, size

    def _pieces(self, offset: int, length: int) -> Iterator[tuple[int, int, CipherContext]]:
        """(start relative to `offset`, size, a cipher positioned there) for each piece."""
        if offset % AES_BLOCK:
            raise ValueError("stream offsets are multiples of 16 bytes")
        at = 0
        while at < length:
            index, skip = divmod(offset + at, PIECE)
            encryptor = Cipher(algorithms.AES(self.key),
                               modes.GCM(index.to_bytes(12, "big"))).encryptor()
            if skip:  # a start inside a piece: run the keystream up to it
                encryptor.update_into(_ZEROS[:skip], memoryview(bytearray(skip + AES_BLOCK)))
            size = min(PIECE - skip, length - at)
            yield at, size, encryptor
            at += size

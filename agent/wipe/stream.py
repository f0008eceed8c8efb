"""A keyed pseudo-random stream, addressable by byte offset: AES or ChaCha20, whichever is fast.

The disk is cut into 256 KiB pieces, and every piece has its own nonce (its index), so any piece
can be regenerated on its own: the verifier reads a chunk back and recomputes what should be
there, and a resumed pass goes on from the journal's offset. Two generators make the same kind of
stream:

- `aes-ctr`: piece n is the AES keystream for the 96-bit nonce n, its 32-bit block counter
  starting at 2, exactly the keystream AES-GCM encrypts with (NIST SP 800-38D). It is produced
  through the GCM interface because OpenSSL runs GCM with the AVX-512 vector AES instructions
  where the CPU has them, and plain counter mode without: on the CI machine's CPU the same
  keystream comes 1.8 times faster (the GHASH tag computed on the way is thrown away).
- `chacha20`: piece n is the ChaCha20 keystream (RFC 8439) for the 96-bit nonce n, the 32-bit
  block counter counting the piece's 64-byte blocks from 0. Without AES instructions OpenSSL's AES
  runs from tables or bit-sliced code, several times slower than its ChaCha20, which only needs
  the SSSE3 that every x86-64 processor since 2006 has (AVX2 and AVX-512 where present).

`preferred_generator()` picks one per process; the overwrite journals it with each random pass,
so a resumed pass continues with the generator and key it started with whatever this processor
would choose. A journal without one was written with AES, the only generator there was.

The stream only has to be unpredictable to the drive (so no controller can compress or
deduplicate it), not to keep a secret: AES keys are 128-bit, whose ten rounds are cheaper than
AES-256's fourteen; ChaCha20 only has 256-bit keys.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

AES = "aes-ctr"
CHACHA20 = "chacha20"
GENERATORS = (AES, CHACHA20)
KEY_SIZES = {AES: (16, 32), CHACHA20: (32,)}  # the first one is what a new key gets
AES_BLOCK = 16
CHACHA_BLOCK = 64
PIECE = 256 << 10  # one nonce's worth of stream; fits a core's L2 cache
DIGEST_BYTES = 8  # a chunk's digest: two different chunks share one with a chance of 2^-64
_ZEROS = memoryview(bytes(PIECE))
# ChaCha20 is taken only when it is clearly faster: twice as fast. Where OpenSSL runs AES
# without AES-NI it is five times slower than ChaCha20 (the case this choice is for); with
# AES-NI the two are within a few tens of percent of each other, which the measurement's noise
# on a busy or virtual machine can turn either way (1.3 seen on the CI machine). Near a tie either
# generator keeps up with the disk, and AES stays the choice from one start to the next.
CHACHA_MARGIN = 2.0
# Each turn times several pieces of each generator back to back (one piece takes about 0.1 ms
# with AES-NI), and the turn whose ratio is the median decides: a moment when the machine was
# slower (an interrupt, a busy neighbour of a virtual machine, the clock's frequency) slows both
# generators of a turn alike, where a best-of-each could pair a lucky turn of one with an
# unlucky turn of the other.
MEASURE_ROUNDS = 7
MEASURE_PIECES = 8


def new_key(generator: str) -> bytes:
    return os.urandom(_key_sizes(generator)[0])


class KeyedStream:
    def __init__(self, key: bytes | None = None, generator: str = AES) -> None:
        sizes = _key_sizes(generator)
        self.generator = generator
        self.key = key if key is not None else os.urandom(sizes[0])
        if len(self.key) not in sizes:
            raise ValueError(f"{generator} keys are {' or '.join(map(str, sizes))} bytes")
        self._length_terms: dict[int, int] = {}

    @property
    def description(self) -> str:
        """The stream in words, for the erasure's evidence."""
        if self.generator == CHACHA20:
            return ("ChaCha20 keystream (RFC 8439), nonce = byte offset // 256 KiB, block "
                    "counter = 64-byte block within the piece, key in the journal")
        return (f"AES-{len(self.key) * 8} counter-mode keystream, nonce = byte offset // "
                "256 KiB, counter layout of GCM (SP 800-38D), key in the journal")

    @property
    def digest_name(self) -> str:
        """The chunk digest in words, for the verification's evidence."""
        if self.generator == CHACHA20:
            return "CRC-32 of each 4 MiB chunk, kept while writing"
        return ("GHASH (keyed by the stream's key) of each 4 MiB chunk, 64 bits, kept while "
                "writing")

    def fill(self, offset: int, out: memoryview, length: int) -> None:
        """Write the stream's bytes [offset, offset+length) into `out` (len >= length + 15)."""
        if len(out) < length + AES_BLOCK - 1:
            raise ValueError("the output needs 15 spare bytes after `length`")
        for at, size, encryptor in self._pieces(offset, length):
            encryptor.update_into(_ZEROS[:size], out[at : at + size + AES_BLOCK - 1])

    def fill_with_digest(self, offset: int, out: memoryview, length: int) -> bytes | None:
        """`fill`, and the digest of those bytes when `offset` starts a piece (else None): what
        `digest_of` gives for the same bytes read back, and almost surely nothing else.

        AES: GCM computed a GHASH tag over each piece on the way (its ciphertext is the
        keystream), so the digest costs nothing more than the stream. ChaCha20: CRC-32 of the
        bytes, about a fifth of the stream's time on a processor without AES-NI.
        """
        if offset % PIECE:
            self.fill(offset, out, length)
            return None
        digest = 0  # CRC-32 for ChaCha20, the XOR of the pieces' GHASH tags for AES
        for at, size, encryptor in self._pieces(offset, length):
            encryptor.update_into(_ZEROS[:size], out[at : at + size + AES_BLOCK - 1])
            if self.generator == CHACHA20:
                digest = zlib.crc32(out[at : at + size], digest)  # while it is in the cache
            else:
                encryptor.finalize()
                tag = int.from_bytes(encryptor.tag, "big")  # type: ignore[attr-defined]
                digest ^= tag ^ self._length_term(size)
        return (digest if self.generator == CHACHA20 else digest >> 64).to_bytes(
            DIGEST_BYTES, "big")

    def digest_of(self, offset: int, data: memoryview, length: int) -> bytes:
        """The digest of data[:length] read from `offset` (a piece's start), to compare with the
        one `fill_with_digest` gave while writing.

        AES: for each piece, GMAC with the piece's own nonce over the bytes read (OpenSSL runs
        it with PCLMULQDQ, several times faster than the stream). The tag GCM made over the
        keystream and this one differ only by GHASH's length block, a constant for a given
        length and key (`_length_term`), so equal bytes give equal digests. GHASH is keyed by
        the stream's key: a drive that does not know it cannot make other bytes with the same
        digest.
        """
        if offset % PIECE:
            raise ValueError("digests start on a piece")
        if self.generator == CHACHA20:
            return zlib.crc32(data[:length]).to_bytes(DIGEST_BYTES, "big")
        digest = 0
        for at in range(0, length, PIECE):
            size = min(PIECE, length - at)
            gmac = Cipher(algorithms.AES(self.key),
                          modes.GCM(((offset + at) // PIECE).to_bytes(12, "big"))).encryptor()
            gmac.authenticate_additional_data(data[at : at + size])
            gmac.finalize()
            digest ^= int.from_bytes(gmac.tag, "big")
        return (digest >> 64).to_bytes(DIGEST_BYTES, "big")

    def _length_term(self, size: int) -> int:
        """GCM's tag over `size` bytes of ciphertext XOR GMAC's tag over the same bytes as
        associated data: the two GHASH length blocks times GHASH's key, whatever the bytes and
        the nonce. Computed once per size from zero bytes (an encryption of the keystream gives
        a ciphertext of zeros)."""
        if size not in self._length_terms:
            nonce = bytes(12)
            keystream = bytearray(size + AES_BLOCK)
            zeros_out = bytearray(size + AES_BLOCK)
            first = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
            first.update_into(_ZEROS[:size], keystream)
            second = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
            second.update_into(memoryview(keystream)[:size], zeros_out)
            second.finalize()
            gmac = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
            gmac.authenticate_additional_data(_ZEROS[:size])
            gmac.finalize()
            self._length_terms[size] = (int.from_bytes(second.tag, "big")
                                        ^ int.from_bytes(gmac.tag, "big"))
        return self._length_terms[size]

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
            encryptor = (self._chacha20_at(index, skip) if self.generator == CHACHA20
                         else self._aes_at(index, skip))
            size = min(PIECE - skip, length - at)
            yield at, size, encryptor
            at += size

    def _aes_at(self, index: int, skip: int) -> CipherContext:
        encryptor = Cipher(algorithms.AES(self.key),
                           modes.GCM(index.to_bytes(12, "big"))).encryptor()
        if skip:  # GCM's interface cannot set the counter: run the keystream up to the start
            encryptor.update_into(_ZEROS[:skip], memoryview(bytearray(skip + AES_BLOCK)))
        return encryptor

    def _chacha20_at(self, index: int, skip: int) -> CipherContext:
        # cryptography's 16-byte ChaCha20 nonce is RFC 8439's block counter (32 bits, little
        # endian) followed by its 96-bit nonce: the counter puts the start on its block.
        block, within = divmod(skip, CHACHA_BLOCK)
        nonce = block.to_bytes(4, "little") + index.to_bytes(12, "little")
        encryptor = Cipher(algorithms.ChaCha20(self.key, nonce), mode=None).encryptor()
        if within:  # a start inside the block: drop the block's first bytes
            encryptor.update_into(_ZEROS[:within], memoryview(bytearray(CHACHA_BLOCK)))
        return encryptor


def _key_sizes(generator: str) -> tuple[int, ...]:
    if generator not in KEY_SIZES:
        raise ValueError(f"unknown keystream generator {generator!r}")
    return KEY_SIZES[generator]


def choose_generator(flags: frozenset[str] | None,
                     measure: Callable[[], dict[str, float]]) -> str:
    """The generator for this processor: ChaCha20 when it has no AES instructions; otherwise the
    one OpenSSL runs faster here (`measure()`: seconds per piece of each), AES near a tie.

    The processor's flags alone are not enough: OpenSSL may be told to ignore AES-NI
    (OPENSSL_ia32cap) and a hypervisor may pass the flag through to a slow emulation. Measuring
    OpenSSL's own code answers for all of them. `flags` is None where they are not known.
    """
    if flags is not None and "aes" not in flags:
        return CHACHA20  # AES from tables is never the faster one: no need to measure
    seconds = measure()
    return CHACHA20 if seconds[CHACHA20] * CHACHA_MARGIN < seconds[AES] else AES


def measure_generators(rounds: int = MEASURE_ROUNDS) -> dict[str, float]:
    """Processor seconds to generate one piece with each generator, in the turn whose ratio
    between them is the median of `rounds` turns of MEASURE_PIECES pieces each.

    Within a turn the generators run back to back, in turn about order, and this thread's
    processor time is counted, not the clock's: other processes running meanwhile (the screen,
    other disks' jobs) take no time from either. About 20 ms on the CI machine, 125 ms with
    AES-NI masked (the AES turns are the slow ones).
    """
    scratch = memoryview(bytearray(PIECE + AES_BLOCK))
    streams = [KeyedStream(generator=generator) for generator in GENERATORS]
    for stream in streams:  # warm-up: the first use pays for page faults and library set-up
        stream.fill(0, scratch, PIECE)
    turns: list[dict[str, float]] = []
    for turn in range(rounds):
        seconds: dict[str, float] = {}
        for stream in streams if turn % 2 == 0 else reversed(streams):
            started = time.thread_time()
            for piece in range(MEASURE_PIECES):
                stream.fill((turn * MEASURE_PIECES + piece) * PIECE, scratch, PIECE)
            seconds[stream.generator] = (time.thread_time() - started) / MEASURE_PIECES
        turns.append(seconds)
    turns.sort(key=lambda seconds: seconds[AES] / max(seconds[CHACHA20], 1e-9))
    return turns[len(turns) // 2]


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str] | None:
    """The x86 processor's feature flags, or None (not x86, or no /proc)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as info:
            for line in info:
                name, _, value = line.partition(":")
                if name.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return None


_choice: list[str] = []
_choice_lock = threading.Lock()


def preferred_generator() -> str:
    """The generator for new random passes in this process, chosen once (the disks' jobs start
    together: the first one measures, the others wait a few milliseconds for its answer)."""
    with _choice_lock:
        if not _choice:
            _choice.append(choose_generator(cpu_flags(), measure_generators))
        return _choice[0]

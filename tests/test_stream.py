import mmap
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.wipe.stream import (
    AES,
    CHACHA20,
    PIECE,
    KeyedStream,
    choose_generator,
    cpu_flags,
    new_key,
)


def chunk(stream: KeyedStream, offset: int, length: int) -> bytes:
    buffer = mmap.mmap(-1, length + 4096)
    stream.fill(offset, memoryview(buffer), length)
    return buffer[:length]


def test_any_chunk_regenerates_from_its_offset() -> None:
    stream = KeyedStream(b"k" * 32)
    whole = chunk(stream, 0, 1 << 16)
    assert chunk(stream, 4096, 4096) == whole[4096:8192]
    assert chunk(KeyedStream(b"k" * 32), 0, 1 << 16) == whole


def test_keys_give_different_streams_and_no_zeros() -> None:
    first, second = chunk(KeyedStream(), 0, 4096), chunk(KeyedStream(), 0, 4096)
    assert first != second and first != bytes(4096)


def test_pieces_regenerate_the_stream_a_cache_sized_piece_at_a_time() -> None:
    stream = KeyedStream(b"k" * 16)
    length = 2 * PIECE + 4096  # two whole pieces and a short one
    whole = chunk(stream, 8192, length)
    scratch = memoryview(mmap.mmap(-1, PIECE + 4096))
    starts = []
    for at, size in stream.pieces(8192, length, scratch):
        assert scratch[:size].tobytes() == whole[at : at + size]
        starts.append((at, size))
    # 8192 bytes into the first piece, so the first one is short and the last one too.
    assert starts == [(0, PIECE - 8192), (PIECE - 8192, PIECE), (2 * PIECE - 8192, 12288)]


def test_the_stream_is_the_aes_counter_mode_keystream_of_gcm() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes(range(16))
    # Piece 3, block 5 of it: AES_k(nonce 3 || counter 2 + 5), per NIST SP 800-38D.
    block = (3).to_bytes(12, "big") + (2 + 5).to_bytes(4, "big")
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert chunk(KeyedStream(key), 3 * PIECE + 5 * 16, 16) == ecb.update(block)


def test_offsets_must_be_block_aligned() -> None:
    with pytest.raises(ValueError):
        chunk(KeyedStream(), 8, 16)


# --- ChaCha20: the generator for processors without AES instructions ---------------------------

CHACHA_KEY = bytes(range(32))


def test_chacha20_fills_at_any_aligned_offset_are_slices_of_one_long_fill() -> None:
    stream = KeyedStream(CHACHA_KEY, CHACHA20)
    whole = chunk(stream, 0, 3 * PIECE)
    # Starts inside a 64-byte block, on one, on a piece's edge, and fills that cross pieces.
    for offset in (16, 48, 64, 4096 + 32, PIECE - 16, PIECE, PIECE + 80, 2 * PIECE - 4096):
        for length in (16, 100 * 16, PIECE + 4096):
            length = min(length, 3 * PIECE - offset)
            assert chunk(stream, offset, length) == whole[offset : offset + length], (offset,
                                                                                     length)


def test_chacha20_pieces_agree_with_fill() -> None:
    stream = KeyedStream(CHACHA_KEY, CHACHA20)
    offset, length = PIECE - 4096 + 48, 2 * PIECE + 512
    whole = chunk(stream, offset, length)
    scratch = memoryview(mmap.mmap(-1, PIECE + 4096))
    sizes = []
    for at, size in stream.pieces(offset, length, scratch):
        assert scratch[:size].tobytes() == whole[at : at + size]
        sizes.append(size)
    assert sum(sizes) == length and sizes[0] == 4096 - 48


def test_the_chacha20_stream_is_rfc_8439_with_the_piece_as_nonce_and_the_block_as_counter() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    # Piece 3, 64-byte block 5 of it: ChaCha20 with nonce 3 and block counter 5 (RFC 8439).
    nonce = (5).to_bytes(4, "little") + (3).to_bytes(12, "little")
    expected = Cipher(algorithms.ChaCha20(CHACHA_KEY, nonce), None).encryptor().update(bytes(64))
    assert chunk(KeyedStream(CHACHA_KEY, CHACHA20), 3 * PIECE + 5 * 64, 64) == expected


def test_generators_take_their_own_keys_and_make_different_streams() -> None:
    assert len(KeyedStream(generator=CHACHA20).key) == 32
    assert len(KeyedStream(generator=AES).key) == 16
    assert len(new_key(CHACHA20)) == 32 and len(new_key(AES)) == 16
    with pytest.raises(ValueError):
        KeyedStream(b"k" * 16, CHACHA20)
    with pytest.raises(ValueError):
        KeyedStream(b"k" * 16, "rot13")
    key = b"k" * 32
    assert chunk(KeyedStream(key, AES), 0, 4096) != chunk(KeyedStream(key, CHACHA20), 0, 4096)
    assert KeyedStream(generator=AES).generator == AES  # and AES stays the default:
    assert KeyedStream().generator == AES  # journals without a generator were written with it


def test_descriptions_name_the_generator() -> None:
    assert KeyedStream(generator=CHACHA20).description.startswith("ChaCha20")
    assert KeyedStream(b"k" * 16).description.startswith("AES-128")
    assert KeyedStream(b"k" * 32).description.startswith("AES-256")


def test_without_the_aes_flag_chacha20_is_taken_without_measuring() -> None:
    def measure() -> dict[str, float]:
        raise AssertionError("nothing to measure: AES would run from tables")

    assert choose_generator(frozenset({"sse2", "ssse3", "pclmulqdq"}), measure) == CHACHA20


def test_with_the_aes_flag_the_measurement_decides_and_a_near_tie_keeps_aes() -> None:
    flags = frozenset({"aes", "pclmulqdq"})
    assert choose_generator(flags, lambda: {AES: 1.0, CHACHA20: 0.3}) == CHACHA20
    assert choose_generator(flags, lambda: {AES: 0.3, CHACHA20: 1.0}) == AES
    assert choose_generator(flags, lambda: {AES: 1.0, CHACHA20: 0.9}) == AES
    # No x86 flags line (another architecture, no /proc): measured all the same.
    assert choose_generator(None, lambda: {AES: 1.0, CHACHA20: 0.3}) == CHACHA20


# OpenSSL's capability vector, word 0: bit 57 is AES-NI, bit 33 PCLMULQDQ (OPENSSL_ia32cap(3)).
AES_NI_MASKED = "~0x200000200000000"
SELECTION = "from agent.wipe.stream import preferred_generator; print(preferred_generator())"


def selected(env: dict[str, str]) -> str:
    # OpenSSL reads OPENSSL_ia32cap once, when it initialises: only a new process sees it.
    environment = {key: value for key, value in os.environ.items() if key != "OPENSSL_ia32cap"}
    child = subprocess.run([sys.executable, "-c", SELECTION], env={**environment, **env},
                           cwd=Path(__file__).resolve().parents[1], check=True,
                           capture_output=True, text=True)
    return child.stdout.strip()


def test_the_selection_follows_openssl_told_to_ignore_aes_ni() -> None:
    assert selected({"OPENSSL_ia32cap": AES_NI_MASKED}) == CHACHA20


def test_the_selection_takes_aes_where_openssl_uses_aes_ni() -> None:
    flags = cpu_flags()
    if flags is None or not {"aes", "pclmulqdq"} <= flags:
        pytest.skip("this processor has no AES-NI")
    assert selected({}) == AES


@pytest.mark.parametrize("generator", [AES, CHACHA20])
def test_a_chunk_read_back_has_the_digest_made_while_writing(generator: str) -> None:
    stream = KeyedStream(generator=generator)
    length = 3 * PIECE + 4096  # whole pieces and the short one that ends a disk
    buffer = mmap.mmap(-1, length + 4096)
    view = memoryview(buffer)
    written = stream.fill_with_digest(4 * PIECE, view, length)
    assert written is not None and len(written) == 8
    assert stream.digest_of(4 * PIECE, view, length) == written
    assert buffer[:length] == chunk(stream, 4 * PIECE, length)  # the same stream as `fill`
    buffer[PIECE + 777] ^= 0x01  # one bit anywhere in the chunk
    assert stream.digest_of(4 * PIECE, view, length) != written
    buffer[PIECE + 777] ^= 0x01
    view.release()


def test_an_aes_digest_binds_the_bytes_to_their_place_and_key() -> None:
    stream = KeyedStream(generator=AES)
    buffer = mmap.mmap(-1, 2 * PIECE + 4096)
    view = memoryview(buffer)
    written = stream.fill_with_digest(0, view, 2 * PIECE)
    # The right bytes said to come from elsewhere, or checked with another key, do not match:
    # the digest is GHASH keyed by the stream's key, over pieces with their own nonces.
    assert stream.digest_of(2 * PIECE, view, 2 * PIECE) != written
    assert KeyedStream(generator=AES).digest_of(0, view, 2 * PIECE) != written
    view.release()


def test_no_digest_for_a_chunk_that_starts_inside_a_piece() -> None:
    stream = KeyedStream()
    buffer = mmap.mmap(-1, PIECE + 4096)
    assert stream.fill_with_digest(4096, memoryview(buffer), PIECE - 4096) is None
    assert buffer[:PIECE - 4096] == chunk(stream, 4096, PIECE - 4096)
    with pytest.raises(ValueError):
        stream.digest_of(4096, memoryview(buffer), 4096)

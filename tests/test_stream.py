import mmap

import pytest

from agent.wipe.stream import PIECE, KeyedStream


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

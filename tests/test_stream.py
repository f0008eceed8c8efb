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
    for at in stream.pieces(8192, length, scratch):
        size = min(PIECE, length - at)
        assert scratch[:size].tobytes() == whole[at : at + size]
        starts.append(at)
    assert starts == [0, PIECE, 2 * PIECE]


def test_offsets_must_be_block_aligned() -> None:
    with pytest.raises(ValueError):
        chunk(KeyedStream(), 8, 16)

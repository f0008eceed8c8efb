import mmap

import pytest

from agent.wipe.stream import KeyedStream


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


def test_unmask_gives_zeros_exactly_where_data_matches() -> None:
    stream = KeyedStream(b"k" * 32)
    data = bytearray(chunk(stream, 8192, 8192))
    data[5000] ^= 0xFF
    out = bytearray(8192 + 15)
    stream.unmask(8192, memoryview(data), out)
    assert out[:5000] == bytes(5000) and out[5000] == 0xFF and out[5001:8192] == bytes(3191)


def test_offsets_must_be_block_aligned() -> None:
    with pytest.raises(ValueError):
        chunk(KeyedStream(), 8, 16)

"""Memory copy bandwidth: one buffer copied into another, larger than any processor cache."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

BUFFER = 64 << 20


@dataclass(frozen=True)
class MemoryBenchmark:
    copy_bytes_per_second: float  # bytes copied (read once, written once) per second
    buffer_bytes: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure_memory(seconds: float = 0.5, buffer_bytes: int = BUFFER) -> MemoryBenchmark:
    source = bytearray(buffer_bytes)
    target = bytearray(buffer_bytes)
    source[::4096] = b"\x5a" * len(source[::4096])  # touched: every page really mapped
    target[:] = source  # and the target's pages too, before timing
    copied = 0
    started = time.perf_counter()
    while True:
        target[:] = source  # one memcpy
        copied += buffer_bytes
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
    return MemoryBenchmark(round(copied / elapsed), buffer_bytes, round(elapsed, 3))

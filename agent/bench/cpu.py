"""Processor throughput: SHA-256 over a buffer in memory, on one core and on every core.

hashlib releases the GIL while it hashes more than 2 KiB, so threads use every core.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

CHUNK = 1 << 20
ALGORITHM = "sha256"


@dataclass(frozen=True)
class CpuBenchmark:
    algorithm: str
    single_core_bytes_per_second: float
    all_cores_bytes_per_second: float
    workers: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _hash_for(seconds: float, chunk: bytes) -> int:
    hasher = hashlib.sha256()
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        hasher.update(chunk)
        done += len(chunk)
    return done


def measure_cpu(seconds: float = 0.5, workers: int | None = None) -> CpuBenchmark:
    workers = workers or os.cpu_count() or 1
    chunk = os.urandom(CHUNK)
    started = time.perf_counter()
    single_bytes = _hash_for(seconds, chunk)
    single_seconds = time.perf_counter() - started
    counts = [0] * workers

    def worker(index: int) -> None:
        counts[index] = _hash_for(seconds, chunk)

    all_started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_seconds = time.perf_counter() - all_started
    return CpuBenchmark(
        ALGORITHM, round(single_bytes / single_seconds), round(sum(counts) / all_seconds),
        workers, round(single_seconds + all_seconds, 3))

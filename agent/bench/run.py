"""All benchmarks of one machine: disks in parallel first, then processor and memory alone."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.bench.cpu import measure_cpu
from agent.bench.disk import LIMIT_BYTES, LIMIT_SECONDS, measure_disk
from agent.bench.memory import measure_memory
from agent.events import EventSink, ignore_events
from agent.inventory.model import Disk


def run_benchmarks(
    disks: Sequence[Disk],
    *,
    sink: EventSink = ignore_events,
    disk_limit_bytes: int = LIMIT_BYTES,
    disk_limit_seconds: float = LIMIT_SECONDS,
    cpu_seconds: float = 0.5,
    memory_seconds: float = 0.5,
) -> dict[str, Any]:
    """The report's `benchmarks`. `disks` must already leave out every excluded disk."""
    with ThreadPoolExecutor(max_workers=max(1, len(disks))) as pool:
        measured = list(pool.map(
            lambda disk: measure_disk(disk, limit_bytes=disk_limit_bytes,
                                      limit_seconds=disk_limit_seconds, sink=sink), disks))
    # After the disks, not beside them: their interrupts and copies would lower these figures.
    return {
        "cpu": measure_cpu(cpu_seconds).to_json(),
        "memory": measure_memory(memory_seconds).to_json(),
        "disks": [result.to_json() for result in measured],
    }

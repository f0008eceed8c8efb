"""Erasure jobs: one per disk, all at once, each failing on its own.

A disk that errors or disappears ends its own job with `failed`; the other threads never see it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.inventory.model import Disk
from agent.wipe.overwrite import verify_pass, write_pass
from agent.wipe.stream import KeyedStream


@dataclass
class WipeResult:
    device: str
    serial: str | None
    model: str | None
    bus: str
    size_bytes: int
    method: str = "random"
    level: str = "clear"  # NIST SP 800-88: one verified overwrite pass is Clear
    result: str = "failed"  # "erased" or "failed"
    bytes_written: int = 0
    seconds: float = 0.0
    write_bytes_per_second: float = 0.0
    verification: str = "full"
    verified: bool = False
    mismatched_offsets: list[int] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def wipe_disk(disk: Disk, sink: EventSink = ignore_events) -> WipeResult:
    result = WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes)
    stream = KeyedStream()
    started = time.monotonic()
    try:
        written, write_seconds = write_pass(disk.path, stream, sink=sink)
        result.bytes_written = written
        result.write_bytes_per_second = written / write_seconds if write_seconds else 0.0
        outcome = verify_pass(disk.path, stream, sink=sink, sector=disk.logical_sector_size)
        result.verified = outcome.ok
        result.mismatched_offsets = outcome.mismatched_offsets[:100]
        if outcome.ok:
            result.result = "erased"
        else:
            result.error = f"verification found {len(outcome.mismatched_offsets)} bad chunk(s)"
    except OSError as error:
        result.error = f"{type(error).__name__}: {error}"
    result.seconds = time.monotonic() - started
    final = "done" if result.result == "erased" else "failed"
    sink(ProgressEvent(disk.path, final, result.bytes_written, disk.size_bytes, error=result.error))
    return result


def wipe_disks(disks: Sequence[Disk], sink: EventSink = ignore_events) -> list[WipeResult]:
    """Wipe every disk in its own thread; results come back in the order of `disks`."""
    results: list[WipeResult | None] = [None] * len(disks)

    def work(index: int, disk: Disk) -> None:
        try:
            results[index] = wipe_disk(disk, sink)
        except Exception as error:  # a bug in one job must not take the others down
            failed = WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes)
            failed.error = f"{type(error).__name__}: {error}"
            results[index] = failed

    threads = [
        threading.Thread(target=work, args=(index, disk), name=f"wipe {disk.path}", daemon=True)
        for index, disk in enumerate(disks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for result in results if result is not None]

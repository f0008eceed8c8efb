"""Progress events: long jobs emit them; the TUI, the CLI, the log and the hub consume them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    job: str  # the device path for disk jobs
    phase: str  # "write", "verify", "done", "failed"
    done_bytes: int
    total_bytes: int
    bytes_per_second: float = 0.0
    error: str | None = None
    detail: str = ""  # e.g. "2/3 one", or the drive's own state during a sanitize
    pass_number: int = 0  # during an overwrite: the pass being written, from 1
    pass_count: int = 0  # during an overwrite: how many passes the method writes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


EventSink = Callable[[ProgressEvent], None]


def ignore_events(event: ProgressEvent) -> None:
    del event


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that hands each event to every one of `sinks`, in order."""

    def each(event: ProgressEvent) -> None:
        for sink in sinks:
            sink(event)

    return each

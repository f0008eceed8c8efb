"""Where each disk's erasure stands, and how long it still needs, from the jobs' progress events.

The jobs emit events from their own threads, several times a second; a screen reads a snapshot
when it redraws. The estimate covers the disk's whole work: the passes still to write, then the
read-back, each at the rate seen so far.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from agent.events import ProgressEvent
from agent.inventory.model import Disk

# Phases of a drive's own erase; the rest are the overwrite's ("write", "verify").
FIRMWARE_PHASES = ("sanitize", "format", "security-erase", "unfreeze")
FINAL_PHASES = ("done", "failed")


@dataclass(frozen=True)
class DiskProgress:
    path: str
    model: str | None
    serial: str | None
    size_bytes: int
    verify: str = "full"  # the read-back planned after an overwrite: "full", "sample", "off"
    phase: str = "waiting"  # "waiting", a firmware phase, "write", "verify", "done", "failed"
    detail: str = ""
    pass_number: int = 0
    pass_count: int = 0
    done_bytes: int = 0
    total_bytes: int = 0
    bytes_per_second: float = 0.0
    error: str | None = None
    # What happened on the way that the volunteer should still see once the erasure goes on:
    # the outcome of a short sleep to unfreeze the drive (a message id of unfreeze.py).
    note: str = ""
    started: float | None = None  # monotonic time of the first event
    phase_started: float | None = None
    finished: float | None = None

    @property
    def over(self) -> bool:
        return self.phase in FINAL_PHASES

    def fraction(self) -> float:
        """How much of this disk's whole erasure is done, from 0 to 1."""
        if self.phase == "done":
            return 1.0
        total, done = self._work()
        return min(1.0, done / total) if total > 0 else 0.0

    def seconds_left(self, now: float | None = None) -> float | None:
        """None while nothing allows an estimate (a firmware command that reports no progress)."""
        if self.over:
            return 0.0
        if self.phase in ("write", "verify") and self.bytes_per_second > 0:
            total, done = self._work()
            return max(0.0, (total - done) / self.bytes_per_second)
        now = time.monotonic() if now is None else now
        if self.phase in FIRMWARE_PHASES and self.phase_started is not None and (
                self.total_bytes and 0 < self.done_bytes < self.total_bytes):
            elapsed = now - self.phase_started
            share = self.done_bytes / self.total_bytes
            return elapsed * (1 - share) / share
        return None

    def _work(self) -> tuple[float, float]:
        """(bytes of work in all, bytes done) over the passes and the read-back."""
        size = self.size_bytes or self.total_bytes
        if self.phase == "write" and self.pass_count:
            verify = size if self.verify == "full" else 0
            total = self.pass_count * size + verify
            return total, (self.pass_number - 1) * size + self.done_bytes
        if self.phase == "verify" and self.pass_count:
            total = self.pass_count * size + self.total_bytes
            return total, self.pass_count * size + self.done_bytes
        return float(self.total_bytes), float(self.done_bytes)


class ErasureProgress:
    """Every disk's progress, updated from the jobs' threads, read as snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._disks: dict[str, DiskProgress] = {}

    def start(self, disks: list[Disk], verify: dict[str, str]) -> None:
        with self._lock:
            self._disks = {disk.path: DiskProgress(disk.path, disk.model, disk.serial,
                                                   disk.size_bytes, verify.get(disk.path, "full"))
                           for disk in disks}

    def event(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        with self._lock:
            current = self._disks.get(event.job)
            if current is None or current.over:
                return
            # A verification's pass count is the overwrite's: it follows the last pass.
            pass_number = event.pass_number or current.pass_number
            pass_count = event.pass_count or current.pass_count
            phase_started = current.phase_started if current.phase == event.phase else now
            self._disks[event.job] = replace(
                current, phase=event.phase, detail=event.detail or (
                    current.detail if event.phase == current.phase else ""),
                pass_number=pass_number, pass_count=pass_count,
                done_bytes=event.done_bytes, total_bytes=event.total_bytes,
                bytes_per_second=event.bytes_per_second or (
                    current.bytes_per_second if event.phase == current.phase else 0.0),
                error=event.error, started=current.started or now, phase_started=phase_started,
                note=event.detail if event.phase == "unfreeze" and event.detail else current.note,
                finished=now if event.phase in FINAL_PHASES else None)

    def snapshot(self) -> list[DiskProgress]:
        with self._lock:
            return list(self._disks.values())

    def seconds_left(self) -> float | None:
        """The whole erasure's: the disks run side by side, so the slowest one's."""
        estimates = [disk.seconds_left() for disk in self.snapshot()]
        if any(estimate is None for estimate in estimates):
            return None
        return max((estimate for estimate in estimates if estimate is not None), default=0.0)


@dataclass(frozen=True)
class InstallProgress:
    """Where the install stands: downloading, writing, reading back, then the short steps."""

    phase: str = "waiting"  # "download", "write", "verify", "grow", "configure", "check", ...
    done_bytes: int = 0
    total_bytes: int = 0
    bytes_per_second: float = 0.0
    write_bytes: int = 0  # what the write phase had to write, which the read-back reads again
    verify: bool = True
    error: str | None = None

    def fraction(self) -> float:
        if self.phase in ("grow", "configure", "check", "done"):
            return 1.0
        total, done = self._work()
        return min(1.0, done / total) if total else 0.0

    def seconds_left(self) -> float | None:
        if self.phase in FINAL_PHASES:
            return 0.0
        if self.phase in ("write", "verify") and self.bytes_per_second > 0:
            total, done = self._work()
            return max(0.0, (total - done) / self.bytes_per_second)
        return None

    def _work(self) -> tuple[int, int]:
        if self.phase == "write":
            again = self.total_bytes if self.verify else 0
            return self.total_bytes + again, self.done_bytes
        if self.phase == "verify":
            return self.write_bytes + self.total_bytes, self.write_bytes + self.done_bytes
        return self.total_bytes, self.done_bytes


class InstallTracker:
    def __init__(self, verify: bool = True) -> None:
        self._lock = threading.Lock()
        self._state = InstallProgress(verify=verify)

    def event(self, event: ProgressEvent) -> None:
        with self._lock:
            current = self._state
            write_bytes = current.total_bytes if (
                current.phase == "write" and event.phase == "verify") else current.write_bytes
            self._state = replace(current, phase=event.phase, done_bytes=event.done_bytes,
                                  total_bytes=event.total_bytes,
                                  bytes_per_second=event.bytes_per_second,
                                  write_bytes=write_bytes, error=event.error)

    def snapshot(self) -> InstallProgress:
        with self._lock:
            return self._state

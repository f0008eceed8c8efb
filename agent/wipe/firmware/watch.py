"""Polling a background sanitize until the drive says it is over, or the time allowed runs out.

The first look comes right after the command, because a crypto erase may take a second and the
evidence rule wants to see it running. Later looks slow down to one every 15 seconds: a block
erase of a large disk can run for hours and each poll leaves a record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.events import EventSink, ProgressEvent
from agent.runner import CommandRecord
from agent.wipe.firmware.attempt import Attempt, Sleep
from agent.wipe.firmware.evidence import (
    FINAL_STATES,
    IN_PROGRESS,
    RESTING_STATES,
    SUCCEEDED,
    UNKNOWN,
    StatusReading,
    counter_moved,
    judge,
)
from agent.wipe.firmware.model import FirmwareOutcome, FirmwareTarget

POLL_INTERVALS = (1.0, 2.0, 4.0, 8.0)
LONGEST_POLL_INTERVAL = 15.0
# A drive may take a moment to show the erase it just accepted; after that many looks at a
# resting drive, the command did nothing.
LOOKS_BEFORE_GIVING_UP = 3
UNREADABLE_LOOKS_ALLOWED = 3

MIB = 1 << 20


def sanitize_deadline(estimate_seconds: float | None, size_bytes: int, *, crypto: bool) -> float:
    """Seconds to wait for a background sanitize before calling it stuck.

    Twice the drive's own estimate plus ten minutes. Without an estimate: half an hour for a
    crypto erase (it only drops a key), else hdparm's rule for erase units, one second per
    30 MiB plus half an hour.
    """
    if estimate_seconds is not None and estimate_seconds > 0:
        return 2 * estimate_seconds + 600
    if crypto:
        return 1800.0
    return size_bytes / (30 * MIB) + 1800


@dataclass(frozen=True)
class WatchResult:
    final: StatusReading | None
    saw_running: bool
    timed_out: bool
    looks: int


@dataclass
class SanitizeWatch:
    """Reads the status again and again; keeps a record and a transition each time it changes."""

    attempt: Attempt
    read_status: Callable[[], tuple[CommandRecord, StatusReading]]
    job: str
    phase: str
    size_bytes: int
    deadline_seconds: float
    sink: EventSink
    sleep: Sleep

    def run(self, before: StatusReading | None) -> WatchResult:
        previous = before
        noted: StatusReading | None = None
        unkept: CommandRecord | None = None
        saw_running = False
        unreadable = 0
        looks = 0
        done_bytes = 0
        reading: StatusReading | None = None
        while True:
            record, reading = self.read_status()
            looks += 1
            if noted is None or (reading.state, reading.progress) != (noted.state, noted.progress):
                self.attempt.keep(record)
                self.attempt.note(reading.state, reading.progress, reading.detail)
                noted, unkept = reading, None
            else:
                unkept = record
            if reading.state == IN_PROGRESS or counter_moved(previous, reading):
                saw_running = True
            if reading.state == SUCCEEDED:
                done_bytes = self.size_bytes
            elif reading.progress is not None:
                done_bytes = int(reading.progress * self.size_bytes)
            self.sink(ProgressEvent(self.job, self.phase, done_bytes, self.size_bytes))
            if reading.state == UNKNOWN:
                unreadable += 1
            else:
                unreadable = 0
                previous = reading
            if self._over(reading, saw_running, looks, unreadable):
                break
            if self.attempt.since_issued() >= self.deadline_seconds:
                if unkept is not None:
                    self.attempt.keep(unkept)
                return WatchResult(reading, saw_running, True, looks)
            self.sleep(_interval(looks))
        if unkept is not None:
            self.attempt.keep(unkept)  # the last word always stays in the evidence
        return WatchResult(reading, saw_running, False, looks)

    @staticmethod
    def _over(reading: StatusReading, saw_running: bool, looks: int, unreadable: int) -> bool:
        if reading.state in FINAL_STATES:
            return True
        if reading.state in RESTING_STATES:
            return saw_running or looks >= LOOKS_BEFORE_GIVING_UP
        if reading.state == UNKNOWN:
            return unreadable >= UNREADABLE_LOOKS_ALLOWED
        return False


def watch_sanitize(
    attempt: Attempt,
    read_status: Callable[[], tuple[CommandRecord, StatusReading]],
    target: FirmwareTarget,
    *,
    crypto: bool,
    estimate_seconds: float | None,
    before: StatusReading | None,
    sink: EventSink,
    sleep: Sleep,
) -> WatchResult:
    """Follow an accepted background sanitize (NVMe, ATA, SCSI alike) until it is over."""
    deadline = sanitize_deadline(estimate_seconds, target.size_bytes, crypto=crypto)
    return SanitizeWatch(attempt, read_status, target.device, "sanitize", target.size_bytes,
                         deadline, sink, sleep).run(before)


def conclude(attempt: Attempt, watch: WatchResult) -> FirmwareOutcome:
    """The attempt's outcome from what the drive was seen doing (the rule in evidence.py)."""
    verdict = judge(watch.final, watch.saw_running, watch.timed_out)
    return attempt.finish(verdict.ok, verdict.reason)


def _interval(looks: int) -> float:
    if looks <= len(POLL_INTERVALS):
        return POLL_INTERVALS[looks - 1]
    return LONGEST_POLL_INTERVAL

"""When a background sanitize counts as done: the rule shared by NVMe, ATA and SCSI.

A drive that is idle answers "never sanitized" or "last sanitize succeeded" whatever we asked it a
moment ago, so neither word alone proves anything. An erase counts only when:

1. the drive accepted the command, and
2. we saw the erase running (state "in progress", or the progress counter moved), and
3. the last status we read says success.

One exception: a fast drive (a crypto erase takes a second) may finish before the first look.
Then the status itself must show that *this* erase finished: each interface decides that from
what it can read (NVMe: success with Global Data Erased set, the logged action equal to ours,
and a log that differs from the one read before the command; ATA: "completed without error"
that was not there before the command). SCSI has no such record, so it never takes the
exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.wipe.firmware import reasons

# Sanitize states as the executors report them in transitions.
NEVER = "never_sanitized"
IDLE = "idle"
IN_PROGRESS = "in_progress"
SUCCEEDED = "succeeded"
FAILED = "failed"
FROZEN = "frozen"
UNKNOWN = "unknown"

FINAL_STATES = frozenset({SUCCEEDED, FAILED, FROZEN})
RESTING_STATES = frozenset({NEVER, IDLE})


@dataclass(frozen=True)
class StatusReading:
    """One reading of the drive's sanitize status."""

    state: str
    progress: float | None = None  # 0.0 .. 1.0 while in progress, 1.0 once succeeded
    progress_counter: int | None = None  # the drive's raw counter, to see it move
    detail: str = ""  # the drive's own words
    completion_proven: bool = False  # the status alone shows that this erase completed


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def judge(final: StatusReading | None, saw_running: bool, timed_out: bool) -> Verdict:
    """Apply the rule above to what a watch saw; the command is known to have been accepted."""
    if timed_out:
        return Verdict(False, reasons.TIMED_OUT)
    if final is None or final.state == UNKNOWN:
        return Verdict(False, reasons.STATUS_UNREADABLE)
    if final.state == FAILED:
        return Verdict(False, reasons.REPORTED_FAILED)
    if final.state == FROZEN:
        return Verdict(False, reasons.FROZEN)
    if final.state == SUCCEEDED:
        if saw_running:
            return Verdict(True, reasons.SEEN_IN_PROGRESS)
        if final.completion_proven:
            return Verdict(True, reasons.FINISHED_BEFORE_FIRST_LOOK)
        return Verdict(False, reasons.SUCCESS_NOT_PROVEN)
    if saw_running:
        return Verdict(False, reasons.ENDED_WITHOUT_SUCCESS)
    return Verdict(False, reasons.NEVER_STARTED)


def counter_moved(before: StatusReading | None, after: StatusReading) -> bool:
    if before is None or before.progress_counter is None or after.progress_counter is None:
        return False
    return before.progress_counter != after.progress_counter

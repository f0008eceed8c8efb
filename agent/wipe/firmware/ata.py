"""ATA firmware erase through hdparm: SANITIZE (crypto scramble, block erase) and Security Erase.

SANITIZE runs in the background: hdparm starts it ("Operation started in background") and
`--sanitize-status` tells how it goes. hdparm shows only three states, SD0 idle, SD1 frozen and
SD2 in process; success is SD0 with "Last Sanitize Operation Completed Without Error", a flag
the drive keeps across power cycles. So the status is read once before the command: the flag
counts as this erase's completion only if it was not there before (see evidence.py).

Security Erase lives in ata_security.py; it is exported here with the rest of the ATA methods.
"""

from __future__ import annotations

import time
from typing import Literal

from agent.events import EventSink, ignore_events
from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware import reasons
from agent.wipe.firmware.ata_security import security_erase
from agent.wipe.firmware.attempt import Attempt, Clock, Sleep, drive_words, missing_program
from agent.wipe.firmware.evidence import (
    FAILED,
    FROZEN,
    IDLE,
    IN_PROGRESS,
    SUCCEEDED,
    UNKNOWN,
    StatusReading,
)
from agent.wipe.firmware.hdparm_text import SanitizeStatus, parse_sanitize_status
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import (
    ATA_SANITIZE_BLOCK,
    ATA_SANITIZE_CRYPTO,
    FirmwareOutcome,
    FirmwareTarget,
)
from agent.wipe.firmware.watch import conclude, watch_sanitize

__all__ = ["sanitize", "security_erase"]

SANITIZE_NOT_SUPPORTED = N_("The drive does not support the SANITIZE feature set.")

_START = {"crypto": ("--sanitize-crypto-scramble", ATA_SANITIZE_CRYPTO),
          "block": ("--sanitize-block-erase", ATA_SANITIZE_BLOCK)}


def sanitize(
    target: FirmwareTarget,
    action: Literal["crypto", "block"],
    run: Runner,
    sink: EventSink = ignore_events,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> FirmwareOutcome:
    option, method = _START[action]
    attempt = Attempt(method, LEVEL_OF[method], run, clock, target.estimated_seconds)
    status_argv = ["hdparm", "--sanitize-status", target.device]
    try:
        before_record = attempt.command(status_argv)
        before = parse_sanitize_status(before_record.stdout + before_record.stderr)
        before_reading = _reading(before, before_record, None)
        attempt.note(before_reading.state, detail=before.words)
        if before.unsupported:
            return attempt.finish(False, SANITIZE_NOT_SUPPORTED)
        if before_reading.state == FROZEN:
            return attempt.finish(False, reasons.FROZEN)
        if before_reading.state == IN_PROGRESS:  # resumed after a power cut, say: not ours
            return attempt.finish(False, reasons.ALREADY_RUNNING)
        attempt.mark_issued()
        record = attempt.command(
            ["hdparm", "--yes-i-know-what-i-am-doing", option, target.device]
        )
        started = parse_sanitize_status(record.stdout + record.stderr)
        if record.returncode != 0 or "Operation started in background" not in record.stdout:
            attempt.note("refused", detail=started.words or drive_words(record))
            return attempt.finish(False, _refusal(started))
        attempt.note("accepted", detail="Operation started in background")

        def read_status() -> tuple[CommandRecord, StatusReading]:
            status_record = attempt.probe(status_argv)
            status = parse_sanitize_status(status_record.stdout + status_record.stderr)
            return status_record, _reading(status, status_record, before)

        watch = watch_sanitize(attempt, read_status, target, crypto=action == "crypto",
                               estimate_seconds=target.estimated_seconds,
                               before=before_reading, sink=sink, sleep=sleep)
    except CommandNotFound as error:
        return missing_program(attempt, error, reasons.TOOL_MISSING)
    return conclude(attempt, watch)


def _reading(
    status: SanitizeStatus, record: CommandRecord, before: SanitizeStatus | None
) -> StatusReading:
    failed = status.error_reason is not None and "unsuccessful" in status.error_reason
    if status.state == "SD3" or failed:
        return StatusReading(FAILED, detail=status.words)
    if status.state == "SD1":
        return StatusReading(FROZEN, detail=status.words)
    if status.state == "SD2":
        progress = None if status.progress is None else min(status.progress / 65536, 1.0)
        return StatusReading(IN_PROGRESS, progress, status.progress, status.words)
    if status.state in ("SD0", "SD4") and record.returncode == 0:
        if status.completed_without_error or status.state == "SD4":
            # Proven only if the flag appeared since the reading taken before the command.
            proven = before is not None and before.state is not None and (
                not before.completed_without_error
            )
            return StatusReading(SUCCEEDED, 1.0, None, status.words, proven)
        return StatusReading(IDLE, detail=status.words)
    return StatusReading(UNKNOWN, detail=status.words or drive_words(record))


def _refusal(started: SanitizeStatus) -> str:
    if started.unsupported:
        return SANITIZE_NOT_SUPPORTED
    if started.error_reason and "FROZEN" in started.error_reason.upper():
        return reasons.FROZEN
    return reasons.COMMAND_REFUSED

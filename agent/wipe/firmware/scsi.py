"""SCSI/SAS firmware erase: SANITIZE (crypto or block erase) through sg3_utils.

`sg_sanitize --early --quick` starts the sanitize with the IMMED bit and returns at once. While it
runs, REQUEST SENSE carries a progress indication, which `sg_requests --progress` prints as
"Progress indication: 25.01% done"; once it ends the line is gone, and `sg_requests --status`
exits 0 if the sense is clean or prints the sense (e.g. "Sanitize command failed") if not.

SCSI keeps no record of the last sanitize, so a clean sense proves nothing by itself: the erase
counts only if it was seen in progress (evidence.py).
"""

from __future__ import annotations

import re
import time
from typing import Literal

from agent.events import EventSink, ignore_events
from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware import reasons
from agent.wipe.firmware.attempt import Attempt, Clock, Sleep, drive_words, missing_program
from agent.wipe.firmware.evidence import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    UNKNOWN,
    StatusReading,
)
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import (
    SCSI_SANITIZE_BLOCK,
    SCSI_SANITIZE_CRYPTO,
    FirmwareOutcome,
    FirmwareTarget,
)
from agent.wipe.firmware.watch import conclude, watch_sanitize

SANITIZE_NOT_SUPPORTED = N_("The drive does not support the SCSI SANITIZE command.")
ACTION_NOT_SUPPORTED = N_("The drive does not support this kind of SCSI sanitize.")

_START = {"crypto": ("--crypto", SCSI_SANITIZE_CRYPTO), "block": ("--block", SCSI_SANITIZE_BLOCK)}
_PROGRESS = re.compile(r"Progress indication:\s*(\d+(?:\.\d+)?)%")
_SANITIZE_FAILED = re.compile(r"sanitize command failed|medium format corrupted", re.I)


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
    try:
        attempt.mark_issued()
        record = attempt.command(["sg_sanitize", option, "--early", "--quick", target.device])
        if record.returncode != 0:
            attempt.note("refused", detail=drive_words(record))
            return attempt.finish(False, _refusal(record))
        attempt.note("accepted", detail=_inquiry_line(record))

        def read_status() -> tuple[CommandRecord, StatusReading]:
            progress_record = attempt.probe(["sg_requests", "--progress", target.device])
            match = _PROGRESS.search(progress_record.stdout)
            if match:
                fraction = min(float(match.group(1)) / 100, 1.0)
                words = match.group(0) + " done"
                counter = round(fraction * 65536)
                return progress_record, StatusReading(IN_PROGRESS, fraction, counter, words)
            attempt.keep(progress_record)
            sense_record = attempt.probe(["sg_requests", "--status", target.device])
            return sense_record, _after_progress(sense_record)

        watch = watch_sanitize(attempt, read_status, target, crypto=action == "crypto",
                               estimate_seconds=target.estimated_seconds, before=None,
                               sink=sink, sleep=sleep)
    except CommandNotFound as error:
        return missing_program(attempt, error, reasons.TOOL_MISSING)
    return conclude(attempt, watch)


def _after_progress(record: CommandRecord) -> StatusReading:
    """No progress indication any more: a clean sense means the sanitize is over."""
    text = record.stdout + "\n" + record.stderr
    words = " ".join(line.strip() for line in text.splitlines() if "sense" in line.lower())
    if record.returncode == 0:
        return StatusReading(SUCCEEDED, 1.0, None, words or "no sense")
    if _SANITIZE_FAILED.search(text):
        return StatusReading(FAILED, detail=words or drive_words(record))
    return StatusReading(UNKNOWN, detail=words or drive_words(record))


def _refusal(record: CommandRecord) -> str:
    text = record.stdout + "\n" + record.stderr
    if re.search(r"invalid opcode|command not supported", text, re.I):
        return SANITIZE_NOT_SUPPORTED
    if re.search(r"bad field in sanitize cdb|invalid field in cdb", text, re.I):
        return ACTION_NOT_SUPPORTED
    return reasons.COMMAND_REFUSED


def _inquiry_line(record: CommandRecord) -> str:
    """sg_sanitize names the drive first ("ATA  CT1000MX500SSD1  046  peripheral_type: ...")."""
    for line in record.stdout.splitlines():
        if "peripheral_type" in line:
            return " ".join(line.split())
    return ""

"""eMMC firmware erase through mmc-utils: erase the user area, then SANITIZE.

SANITIZE physically erases the blocks the card has unmapped, so the whole user area is first
erased (secure erase where the card offers it, otherwise discard) and then sanitized. Both
commands are synchronous: mmc-utils returns when the card has finished and its exit status is
the evidence. The boot partitions (mmcblk0boot0/1) and RPMB are not touched here.
"""

from __future__ import annotations

import time

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import N_
from agent.runner import CommandNotFound, Runner
from agent.wipe.firmware import reasons
from agent.wipe.firmware.attempt import Attempt, Clock, drive_words, missing_program, timed_out
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import MMC_SANITIZE, FirmwareOutcome, FirmwareTarget
from agent.wipe.firmware.watch import MIB

SUCCEEDED = N_("The card erased its user area and completed SANITIZE without error.")
ERASE_FAILED = N_("The card refused or failed the erase of its user area.")
SANITIZE_FAILED = N_("The card refused or failed SANITIZE.")
TIMED_OUT = N_("The card did not finish the erase in the time allowed.")

MMC_SECTOR = 512  # eMMC erase addresses count 512-byte sectors


def sanitize(
    target: FirmwareTarget,
    run: Runner,
    sink: EventSink = ignore_events,
    clock: Clock = time.monotonic,
) -> FirmwareOutcome:
    attempt = Attempt(MMC_SANITIZE, LEVEL_OF[MMC_SANITIZE], run, clock, target.estimated_seconds)
    last_sector = target.size_bytes // MMC_SECTOR - 1
    timeout = target.size_bytes / (30 * MIB) + 1800
    size = target.size_bytes
    sink(ProgressEvent(target.device, "sanitize", 0, size))
    attempt.mark_issued()
    try:
        erased = _erase_user_area(attempt, target.device, last_sector, timeout)
        if erased is not None:
            return _failed(attempt, sink, target, erased)
        attempt.note("sanitizing")
        record = attempt.command(["mmc", "sanitize", target.device], timeout=timeout)
    except CommandNotFound as error:
        return missing_program(attempt, error, reasons.TOOL_MISSING)
    if record.returncode != 0:
        attempt.note("failed", detail=drive_words(record))
        return _failed(attempt, sink, target, TIMED_OUT if timed_out(record) else SANITIZE_FAILED)
    attempt.note("succeeded", 1.0, drive_words(record) if record.stdout.strip() else "")
    sink(ProgressEvent(target.device, "sanitize", size, size))
    return attempt.finish(True, SUCCEEDED)


def _erase_user_area(attempt: Attempt, device: str, last: int, timeout: float) -> str | None:
    """None once the user area is erased, else the reason it is not."""
    for kind in ("secure-erase", "discard"):
        attempt.note("erasing", detail=kind)
        argv = ["mmc", "erase", kind, "0", str(last), device]
        record = attempt.command(argv, timeout=timeout)
        if record.returncode == 0 and "Failed" not in record.stdout:
            attempt.note("erased", detail=drive_words(record))
            return None
        attempt.note("erase_refused", detail=drive_words(record))
        if timed_out(record):
            return TIMED_OUT
        # mmc-utils checks the card's SEC_FEATURE_SUPPORT first: only "not supported" moves on.
        if "not supported" not in record.stdout + record.stderr:
            return ERASE_FAILED
    return ERASE_FAILED


def _failed(
    attempt: Attempt, sink: EventSink, target: FirmwareTarget, reason: str
) -> FirmwareOutcome:
    sink(ProgressEvent(target.device, "sanitize", 0, target.size_bytes, error=reason))
    return attempt.finish(False, reason)

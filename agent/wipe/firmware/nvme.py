"""NVMe firmware erase: Sanitize (crypto or block erase) and Format NVM with secure erase.

Sanitize goes to the controller's character device and erases the whole NVM subsystem in the
background; the sanitize log tells how it goes. The log is read once before the command, so that
a success left by an older sanitize is not taken for ours (see evidence.py for the rule).

Format NVM is synchronous: nvme-cli returns when the drive has finished, and its exit status is
the evidence. QEMU emulates Format NVM (ignoring SES, it zeroes the namespace) and has no
Sanitize at all: it answers Invalid Opcode, which gives a plain "not supported" outcome.
"""

from __future__ import annotations

import time
from typing import Literal

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware import reasons
from agent.wipe.firmware.attempt import (
    Attempt,
    Clock,
    Sleep,
    drive_words,
    missing_program,
    timed_out,
)
from agent.wipe.firmware.evidence import (
    FAILED,
    IN_PROGRESS,
    NEVER,
    SUCCEEDED,
    UNKNOWN,
    StatusReading,
)
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import (
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_BLOCK,
    NVME_SANITIZE_CRYPTO,
    FirmwareOutcome,
    FirmwareTarget,
)
from agent.wipe.firmware.nvme_log import (
    SANACT_BLOCK_ERASE,
    SANACT_CRYPTO_ERASE,
    SanitizeLog,
    parse_sanitize_log,
    refused_as_already_running,
    refused_as_invalid_field,
    refused_as_unsupported_opcode,
)
from agent.wipe.firmware.watch import MIB, conclude, watch_sanitize

SanitizeAction = Literal["crypto", "block"]

NO_CONTROLLER = N_("The NVMe controller of this disk is not known, so no sanitize can be sent.")
SANITIZE_NOT_SUPPORTED = N_("The drive does not support the sanitize command.")
ACTION_NOT_SUPPORTED = N_("The drive does not support this kind of sanitize.")
FORMAT_SUCCEEDED = N_("The drive completed Format NVM with secure erase and reported no error.")
FORMAT_NOT_SUPPORTED = N_("The drive does not support Format NVM.")
FORMAT_SETTING_REFUSED = N_("The drive refused this secure erase setting of Format NVM.")
FORMAT_FAILED = N_("The drive reported an error during Format NVM.")
FORMAT_TIMED_OUT = N_("Format NVM did not finish in the time allowed.")

_SANACT = {"crypto": (SANACT_CRYPTO_ERASE, NVME_SANITIZE_CRYPTO),
           "block": (SANACT_BLOCK_ERASE, NVME_SANITIZE_BLOCK)}
_SSTAT_STATE = {0: NEVER, 1: SUCCEEDED, 2: IN_PROGRESS, 3: FAILED, 4: SUCCEEDED}


def sanitize(
    target: FirmwareTarget,
    action: SanitizeAction,
    run: Runner,
    sink: EventSink = ignore_events,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> FirmwareOutcome:
    sanact, method = _SANACT[action]
    attempt = Attempt(method, LEVEL_OF[method], run, clock, target.estimated_seconds)
    controller = target.controller
    if controller is None:
        attempt.note("not_started", detail=f"no controller known for {target.device}")
        return attempt.finish(False, NO_CONTROLLER)
    log_argv = ["nvme", "sanitize-log", controller, "-o", "json"]
    try:
        before_record = attempt.command(log_argv)
        before_log = parse_sanitize_log(before_record.stdout, controller)
        before = None if before_log is None else _reading(before_log, sanact, None)
        if before_log is not None and before is not None:
            attempt.estimated_seconds = _estimate(before_log, action) or target.estimated_seconds
            attempt.note(before.state, detail=before.detail)
            if before.state == IN_PROGRESS:  # the drive would refuse ours; do not send it
                return attempt.finish(False, reasons.ALREADY_RUNNING)
        attempt.mark_issued()
        # The action's number: nvme-cli 1.x and early 2.x do not know the action names.
        record = attempt.command(["nvme", "sanitize", controller, f"--sanact={sanact}"])
        if record.returncode != 0:
            attempt.note("refused", detail=drive_words(record))
            return attempt.finish(False, _refusal(record))
        attempt.note("accepted", detail=drive_words(record) if record.stdout.strip() else "")

        def read_status() -> tuple[CommandRecord, StatusReading]:
            status_record = attempt.probe(log_argv)
            log = parse_sanitize_log(status_record.stdout, controller)
            if status_record.returncode != 0 or log is None:
                return status_record, StatusReading(UNKNOWN, detail=drive_words(status_record))
            return status_record, _reading(log, sanact, before_log)

        watch = watch_sanitize(attempt, read_status, target, crypto=action == "crypto",
                               estimate_seconds=attempt.estimated_seconds, before=before,
                               sink=sink, sleep=sleep)
    except CommandNotFound as error:
        return missing_program(attempt, error, reasons.TOOL_MISSING)
    return conclude(attempt, watch)


def _estimate(log: SanitizeLog, action: SanitizeAction) -> float | None:
    seconds = log.crypto_erase_seconds if action == "crypto" else log.block_erase_seconds
    return None if seconds is None else float(seconds)


def _reading(log: SanitizeLog, sanact: int, before: SanitizeLog | None) -> StatusReading:
    state = _SSTAT_STATE.get(log.status, UNKNOWN) if log.status is not None else UNKNOWN
    progress: float | None = None
    if state == IN_PROGRESS and log.progress is not None:
        progress = min(log.progress / 65536, 1.0)
    elif state == SUCCEEDED:
        progress = 1.0
    return StatusReading(
        state, progress, log.progress, log.describe(), _proves_completion(log, sanact, before)
    )


def _proves_completion(log: SanitizeLog, sanact: int, before: SanitizeLog | None) -> bool:
    """Success, all user data erased, our action logged, and not the log we read beforehand."""
    if _SSTAT_STATE.get(log.status or 0) != SUCCEEDED or log.global_data_erased is not True:
        return False
    if log.last_action is not None and log.last_action != sanact:
        return False
    if before is None:
        return True
    same_as_before = (
        _SSTAT_STATE.get(before.status or 0) == SUCCEEDED
        and before.global_data_erased is True
        and before.last_action == log.last_action
    )
    return not same_as_before


def _refusal(record: CommandRecord) -> str:
    text = record.stdout + "\n" + record.stderr
    if timed_out(record):
        return reasons.COMMAND_REFUSED
    if refused_as_unsupported_opcode(text):
        return SANITIZE_NOT_SUPPORTED
    if refused_as_already_running(text):
        return reasons.ALREADY_RUNNING
    if refused_as_invalid_field(text):
        return ACTION_NOT_SUPPORTED
    return reasons.COMMAND_REFUSED


def format_nvm(
    target: FirmwareTarget,
    ses: Literal[1, 2],
    run: Runner,
    sink: EventSink = ignore_events,
    clock: Clock = time.monotonic,
) -> FirmwareOutcome:
    """Format NVM with Secure Erase Settings 1 (user data erase) or 2 (cryptographic erase)."""
    method = NVME_FORMAT_CRYPTO if ses == 2 else NVME_FORMAT_USER_DATA
    attempt = Attempt(method, LEVEL_OF[method], run, clock, target.estimated_seconds)
    seconds = format_timeout(target)
    argv = [*_format_device(target), f"--ses={ses}", "--force", f"--timeout={int(seconds * 1000)}"]
    sink(ProgressEvent(target.device, "format", 0, target.size_bytes))
    attempt.mark_issued()
    attempt.note("started", detail=" ".join(argv))
    try:
        # nvme-cli waits for the ioctl; give it a minute more than the timeout it passes down.
        record = attempt.command(argv, timeout=seconds + 60)
    except CommandNotFound as error:
        return missing_program(attempt, error, reasons.TOOL_MISSING)
    text = record.stdout + "\n" + record.stderr
    if record.returncode == 0:
        attempt.note("succeeded", 1.0, drive_words(record))
        sink(ProgressEvent(target.device, "format", target.size_bytes, target.size_bytes))
        return attempt.finish(True, FORMAT_SUCCEEDED)
    attempt.note("failed", detail=drive_words(record))
    sink(ProgressEvent(target.device, "format", 0, target.size_bytes, error=drive_words(record)))
    if timed_out(record):
        return attempt.finish(False, FORMAT_TIMED_OUT)
    if refused_as_unsupported_opcode(text):
        return attempt.finish(False, FORMAT_NOT_SUPPORTED)
    if refused_as_invalid_field(text) or "INVALID_FORMAT" in text.upper():
        return attempt.finish(False, FORMAT_SETTING_REFUSED)
    return attempt.finish(False, FORMAT_FAILED)


def format_timeout(target: FirmwareTarget) -> float:
    """Twice the drive's estimate plus ten minutes, else one second per 30 MiB plus half an hour.

    nvme-cli's own default (600 s) is too short for a user data erase of a large slow drive.
    """
    if target.estimated_seconds:
        return 2 * target.estimated_seconds + 600
    return target.size_bytes / (30 * MIB) + 1800


def _format_device(target: FirmwareTarget) -> list[str]:
    """The namespace's own block device when we have it, else the controller and its NSID."""
    name = target.device.rsplit("/", 1)[-1]
    if name.startswith("nvme") and "n" in name[4:]:
        return ["nvme", "format", target.device]
    if target.controller is not None and target.namespace_id is not None:
        return ["nvme", "format", target.controller, f"--namespace-id={target.namespace_id}"]
    return ["nvme", "format", target.device]

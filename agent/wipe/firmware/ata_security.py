"""ATA SECURITY ERASE UNIT through hdparm, with a temporary password that never stays behind.

The erase needs a user password: we set a random one, erase, and the drive drops it when the
erase succeeds. On every other path (refused, failed, timed out, interrupted) a `finally` reads
the drive's security state again and clears the password (unlock if locked, then disable),
retrying while a drive that timed out is still busy. A drive we could not clear is never left
silently: the outcome is not ok, says so, and carries the password the operator needs.

hdparm sends the erase as one blocking command, so this call blocks for as long as the drive
erases (hours for a large disk drive). The password appears in the command line while hdparm
runs; it is replaced by a placeholder in every record kept in the outcome.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import N_
from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware import reasons
from agent.wipe.firmware.attempt import Attempt, Clock, Sleep, drive_words, timed_out
from agent.wipe.firmware.hdparm_text import SecurityState, parse_security
from agent.wipe.firmware.levels import LEVEL_OF
from agent.wipe.firmware.model import (
    ATA_SECURITY_ERASE,
    ATA_SECURITY_ERASE_ENHANCED,
    FirmwareOutcome,
    FirmwareTarget,
)
from agent.wipe.firmware.watch import MIB

ERASE_SUCCEEDED = N_(
    "The drive completed the security erase and its security is no longer enabled."
)
SECURITY_NOT_SUPPORTED = N_("The drive does not support the ATA security feature set.")
ENHANCED_NOT_SUPPORTED = N_("The drive does not support the enhanced security erase.")
PASSWORD_ALREADY_SET = N_(
    "The drive already has a security password set by someone else, so it cannot be erased "
    "this way."
)
SECURITY_STATE_UNREADABLE = N_("The drive's security state could not be read.")
PASSWORD_REFUSED = N_("The drive refused the temporary password, so the erase was not started.")
ERASE_FAILED = N_("The drive reported an error during the security erase.")
ERASE_TIMED_OUT = N_("The security erase did not finish in the time allowed.")
STILL_ENABLED = N_(
    "After the erase the drive still had its security enabled, so the erase is not confirmed."
)
LOCKED_WITH_TEMPORARY_PASSWORD = N_(
    "The drive is still locked with the temporary password given in the details: unlock it "
    "with that password before using the drive again."
)

REDACTED = "<temporary-password>"
# After a timeout the drive may still be erasing and refuse every command: wait, then try again.
BUSY_WAITS = (5.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class SecurityEraseOutcome(FirmwareOutcome):
    password_cleared: bool = True  # no temporary password is left on the drive
    temporary_password: str | None = None  # set only when it is: the operator needs it


def new_password() -> str:
    return secrets.token_hex(8)


def security_erase(
    target: FirmwareTarget,
    enhanced: bool,
    run: Runner,
    sink: EventSink = ignore_events,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    password_source: Callable[[], str] = new_password,
) -> SecurityEraseOutcome:
    method = ATA_SECURITY_ERASE_ENHANCED if enhanced else ATA_SECURITY_ERASE
    attempt = Attempt(method, LEVEL_OF[method], run, clock, target.estimated_seconds)
    try:
        before_record = attempt.command(["hdparm", "-I", target.device])
    except CommandNotFound as error:
        attempt.note("not_started", detail=f"program not found: {error.program}")
        return _outcome(attempt, False, reasons.TOOL_MISSING)
    before = parse_security(before_record.stdout)
    attempt.note("security_before", detail=before.words)
    refusal = _cannot_start(before, enhanced)
    if refusal is not None:
        return _outcome(attempt, False, refusal)
    minutes = before.enhanced_erase_minutes if enhanced else before.erase_minutes
    estimate = target.estimated_seconds or (minutes * 60.0 if minutes else None)
    attempt.estimated_seconds = estimate
    eraser = _Eraser(attempt, target, enhanced, password_source(), sink, sleep)
    return eraser.erase(erase_timeout(estimate, target.size_bytes))


def erase_timeout(estimate_seconds: float | None, size_bytes: int) -> float:
    """Seconds to let hdparm run the erase.

    hdparm itself waits for the drive's estimate plus an hour, or one second per 30 MiB plus half
    an hour when that is longer. We allow twice the estimate plus an hour, and ten minutes more,
    so that hdparm gives up first and its own error is the evidence.
    """
    by_estimate = 2 * estimate_seconds + 3600 if estimate_seconds else 0.0
    by_size = size_bytes / (30 * MIB) + 1800
    return max(by_estimate, by_size) + 600


def _cannot_start(state: SecurityState, enhanced: bool) -> str | None:
    if state.supported is False:
        return SECURITY_NOT_SUPPORTED
    if not state.readable:
        return SECURITY_STATE_UNREADABLE
    if state.frozen:
        return reasons.FROZEN
    if state.enabled or state.locked:
        return PASSWORD_ALREADY_SET
    if enhanced and state.enhanced_erase is False:
        return ENHANCED_NOT_SUPPORTED
    return None


@dataclass
class _Eraser:
    attempt: Attempt
    target: FirmwareTarget
    enhanced: bool
    password: str
    sink: EventSink
    sleep: Sleep

    def erase(self, timeout: float) -> SecurityEraseOutcome:
        ok, reason = False, reasons.UNEXPECTED_ERROR
        password_sent = False
        enabled_after: bool | None = None
        cleared = True
        try:
            password_sent = True  # a refused or interrupted set-pass may still have set it
            record = self._hdparm("--security-set-pass", timeout=60)
            if record.returncode != 0:
                self.attempt.note("password_refused", detail=drive_words(record))
                reason = PASSWORD_REFUSED
            else:
                self.attempt.note("password_set")
                ok, reason = self._erase_unit(timeout)
        except CommandNotFound as error:
            password_sent = False
            self.attempt.note("not_started", detail=f"program not found: {error.program}")
            reason = reasons.TOOL_MISSING
        except Exception as error:  # whatever happens, the password must still be cleared
            self.attempt.note("error", detail=self._redacted(f"{type(error).__name__}: {error}"))
            ok, reason = False, reasons.UNEXPECTED_ERROR
        finally:
            if password_sent:
                enabled_after, cleared = self._settle_password()
                interrupted = sys.exc_info()[1]
                if not cleared and interrupted is not None:
                    interrupted.add_note(
                        f"{self.target.device} is still locked with the temporary ATA password "
                        f"{self.password}"
                    )
        size = self.target.size_bytes
        if not cleared:
            self.attempt.note("locked", detail=f"temporary password: {self.password}")
            self.sink(ProgressEvent(self.target.device, "security-erase", 0, size))
            return _outcome(self.attempt, False, LOCKED_WITH_TEMPORARY_PASSWORD,
                            cleared=False, password=self.password)
        if ok and enabled_after:
            ok, reason = False, STILL_ENABLED
        self.sink(ProgressEvent(self.target.device, "security-erase", size if ok else 0, size))
        return _outcome(self.attempt, ok, reason)

    def _erase_unit(self, timeout: float) -> tuple[bool, str]:
        size = self.target.size_bytes
        self.sink(ProgressEvent(self.target.device, "security-erase", 0, size))
        self.attempt.mark_issued()
        option = "--security-erase-enhanced" if self.enhanced else "--security-erase"
        self.attempt.note("erasing", detail=option)
        record = self._hdparm(option, timeout=timeout)
        if timed_out(record):
            self.attempt.note("timed_out", detail=drive_words(record))
            return False, ERASE_TIMED_OUT
        if record.returncode != 0:
            self.attempt.note("failed", detail=drive_words(record))
            return False, ERASE_FAILED
        self.attempt.note("erase_returned", 1.0, drive_words(record))
        return True, ERASE_SUCCEEDED

    def _settle_password(self) -> tuple[bool | None, bool]:
        """(security enabled at the first look after the erase, password cleared in the end)."""
        first_enabled: bool | None = None
        pause = 0.0
        for tries in range(len(BUSY_WAITS) + 1):
            if pause:
                self.sleep(pause)
            try:
                record = self.attempt.command(["hdparm", "-I", self.target.device])
            except Exception as error:  # keep trying: the drive stays locked otherwise
                self.attempt.note("busy", detail=self._redacted(f"{type(error).__name__}: {error}"))
                pause = BUSY_WAITS[min(tries, len(BUSY_WAITS) - 1)]
                continue
            state = parse_security(record.stdout)
            if record.returncode != 0 or not state.readable:
                self.attempt.note("busy", detail=drive_words(record))
                pause = BUSY_WAITS[min(tries, len(BUSY_WAITS) - 1)]
                continue
            if first_enabled is None:
                first_enabled = bool(state.enabled or state.locked)
            if not state.enabled and not state.locked:
                self.attempt.note("password_cleared", detail=state.words)
                return first_enabled, True
            pause = 0.0
            try:
                if state.locked:
                    self._hdparm("--security-unlock", timeout=60)
                if self._hdparm("--security-disable", timeout=60).returncode != 0:
                    pause = BUSY_WAITS[min(tries, len(BUSY_WAITS) - 1)]
            except Exception as error:
                self.attempt.note("busy", detail=self._redacted(f"{type(error).__name__}: {error}"))
                pause = BUSY_WAITS[min(tries, len(BUSY_WAITS) - 1)]
        return first_enabled, False

    def _hdparm(self, option: str, timeout: float) -> CommandRecord:
        argv = ["hdparm", "--user-master", "u", option, self.password, self.target.device]
        record = self.attempt.run(argv, timeout=timeout)
        kept = self._redacted_record(record)
        self.attempt.keep(kept)
        return kept

    def _redacted(self, text: str) -> str:
        return text.replace(self.password, REDACTED)

    def _redacted_record(self, record: CommandRecord) -> CommandRecord:
        return CommandRecord(
            argv=_redacted_argv(record.argv, self.password),
            returncode=record.returncode,
            stdout=self._redacted(record.stdout),
            stderr=self._redacted(record.stderr),
            seconds=record.seconds,
        )


def _redacted_argv(argv: Sequence[str], password: str) -> tuple[str, ...]:
    return tuple(word.replace(password, REDACTED) for word in argv)


def _outcome(
    attempt: Attempt, ok: bool, reason: str, *, cleared: bool = True, password: str | None = None
) -> SecurityEraseOutcome:
    base = attempt.finish(ok, reason)
    values = {field.name: getattr(base, field.name) for field in dataclasses.fields(base)}
    return SecurityEraseOutcome(**values, password_cleared=cleared, temporary_password=password)

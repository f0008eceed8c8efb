"""ATA sanitize and security erase against hdparm outputs recorded from real drives."""

from __future__ import annotations

import json

import pytest

from agent.runner import CommandRecord
from agent.wipe.firmware import ata, ata_security, reasons, unfreeze
from agent.wipe.firmware.model import (
    ATA_SANITIZE_BLOCK,
    ATA_SECURITY_ERASE_ENHANCED,
    FirmwareTarget,
)
from tests.firmware_fakes import Events, FakeClock, TimedRunner, firmware_fixture
from tests.replay import ScriptedRunner

DEVICE = "/dev/sda"
TARGET = FirmwareTarget(DEVICE, None, None, 60_022_480_896, 512)
STATUS = ("hdparm", "--sanitize-status", DEVICE)
PASSWORD = "3f9c2a7b1d4e6f80"


def text(name: str) -> str:
    return firmware_fixture(f"ata/{name}").replace("PASSWORD", PASSWORD)


def sanitize_runner(before: str, started: str, *statuses: str) -> ScriptedRunner:
    runner = ScriptedRunner().expect(*STATUS, stdout=text(before))
    runner.expect("hdparm", "--yes-i-know-what-i-am-doing", "--sanitize-block-erase", DEVICE,
                  stdout=text(started))
    for name in statuses:
        runner.expect(*STATUS, stdout=text(name))
    return runner


def run_sanitize(runner: ScriptedRunner) -> tuple[ata.FirmwareOutcome, Events, FakeClock]:
    clock, events = FakeClock(), Events()
    return ata.sanitize(TARGET, "block", runner, events, clock, clock.sleep), events, clock


def test_block_erase_seen_in_process_then_completed_without_error() -> None:
    runner = sanitize_runner(
        "shinedisk-m667-status-idle.txt", "shinedisk-m667-block-erase-started.txt",
        "shinedisk-m667-status-0pct.txt", "shinedisk-m667-status-25pct.txt",
        "shinedisk-m667-status-done.txt",
    )
    outcome, events, _clock = run_sanitize(runner)

    assert outcome.ok and outcome.reason == reasons.SEEN_IN_PROGRESS
    assert (outcome.method, outcome.level) == (ATA_SANITIZE_BLOCK, "purge")
    assert [transition.state for transition in outcome.transitions] == [
        "idle", "accepted", "in_progress", "in_progress", "succeeded",
    ]
    assert outcome.transitions[3].detail == (
        "State: SD2 Sanitize operation In Process; Progress: 0x41c2 (25%)"
    )
    assert [event.done_bytes for event in events.received] == [
        0, int(0x41C2 / 65536 * TARGET.size_bytes), TARGET.size_bytes,
    ]
    assert not runner.answers


def test_accepted_but_never_sanitizing_as_the_mx500_did_is_not_an_erase() -> None:
    runner = sanitize_runner(
        "crucial-mx500-status-idle.txt", "crucial-mx500-block-erase-started.txt",
        *["crucial-mx500-status-idle.txt"] * 3,
    )
    outcome, _events, _clock = run_sanitize(runner)

    assert not outcome.ok
    assert outcome.reason == reasons.NEVER_STARTED
    assert outcome.transitions[-1].detail == "State: SD0 Sanitize Idle"


def test_completion_flag_already_there_before_is_not_proof() -> None:
    runner = sanitize_runner(
        "shinedisk-m667-status-done.txt", "shinedisk-m667-block-erase-started.txt",
        "shinedisk-m667-status-done.txt",
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.SUCCESS_NOT_PROVEN


def test_completion_flag_that_appeared_since_before_proves_a_fast_erase() -> None:
    runner = sanitize_runner(
        "shinedisk-m667-status-idle.txt", "shinedisk-m667-block-erase-started.txt",
        "shinedisk-m667-status-done.txt",
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert outcome.ok and outcome.reason == reasons.FINISHED_BEFORE_FIRST_LOOK


def test_failed_sanitize_is_reported_failed() -> None:
    runner = sanitize_runner(
        "shinedisk-m667-status-idle.txt", "shinedisk-m667-block-erase-started.txt",
        "shinedisk-m667-status-25pct.txt",
    )
    runner.expect(*STATUS, returncode=5, stdout=text("shinedisk-m667-status-failed.stdout"),
                  stderr=text("shinedisk-m667-status-failed.stderr"))
    outcome, _events, _clock = run_sanitize(runner)

    assert not outcome.ok and outcome.reason == reasons.REPORTED_FAILED
    assert "Drive in SD3 Sanitize Operation Failed state" in outcome.transitions[-1].detail


def test_frozen_sanitize_is_not_attempted() -> None:
    runner = ScriptedRunner().expect(*STATUS, stdout=text("shinedisk-m667-status-frozen.txt"))
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.FROZEN
    assert len(runner.calls) == 1


def test_sanitize_already_in_process_before_ours_is_not_taken_for_ours() -> None:
    runner = ScriptedRunner().expect(*STATUS, stdout=text("shinedisk-m667-status-25pct.txt"))
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.ALREADY_RUNNING
    assert len(runner.calls) == 1


def test_unsupported_sanitize_feature_set() -> None:
    runner = ScriptedRunner().expect(
        *STATUS, returncode=22, stderr="SANITIZE feature set is not supported\n"
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == ata.SANITIZE_NOT_SUPPORTED


def test_sanitize_that_stays_in_process_times_out() -> None:
    runner = sanitize_runner(
        "shinedisk-m667-status-idle.txt", "shinedisk-m667-block-erase-started.txt",
        *["shinedisk-m667-status-25pct.txt"] * 100,
    )
    target = FirmwareTarget(DEVICE, None, None, TARGET.size_bytes, 512, 120.0)
    clock = FakeClock()
    outcome = ata.sanitize(target, "block", runner, clock=clock, sleep=clock.sleep)
    assert not outcome.ok and outcome.reason == reasons.TIMED_OUT
    assert clock.now - 1000.0 >= 2 * 120 + 600


# --- security erase -------------------------------------------------------------------------

IDENTIFY = ("hdparm", "-I", DEVICE)
SET_PASS = ("hdparm", "--user-master", "u", "--security-set-pass", PASSWORD, DEVICE)
ERASE = ("hdparm", "--user-master", "u", "--security-erase-enhanced", PASSWORD, DEVICE)
DISABLE = ("hdparm", "--user-master", "u", "--security-disable", PASSWORD, DEVICE)
UNLOCK = ("hdparm", "--user-master", "u", "--security-unlock", PASSWORD, DEVICE)


def run_security_erase(
    runner: ScriptedRunner,
) -> tuple[ata_security.SecurityEraseOutcome, Events, FakeClock]:
    clock, events = FakeClock(), Events()
    outcome = ata.security_erase(
        TARGET, True, runner, events, clock, clock.sleep, password_source=lambda: PASSWORD
    )
    return outcome, events, clock


def assert_password_kept_out(outcome: ata_security.SecurityEraseOutcome) -> None:
    records = json.dumps([command.to_json() for command in outcome.commands])
    assert PASSWORD not in records
    assert ata_security.REDACTED in records


def test_enhanced_security_erase_success_clears_the_password_by_itself() -> None:
    runner = TimedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*ERASE, stdout=text("security-erase-enhanced.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-after-erase.txt"))
    outcome, events, _clock = run_security_erase(runner)

    assert outcome.ok and outcome.reason == ata_security.ERASE_SUCCEEDED
    assert (outcome.method, outcome.level) == (ATA_SECURITY_ERASE_ENHANCED, "purge")
    assert outcome.password_cleared and outcome.temporary_password is None
    assert outcome.estimated_seconds == 120.0  # "2min for ENHANCED SECURITY ERASE UNIT"
    # The erase may run for hdparm's whole wait: twice the estimate plus an hour at least.
    assert runner.timeouts[2] >= 2 * 120 + 3600
    assert [transition.state for transition in outcome.transitions] == [
        "security_before", "password_set", "erasing", "erase_returned", "password_cleared",
    ]
    assert [(event.phase, event.done_bytes) for event in events.received] == [
        ("security-erase", 0), ("security-erase", TARGET.size_bytes),
    ]
    assert_password_kept_out(outcome)
    assert not runner.answers


def test_erase_failure_still_clears_the_password() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*ERASE, returncode=5, stdout=text("security-erase-enhanced.txt"),
                  stderr=text("security-erase-failed.stderr"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-enabled.txt"))
    runner.expect(*DISABLE, stdout=text("security-disable.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-after-erase.txt"))
    outcome, _events, _clock = run_security_erase(runner)

    assert not outcome.ok and outcome.reason == ata_security.ERASE_FAILED
    assert outcome.password_cleared and outcome.temporary_password is None
    assert runner.ran(*DISABLE)
    assert "SECURITY_ERASE: Input/output error" in [t.detail for t in outcome.transitions]
    assert outcome.transitions[-1].state == "password_cleared"
    assert_password_kept_out(outcome)
    assert not runner.answers


def test_timeout_waits_for_the_busy_drive_then_unlocks_and_clears() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*ERASE, returncode=-1, stdout=text("security-erase-enhanced.txt"),
                  stderr="\n[timeout]")
    runner.expect(*IDENTIFY, returncode=5, stderr=text("identify-busy.stderr"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-locked.txt"))
    runner.expect(*UNLOCK, stdout=text("security-unlock.txt"))
    runner.expect(*DISABLE, stdout=text("security-disable.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-after-erase.txt"))
    outcome, _events, clock = run_security_erase(runner)

    assert not outcome.ok and outcome.reason == ata_security.ERASE_TIMED_OUT
    assert outcome.password_cleared
    assert clock.slept == [ata_security.BUSY_WAITS[0]]
    assert runner.calls.index(UNLOCK) < runner.calls.index(DISABLE)
    assert_password_kept_out(outcome)
    assert not runner.answers


def test_password_that_cannot_be_cleared_is_given_to_the_operator() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*ERASE, returncode=5, stderr=text("security-erase-failed.stderr"))
    for _ in range(len(ata_security.BUSY_WAITS) + 1):
        runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-locked.txt"))
        runner.expect(*UNLOCK, returncode=5, stderr=text("security-unlock-failed.stderr"))
        runner.expect(*DISABLE, returncode=5, stderr=text("security-unlock-failed.stderr"))
    outcome, events, _clock = run_security_erase(runner)

    assert not outcome.ok
    assert outcome.reason == ata_security.LOCKED_WITH_TEMPORARY_PASSWORD
    assert not outcome.password_cleared
    assert outcome.temporary_password == PASSWORD
    assert outcome.transitions[-1].state == "locked"
    assert PASSWORD in outcome.transitions[-1].detail
    assert outcome.to_json()["temporary_password"] == PASSWORD
    assert_password_kept_out(outcome)  # in the details for the operator, not in the records
    assert events.received[-1].done_bytes == 0
    assert not runner.answers


def test_success_with_security_still_enabled_is_not_an_erase() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*ERASE, stdout=text("security-erase-enhanced.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-enabled.txt"))
    runner.expect(*DISABLE, stdout=text("security-disable.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-after-erase.txt"))
    outcome, _events, _clock = run_security_erase(runner)
    assert not outcome.ok and outcome.reason == ata_security.STILL_ENABLED
    assert outcome.password_cleared


def test_refused_password_leaves_nothing_to_clear() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, returncode=5, stderr="SECURITY_SET_PASS: Input/output error\n")
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    outcome, _events, _clock = run_security_erase(runner)
    assert not outcome.ok and outcome.reason == ata_security.PASSWORD_REFUSED
    assert outcome.password_cleared
    assert not runner.ran(*ERASE)


@pytest.mark.parametrize(("identify", "reason"), [
    ("shinedisk-m667-security-frozen.txt", reasons.FROZEN),
    ("shinedisk-m667-security-enabled.txt", ata_security.PASSWORD_ALREADY_SET),
    ("shinedisk-m667-security-locked.txt", ata_security.PASSWORD_ALREADY_SET),
])
def test_no_password_is_set_on_a_drive_that_cannot_take_it(identify: str, reason: str) -> None:
    runner = ScriptedRunner().expect(*IDENTIFY, stdout=text(identify))
    outcome, _events, _clock = run_security_erase(runner)
    assert not outcome.ok and outcome.reason == reason
    assert runner.calls == [IDENTIFY]


def test_an_interruption_still_clears_the_password_and_says_so_if_it_cannot() -> None:
    class Interrupted(ScriptedRunner):
        def __call__(self, argv, timeout=120.0):  # type: ignore[no-untyped-def]
            if tuple(argv) == ERASE:
                raise KeyboardInterrupt
            return super().__call__(argv, timeout)

    runner = Interrupted()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    runner.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-enabled.txt"))
    runner.expect(*DISABLE, stdout=text("security-disable.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-after-erase.txt"))
    with pytest.raises(KeyboardInterrupt) as interrupted:
        run_security_erase(runner)
    assert runner.ran(*DISABLE) and not runner.answers
    assert not getattr(interrupted.value, "__notes__", [])

    locked = Interrupted()
    locked.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    locked.expect(*SET_PASS, stdout=text("security-set-pass.txt"))
    for _ in range(len(ata_security.BUSY_WAITS) + 1):
        locked.expect(*IDENTIFY, returncode=5, stderr=text("identify-busy.stderr"))
    with pytest.raises(KeyboardInterrupt) as interrupted:
        run_security_erase(locked)
    assert any(PASSWORD in note for note in interrupted.value.__notes__)


def test_erase_timeout_follows_hdparm() -> None:
    assert ata_security.erase_timeout(None, 60_022_480_896) == pytest.approx(
        60_022_480_896 / (30 << 20) + 1800 + 600
    )
    assert ata_security.erase_timeout(98 * 60.0, 1 << 30) == 2 * 98 * 60 + 3600 + 600


# --- frozen drives ---------------------------------------------------------------------------

RTCWAKE = ("rtcwake", "-m", "mem", "-s", "5")


def test_suspend_thaws_a_frozen_drive() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-frozen.txt"))
    runner.expect(*RTCWAKE, stdout=firmware_fixture("unfreeze/rtcwake-ok.txt"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    outcome = unfreeze.unfreeze_by_suspend(DEVICE, runner, clock=FakeClock())

    assert outcome.ok and outcome.reason == unfreeze.THAWED
    assert (outcome.frozen_before, outcome.suspended, outcome.frozen_after) == (True, True, False)
    assert [step.state for step in outcome.steps] == ["frozen", "suspend", "not_frozen"]
    assert runner.calls.count(IDENTIFY) == 2  # read again in a new process after the sleep


def test_drive_still_frozen_after_suspend_is_reported() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-frozen.txt"))
    runner.expect(*RTCWAKE, stdout=firmware_fixture("unfreeze/rtcwake-ok.txt"))
    runner.expect(*IDENTIFY, returncode=5, stderr=text("identify-busy.stderr"))
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-frozen.txt"))
    clock = FakeClock()
    outcome = unfreeze.unfreeze_by_suspend(DEVICE, runner, clock=clock, sleep=clock.sleep)

    assert not outcome.ok and outcome.reason == unfreeze.STILL_FROZEN
    assert outcome.frozen_after is True
    assert clock.slept == [unfreeze.IDENTIFY_WAITS[1]]


def test_failed_suspend_is_reported_with_rtcwake_words() -> None:
    runner = ScriptedRunner()
    runner.expect(*IDENTIFY, stdout=text("shinedisk-m667-security-frozen.txt"))
    runner.expect(*RTCWAKE, returncode=1,
                  stdout=firmware_fixture("unfreeze/rtcwake-failed.stdout"),
                  stderr=firmware_fixture("unfreeze/rtcwake-failed.stderr"))
    outcome = unfreeze.unfreeze_by_suspend(DEVICE, runner, clock=FakeClock())
    assert not outcome.ok and outcome.reason == unfreeze.SUSPEND_FAILED
    assert not outcome.suspended
    assert outcome.steps[-1].detail == "rtcwake: write error"


def test_drive_not_frozen_is_not_suspended() -> None:
    runner = ScriptedRunner().expect(*IDENTIFY, stdout=text("shinedisk-m667-security-ready.txt"))
    outcome = unfreeze.unfreeze_by_suspend(DEVICE, runner, clock=FakeClock())
    assert outcome.ok and outcome.reason == unfreeze.NOT_FROZEN
    assert not runner.ran(*RTCWAKE)


def test_reidentify_can_be_given_by_the_caller() -> None:
    answers = iter([text("shinedisk-m667-security-frozen.txt"),
                    text("shinedisk-m667-security-ready.txt")])
    seen: list[str] = []

    def reidentify(device: str) -> CommandRecord:
        seen.append(device)
        return CommandRecord(("hdparm", "-I", device), 0, next(answers), "", 0.0)

    runner = ScriptedRunner().expect(*RTCWAKE, stdout=firmware_fixture("unfreeze/rtcwake-ok.txt"))
    outcome = unfreeze.unfreeze_by_suspend(DEVICE, runner, reidentify, clock=FakeClock())
    assert outcome.ok and seen == [DEVICE, DEVICE]

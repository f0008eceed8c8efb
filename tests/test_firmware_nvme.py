"""NVMe sanitize and Format NVM against sanitize logs and errors recorded from real drives."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.runner import CommandNotFound, CommandRecord
from agent.wipe.firmware import nvme, reasons
from agent.wipe.firmware.model import (
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_BLOCK,
    FirmwareTarget,
)
from agent.wipe.firmware.nvme_log import parse_sanitize_log
from tests.firmware_fakes import Events, FakeClock, TimedRunner, firmware_fixture
from tests.replay import ScriptedRunner

CONTROLLER = "/dev/nvme0"
LOG = ("nvme", "sanitize-log", CONTROLLER, "-o", "json")
TARGET = FirmwareTarget(
    device="/dev/nvme0n1", controller=CONTROLLER, namespace_id=1,
    size_bytes=512_110_190_592, logical_sector_size=512,
)


def log(name: str) -> str:
    return firmware_fixture(f"nvme/{name}")


def scripted(*logs: str) -> ScriptedRunner:
    """The sanitize-log before the command, the command, then the logs read while it runs."""
    runner = ScriptedRunner().expect(*LOG, stdout=log(logs[0]))
    runner.expect("nvme", "sanitize", CONTROLLER)
    for name in logs[1:]:
        runner.expect(*LOG, stdout=log(name))
    return runner


def run_sanitize(runner: ScriptedRunner, action: nvme.SanitizeAction = "block",
                 target: FirmwareTarget = TARGET) -> tuple[nvme.FirmwareOutcome, Events, FakeClock]:
    clock, events = FakeClock(), Events()
    outcome = nvme.sanitize(target, action, runner, events, clock, clock.sleep)
    return outcome, events, clock


def test_block_erase_seen_in_progress_then_done_is_a_purge() -> None:
    runner = scripted(
        "intel-ssdpeknw512g8-never.json",
        "intel-ssdpeknw512g8-block-0pct.json",
        "intel-ssdpeknw512g8-block-in-progress.json",
        "intel-ssdpeknw512g8-block-done.json",
    )
    outcome, events, _clock = run_sanitize(runner)

    assert outcome.ok, outcome.reason
    assert outcome.reason == reasons.SEEN_IN_PROGRESS
    assert (outcome.method, outcome.level) == (NVME_SANITIZE_BLOCK, "purge")
    assert ("nvme", "sanitize", CONTROLLER, "--sanact=2") in runner.calls
    states = [transition.state for transition in outcome.transitions]
    assert states == ["never_sanitized", "accepted", "in_progress", "in_progress", "succeeded"]
    assert outcome.transitions[3].progress == pytest.approx(655 / 65536)
    assert "SSTAT 0x101" in outcome.transitions[-1].detail
    assert [event.phase for event in events.received] == ["sanitize"] * 3
    assert [event.done_bytes for event in events.received] == [
        0, int(655 / 65536 * TARGET.size_bytes), TARGET.size_bytes,
    ]
    assert outcome.estimated_seconds is None  # 4294967295: the drive gives no estimate
    assert not runner.answers


def test_nvme_cli_2_layout_is_read_the_same() -> None:
    runner = scripted(
        "ssstc-ca6-8d1024-never.json",
        "ssstc-ca6-8d1024-block-in-progress.json",
        "ssstc-ca6-8d1024-block-done.json",
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert outcome.ok and outcome.reason == reasons.SEEN_IN_PROGRESS
    assert outcome.transitions[2].progress == pytest.approx(23297 / 65536)


def test_status_text_under_its_own_key_is_still_read() -> None:
    runner = scripted(
        "ssstc-ca6-8d1024-never.json",
        "ssstc-ca6-8d1024-block-in-progress.json",
        "ssstc-ca6-8d1024-block-done-status-as-key.json",
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert outcome.ok and outcome.transitions[-1].state == "succeeded"


def test_never_sanitized_after_the_command_is_not_an_erase() -> None:
    runner = scripted(*["intel-ssdpeknw512g8-never.json"] * 4)
    outcome, _events, clock = run_sanitize(runner)

    assert not outcome.ok
    assert outcome.reason == reasons.NEVER_STARTED
    assert clock.slept == [1.0, 2.0]  # three looks, then it gives up
    assert not runner.answers


def test_a_log_of_zeros_from_a_broken_libnvme_is_not_an_erase() -> None:
    runner = scripted(*["libnvme-1.12-all-zero.json"] * 4)
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.NEVER_STARTED


def test_failed_sanitize_is_reported_failed() -> None:
    runner = scripted(
        "intel-ssdpeknw512g8-never.json",
        "intel-ssdpeknw512g8-block-0pct.json",
        "intel-ssdpeknw512g8-block-failed.json",
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok
    assert outcome.reason == reasons.REPORTED_FAILED
    assert outcome.transitions[-1].state == "failed"


def test_a_sanitize_stuck_in_progress_times_out_and_keeps_few_records() -> None:
    runner = ScriptedRunner().expect(*LOG, stdout=log("intel-ssdpeknw512g8-never.json"))
    runner.expect("nvme", "sanitize", CONTROLLER)
    for _ in range(200):
        runner.expect(*LOG, stdout=log("intel-ssdpeknw010t8-stuck.json"))
    target = FirmwareTarget(TARGET.device, CONTROLLER, 1, TARGET.size_bytes, 512, 60.0)
    outcome, _events, clock = run_sanitize(runner, target=target)

    assert not outcome.ok
    assert outcome.reason == reasons.TIMED_OUT
    assert outcome.estimated_seconds == 60.0  # the log gives none, the target's is used
    assert clock.now - 1000.0 >= 2 * 60 + 600
    looks = len(runner.calls) - 2
    assert looks > 40
    # One record before, the command, the first stuck reading and the last: not one per look.
    assert len(outcome.commands) == 4
    assert [transition.state for transition in outcome.transitions] == [
        "never_sanitized", "accepted", "in_progress",
    ]


@pytest.mark.parametrize(
    "error", ["sanitize-invalid-opcode-2x.txt", "sanitize-invalid-opcode-1x.txt"]
)
def test_invalid_opcode_as_on_qemu_is_a_plain_not_supported(error: str) -> None:
    runner = ScriptedRunner().expect(*LOG, returncode=1, stderr=log(error))
    runner.expect("nvme", "sanitize", CONTROLLER, returncode=1, stderr=log(error))
    outcome, _events, _clock = run_sanitize(runner, "crypto")

    assert not outcome.ok
    assert outcome.reason == nvme.SANITIZE_NOT_SUPPORTED
    assert outcome.transitions[-1].state == "refused"
    assert "0x4001" in outcome.transitions[-1].detail
    assert ("nvme", "sanitize", CONTROLLER, "--sanact=4") in runner.calls
    assert not runner.answers


def test_a_sanitize_already_running_is_not_taken_for_ours() -> None:
    runner = ScriptedRunner().expect(*LOG, stdout=log("intel-ssdpeknw010t8-stuck.json"))
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.ALREADY_RUNNING
    assert not runner.ran("nvme", "sanitize", CONTROLLER)


def test_a_drive_refusing_because_a_sanitize_runs() -> None:
    runner = ScriptedRunner().expect(*LOG, returncode=1, stderr="sanitize-log: Input/output error")
    runner.expect(
        "nvme", "sanitize", CONTROLLER, returncode=1, stderr=log("sanitize-in-progress.txt")
    )
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.ALREADY_RUNNING


def test_crypto_erase_done_before_the_first_look_counts_when_the_log_proves_it() -> None:
    runner = scripted("ssstc-ca6-8d1024-never.json", "crypto-done-before-first-look.json")
    outcome, _events, _clock = run_sanitize(runner, "crypto")

    assert outcome.ok
    assert outcome.reason == reasons.FINISHED_BEFORE_FIRST_LOOK
    assert [transition.state for transition in outcome.transitions] == [
        "never_sanitized", "accepted", "succeeded",
    ]


def test_an_old_success_identical_to_the_log_before_is_not_proof() -> None:
    done = "ssstc-ca6-8d1024-block-done.json"
    runner = scripted(done, done)
    outcome, _events, _clock = run_sanitize(runner)
    assert not outcome.ok and outcome.reason == reasons.SUCCESS_NOT_PROVEN


def test_a_success_logged_for_another_action_is_not_proof() -> None:
    runner = scripted("ssstc-ca6-8d1024-never.json", "ssstc-ca6-8d1024-block-done.json")
    outcome, _events, _clock = run_sanitize(runner, "crypto")
    assert not outcome.ok and outcome.reason == reasons.SUCCESS_NOT_PROVEN


def test_without_a_controller_nothing_is_sent() -> None:
    runner = ScriptedRunner()
    target = FirmwareTarget("/dev/nvme0n1", None, 1, TARGET.size_bytes, 512)
    outcome, _events, _clock = run_sanitize(runner, target=target)
    assert not outcome.ok and outcome.reason == nvme.NO_CONTROLLER
    assert runner.calls == []


def test_missing_nvme_cli_is_an_outcome_not_an_exception() -> None:
    def runner(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        raise CommandNotFound(argv[0])

    outcome = nvme.sanitize(TARGET, "block", runner, clock=FakeClock(), sleep=FakeClock().sleep)
    assert not outcome.ok and outcome.reason == reasons.TOOL_MISSING
    assert "nvme" in outcome.transitions[-1].detail


def test_human_layout_printed_before_the_json_is_still_read() -> None:
    parsed = parse_sanitize_log(log("intel-ssdpeknw512g8-block-in-progress.txt"), CONTROLLER)
    assert parsed is not None
    assert (parsed.status, parsed.progress, parsed.last_action) == (2, 655, 2)
    assert parsed.block_erase_seconds is None


def test_log_of_another_device_name_is_found_when_it_is_the_only_one() -> None:
    text = log("intel-ssdpeknw512g8-block-done.json").replace('"nvme0"', '"nvme0n1"')
    parsed = parse_sanitize_log(text, CONTROLLER)
    assert parsed is not None and parsed.sstat == 0x101


def test_format_nvm_crypto_erase_on_the_namespace_device() -> None:
    runner = TimedRunner()
    runner.expect("nvme", "format", "/dev/nvme0n1", stdout=log("format-success.txt"))
    clock, events = FakeClock(), Events()
    outcome = nvme.format_nvm(TARGET, 2, runner, events, clock)

    assert outcome.ok and outcome.reason == nvme.FORMAT_SUCCEEDED
    assert (outcome.method, outcome.level) == (NVME_FORMAT_CRYPTO, "purge")
    argv = runner.calls[0]
    assert argv[:5] == ("nvme", "format", "/dev/nvme0n1", "--ses=2", "--force")
    milliseconds = int(argv[5].removeprefix("--timeout="))
    assert milliseconds > 600_000  # nvme-cli's default is too short for a large drive
    assert runner.timeouts[0] == pytest.approx(milliseconds / 1000 + 60, abs=1)
    assert [transition.state for transition in outcome.transitions] == ["started", "succeeded"]
    assert outcome.transitions[-1].detail == "Success formatting namespace:1"
    assert [(event.phase, event.done_bytes) for event in events.received] == [
        ("format", 0), ("format", TARGET.size_bytes),
    ]


def test_format_nvm_through_the_controller_when_the_device_is_not_a_namespace() -> None:
    target = FirmwareTarget("/dev/disk/by-id/nvme-x", CONTROLLER, 1, TARGET.size_bytes, 512, 30.0)
    runner = ScriptedRunner().expect("nvme", "format", CONTROLLER, "--namespace-id=1", "--ses=1")
    outcome = nvme.format_nvm(target, 1, runner, clock=FakeClock())
    assert outcome.ok
    assert (outcome.method, outcome.level) == (NVME_FORMAT_USER_DATA, "purge")
    assert runner.calls[0][-1] == f"--timeout={(2 * 30 + 600) * 1000}"


def test_format_nvm_refused_setting() -> None:
    runner = ScriptedRunner().expect(
        "nvme", "format", returncode=1, stderr=log("format-invalid-format.txt")
    )
    outcome = nvme.format_nvm(TARGET, 1, runner, clock=FakeClock())
    assert not outcome.ok and outcome.reason == nvme.FORMAT_SETTING_REFUSED
    assert [transition.state for transition in outcome.transitions] == ["started", "failed"]
    assert "INVALID_FORMAT(410a)" in outcome.transitions[-1].detail


def test_format_nvm_invalid_opcode_and_timeout() -> None:
    refused = ScriptedRunner().expect(
        "nvme", "format", returncode=1, stderr=log("sanitize-invalid-opcode-2x.txt")
    )
    outcome = nvme.format_nvm(TARGET, 2, refused, clock=FakeClock())
    assert not outcome.ok and outcome.reason == nvme.FORMAT_NOT_SUPPORTED

    stalled = ScriptedRunner().expect("nvme", "format", returncode=-1, stderr="\n[timeout]")
    outcome = nvme.format_nvm(TARGET, 2, stalled, clock=FakeClock())
    assert not outcome.ok and outcome.reason == nvme.FORMAT_TIMED_OUT


def test_outcome_serialises_to_json() -> None:
    runner = scripted(
        "intel-ssdpeknw512g8-never.json",
        "intel-ssdpeknw512g8-block-in-progress.json",
        "intel-ssdpeknw512g8-block-done.json",
    )
    outcome, _events, _clock = run_sanitize(runner)
    data = outcome.to_json()
    assert data["ok"] is True and data["commands"][1]["argv"][1] == "sanitize"

"""SCSI sanitize through sg3_utils and eMMC sanitize through mmc-utils, against replayed output."""

from __future__ import annotations

from agent.wipe.firmware import mmc, reasons, scsi
from agent.wipe.firmware.model import MMC_SANITIZE, SCSI_SANITIZE_CRYPTO, FirmwareTarget
from tests.firmware_fakes import Events, FakeClock, TimedRunner, firmware_fixture
from tests.replay import ScriptedRunner

SAS = FirmwareTarget("/dev/sdb", None, None, 2_000_398_934_016, 512)
PROGRESS = ("sg_requests", "--progress", "/dev/sdb")
SENSE = ("sg_requests", "--status", "/dev/sdb")


def text(name: str) -> str:
    return firmware_fixture(name)


def run_scsi(runner: ScriptedRunner) -> tuple[scsi.FirmwareOutcome, Events, FakeClock]:
    clock, events = FakeClock(), Events()
    return scsi.sanitize(SAS, "crypto", runner, events, clock, clock.sleep), events, clock


def started() -> ScriptedRunner:
    return ScriptedRunner().expect(
        "sg_sanitize", "--crypto", "--early", "--quick", "/dev/sdb",
        stdout=text("scsi/sg-sanitize-started.txt"),
    )


def test_scsi_sanitize_seen_in_progress_then_clean_sense() -> None:
    runner = started()
    runner.expect(*PROGRESS, stdout=text("scsi/sg-requests-progress-0pct.txt"))
    runner.expect(*PROGRESS, stdout=text("scsi/sg-requests-progress-37pct.txt"))
    runner.expect(*PROGRESS)
    runner.expect(*SENSE, stderr=text("scsi/sg-requests-status-clean.stderr"))
    outcome, events, _clock = run_scsi(runner)

    assert outcome.ok and outcome.reason == reasons.SEEN_IN_PROGRESS
    assert (outcome.method, outcome.level) == (SCSI_SANITIZE_CRYPTO, "purge")
    assert outcome.transitions[0].detail.startswith("SEAGATE ST2000NMCLAR2000 PS11")
    assert [transition.state for transition in outcome.transitions] == [
        "accepted", "in_progress", "in_progress", "succeeded",
    ]
    assert outcome.transitions[2].progress == 0.375
    assert events.received[-1].done_bytes == SAS.size_bytes
    assert not runner.answers


def test_scsi_clean_sense_without_progress_ever_seen_is_not_proof() -> None:
    runner = started()
    runner.expect(*PROGRESS)
    runner.expect(*SENSE, stderr=text("scsi/sg-requests-status-clean.stderr"))
    outcome, _events, _clock = run_scsi(runner)
    assert not outcome.ok and outcome.reason == reasons.SUCCESS_NOT_PROVEN


def test_scsi_sanitize_failed_sense() -> None:
    runner = started()
    runner.expect(*PROGRESS, stdout=text("scsi/sg-requests-progress-37pct.txt"))
    runner.expect(*PROGRESS)
    runner.expect(*SENSE, returncode=3, stderr=text("scsi/sg-requests-status-failed.stderr"))
    outcome, _events, _clock = run_scsi(runner)
    assert not outcome.ok and outcome.reason == reasons.REPORTED_FAILED
    assert "Sanitize command failed" in outcome.transitions[-1].detail


def test_scsi_sanitize_refused_as_invalid_opcode() -> None:
    runner = ScriptedRunner().expect(
        "sg_sanitize", returncode=9, stdout=text("scsi/crucial-mx500-sg-sanitize.stdout"),
        stderr=text("scsi/crucial-mx500-sg-sanitize.stderr"),
    )
    outcome, _events, _clock = run_scsi(runner)
    assert not outcome.ok and outcome.reason == scsi.SANITIZE_NOT_SUPPORTED
    assert outcome.transitions[-1].detail == "sg_sanitize failed: Illegal request, Invalid opcode"


def test_scsi_sanitize_stuck_in_progress_times_out() -> None:
    runner = started()
    for _ in range(200):
        runner.expect(*PROGRESS, stdout=text("scsi/sg-requests-progress-37pct.txt"))
    outcome, _events, clock = run_scsi(runner)
    assert not outcome.ok and outcome.reason == reasons.TIMED_OUT
    assert clock.now - 1000.0 >= 1800  # a crypto erase with no estimate: half an hour


EMMC = FirmwareTarget("/dev/mmcblk0", None, None, 0x07480000 * 512, 512)
LAST = str(0x07480000 - 1)


def test_emmc_secure_erase_then_sanitize() -> None:
    runner = TimedRunner()
    runner.expect("mmc", "erase", "secure-erase", "0", LAST, "/dev/mmcblk0",
                  stdout=text("mmc/secure-erase-ok.txt"))
    runner.expect("mmc", "sanitize", "/dev/mmcblk0")
    events = Events()
    outcome = mmc.sanitize(EMMC, runner, events, FakeClock())

    assert outcome.ok and outcome.reason == mmc.SUCCEEDED
    assert (outcome.method, outcome.level) == (MMC_SANITIZE, "purge")
    assert [transition.state for transition in outcome.transitions] == [
        "erasing", "erased", "sanitizing", "succeeded",
    ]
    assert min(runner.timeouts) > 1800  # both commands wait for the card
    assert [event.done_bytes for event in events.received] == [0, EMMC.size_bytes]


def test_emmc_without_secure_erase_falls_back_to_discard() -> None:
    runner = ScriptedRunner()
    runner.expect("mmc", "erase", "secure-erase", returncode=161,
                  stdout=text("mmc/secure-erase-unsupported.stdout"),
                  stderr=text("mmc/secure-erase-unsupported.stderr"))
    runner.expect("mmc", "erase", "discard", "0", LAST, "/dev/mmcblk0",
                  stdout=text("mmc/discard-ok.txt"))
    runner.expect("mmc", "sanitize", "/dev/mmcblk0")
    outcome = mmc.sanitize(EMMC, runner, clock=FakeClock())
    assert outcome.ok
    assert [transition.detail for transition in outcome.transitions[:4]] == [
        "secure-erase", "Secure Erase is not supported in /dev/mmcblk0", "discard",
        "Discard Succeed!",
    ]


def test_emmc_sanitize_refused() -> None:
    runner = ScriptedRunner()
    runner.expect("mmc", "erase", "secure-erase", stdout=text("mmc/secure-erase-ok.txt"))
    runner.expect("mmc", "sanitize", returncode=1, stderr=text("mmc/sanitize-failed.stderr"))
    events = Events()
    outcome = mmc.sanitize(EMMC, runner, events, FakeClock())
    assert not outcome.ok and outcome.reason == mmc.SANITIZE_FAILED
    assert "EXT_CSD[165]" in outcome.transitions[-1].detail
    assert events.received[-1].error == mmc.SANITIZE_FAILED


def test_emmc_erase_failure_stops_before_sanitize() -> None:
    runner = ScriptedRunner().expect(
        "mmc", "erase", "secure-erase", returncode=1, stderr="Could not read EXT_CSD\n"
    )
    outcome = mmc.sanitize(EMMC, runner, clock=FakeClock())
    assert not outcome.ok and outcome.reason == mmc.ERASE_FAILED
    assert not runner.ran("mmc", "sanitize")

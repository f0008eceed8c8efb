"""Opening an ATA Host Protected Area (volatile), against hdparm -N outputs from a real drive."""

from __future__ import annotations

from pathlib import Path

from agent.wipe.firmware import hidden
from tests.firmware_fakes import FakeClock, firmware_fixture
from tests.replay import ScriptedRunner

DEVICE = "/dev/sdc"
VISIBLE, NATIVE = 310_484_656, 312_581_808
SET_VOLATILE = ("hdparm", "--yes-i-know-what-i-am-doing", "-N", str(NATIVE), DEVICE)
READ_BACK = ("hdparm", "-N", DEVICE)


def sysfs_with_size(tmp_path: Path, sectors: int) -> Path:
    block = tmp_path / "class" / "block" / "sdc"
    (block / "device").mkdir(parents=True)
    (block / "device" / "rescan").write_text("")
    (block / "size").write_text(f"{sectors}\n")
    return tmp_path


def test_hidden_area_opened_until_power_off_and_seen_by_the_kernel(tmp_path: Path) -> None:
    sysfs = sysfs_with_size(tmp_path, NATIVE)
    runner = ScriptedRunner()
    runner.expect(*SET_VOLATILE, stdout=firmware_fixture("hpa/set-max-volatile.txt"))
    runner.expect(*READ_BACK, stdout=firmware_fixture("hpa/hdparm-N-disabled.txt"))
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner, sysfs=sysfs,
                                        clock=FakeClock())

    assert outcome.restored and outcome.volatile
    assert outcome.reason == hidden.RESTORED_VOLATILE
    assert outcome.sectors_after == NATIVE
    assert outcome.kernel_bytes_after == NATIVE * 512
    assert (sysfs / "class/block/sdc/device/rescan").read_text() == "1"
    assert [step.state for step in outcome.steps] == [
        "set_volatile", "drive_reports", "kernel_rescan", "kernel_size",
    ]
    assert outcome.steps[0].detail == (
        "setting max visible sectors to 312581808 (temporary); "
        "max sectors = 312581808/312581808, HPA is disabled"
    )
    assert not any(word.startswith("p") for word in runner.calls[0][3:4])  # no "p": volatile
    assert outcome.to_json()["commands"][0]["argv"] == list(SET_VOLATILE)


def test_accessible_max_address_drive_is_said_to_keep_the_change(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    runner.expect(*SET_VOLATILE, stdout=firmware_fixture("hpa/set-max-amax.txt"))
    runner.expect(*READ_BACK, stdout=firmware_fixture("hpa/hdparm-N-amax-disabled.txt"))
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner,
                                        sysfs=sysfs_with_size(tmp_path, NATIVE))
    assert outcome.restored and not outcome.volatile
    assert outcome.reason == hidden.RESTORED_LASTING


def test_drive_that_keeps_its_limit_is_reported(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    runner.expect(*SET_VOLATILE, stdout=firmware_fixture("hpa/set-max-volatile.txt"))
    runner.expect(*READ_BACK, stdout=firmware_fixture("hpa/hdparm-N-enabled.txt"))
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner,
                                        sysfs=sysfs_with_size(tmp_path, VISIBLE))
    assert not outcome.restored and outcome.reason == hidden.DRIVE_KEPT_LIMIT
    assert outcome.sectors_after == VISIBLE


def test_drive_that_refuses_the_new_size(tmp_path: Path) -> None:
    runner = ScriptedRunner().expect(
        *SET_VOLATILE, returncode=5, stderr=" SET_MAX_ADDRESS failed: Input/output error\n"
    )
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner, sysfs=tmp_path)
    assert not outcome.restored and outcome.reason == hidden.DRIVE_REFUSED
    assert len(runner.calls) == 1


def test_kernel_that_still_sees_the_old_size(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    runner.expect(*SET_VOLATILE, stdout=firmware_fixture("hpa/set-max-volatile.txt"))
    runner.expect(*READ_BACK, stdout=firmware_fixture("hpa/hdparm-N-disabled.txt"))
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner,
                                        sysfs=sysfs_with_size(tmp_path, VISIBLE))
    assert not outcome.restored and outcome.reason == hidden.KERNEL_KEPT_SIZE
    assert outcome.kernel_bytes_after == VISIBLE * 512


def test_missing_sysfs_entry_is_recorded_not_raised(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    runner.expect(*SET_VOLATILE, stdout=firmware_fixture("hpa/set-max-volatile.txt"))
    runner.expect(*READ_BACK, stdout=firmware_fixture("hpa/hdparm-N-disabled.txt"))
    outcome = hidden.restore_native_max(DEVICE, VISIBLE, NATIVE, runner, sysfs=tmp_path)
    assert not outcome.restored and outcome.reason == hidden.KERNEL_KEPT_SIZE
    assert [step.state for step in outcome.steps][-2:] == [
        "kernel_rescan_failed", "kernel_size_unreadable",
    ]


def test_nothing_hidden_runs_nothing(tmp_path: Path) -> None:
    runner = ScriptedRunner()
    outcome = hidden.restore_native_max(DEVICE, NATIVE, NATIVE, runner, sysfs=tmp_path)
    assert outcome.restored and outcome.reason == hidden.NOTHING_HIDDEN
    assert runner.calls == []

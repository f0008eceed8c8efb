"""The run engine's choices and estimates, without a screen: what a volunteer may and may not
choose, what the report then says, and how the time left is worked out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests

from agent import flow
from agent.events import ProgressEvent
from agent.i18n import set_language
from agent.inventory.exclusions import OTHER_STICK
from agent.inventory.model import KEPT_BY_CHOICE, Disk, Exclusion
from agent.network_errors import describe_failure
from agent.report.grade import decide_outcome, grade_machine
from agent.report.hubclient import HubError
from agent.run.engine import Run, RunError
from agent.run.progress import DiskProgress, ErasureProgress
from agent.tui.widgets.qr import qr_matrix, qr_text
from agent.wipe.firmware.model import NVME_SANITIZE_CRYPTO, OVERWRITE
from tests.scripted_run import fixture_probe, workshop_machine

pytestmark = pytest.mark.usefixtures("english")
GB = 1_000_000_000


def run_for(data_dir: Path, config: str = "") -> Run:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n' + config)
    run = Run(flow.open_station(data_dir), take_inventory=lambda _station: workshop_machine(),
              probe=fixture_probe, live_progress=False)
    run.inspect()
    return run


def test_a_disk_the_system_keeps_cannot_be_chosen_for_erasure(data_dir: Path) -> None:
    run = run_for(data_dir)
    with pytest.raises(RunError, match="/dev/sdb cannot be erased: the system was started"):
        run.keep("/dev/sdb", False)
    with pytest.raises(RunError, match="not a disk of this machine"):
        run.keep("/dev/sdz")
    assert [plan.path for plan in run.to_erase()] == ["/dev/nvme0n1", "/dev/sda"]


def test_a_disk_kept_by_choice_is_reported_as_kept_and_stays_in_the_grade(
        data_dir: Path) -> None:
    run = run_for(data_dir)
    run.keep("/dev/sda")
    machine = run.reported_machine()
    assert [(item.path, item.code) for item in machine.exclusions] == [
        ("/dev/sdb", "boot_device"), ("/dev/sda", KEPT_BY_CHOICE)]
    # It stays in the machine: it counts among the parts to check (here, as not checked).
    [untested] = [reason for reason in grade_machine(machine).reasons
                  if reason.code == "functions_not_tested"]
    assert "/dev/sda" in untested.text
    grade, outcome = run.grade()
    assert outcome.reason.code == "disk_kept_by_choice" and "/dev/sda" in outcome.reason.text
    assert decide_outcome(grade, []).reason.code == "erased_and_usable"


def test_methods_offered_follow_the_policy(data_dir: Path) -> None:
    run = run_for(data_dir)
    choices = run.method_choices("/dev/nvme0n1")
    assert (choices[0].method, choices[0].first_step, choices[0].level) == (
        "auto", NVME_SANITIZE_CRYPTO, "purge")
    assert all(choice.first_step == OVERWRITE and choice.level == "clear"
               for choice in choices[1:])
    run.set_method("/dev/nvme0n1", "dodshort")
    plan = run.disks["/dev/nvme0n1"].plan
    assert plan is not None and plan.methods == (OVERWRITE,)
    assert plan.overwrite.method == "dodshort"
    with pytest.raises(RunError):
        run.set_method("/dev/nvme0n1", "shred-it-twice")
    # A workshop that forces an overwrite leaves no firmware choice to the volunteer.
    forced = run_for(data_dir, '[erase]\nmethod = "zero"\n')
    assert "auto" not in [choice.method for choice in forced.method_choices("/dev/nvme0n1")]


@pytest.mark.parametrize(("answer", "asked", "unfreezes"),
                         [("", True, False), ("allow_unfreeze = true\n", False, True),
                          ("allow_unfreeze = false\n", False, False)])
def test_the_frozen_drive_question_and_its_answer_in_advance(
        data_dir: Path, answer: str, asked: bool, unfreezes: bool) -> None:
    run = run_for(data_dir, "[erase]\n" + answer)
    assert bool(run.frozen_disks()) == asked
    plan = run.disks["/dev/sda"].plan
    assert plan is not None and plan.needs_unfreeze == unfreezes
    if asked:
        run.allow_unfreeze(True)
        plan = run.disks["/dev/sda"].plan
        assert plan is not None and plan.needs_unfreeze and not run.frozen_disks()


def test_naming_devices_keeps_the_others(data_dir: Path) -> None:
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    run = Run(flow.open_station(data_dir), take_inventory=lambda _station: workshop_machine(),
              probe=fixture_probe, live_progress=False)
    run.inspect(devices=["/dev/sda"])
    assert [plan.path for plan in run.to_erase()] == ["/dev/sda"]
    assert run.disks["/dev/nvme0n1"].keep


def test_looking_again_keeps_what_was_chosen(data_dir: Path) -> None:
    run = run_for(data_dir)
    run.keep("/dev/sda")
    run.set_method("/dev/nvme0n1", "zero")
    run.inspect()
    assert run.disks["/dev/sda"].keep and run.disks["/dev/nvme0n1"].method == "zero"


def test_time_left_covers_every_pass_and_the_read_back() -> None:
    size = 100 * GB
    progress = ErasureProgress()
    progress.start([workshop_machine().disks[0]], {"/dev/nvme0n1": "full"})
    # Pass 2 of 3, a quarter written, at 200 MB/s: 3/4 of this pass, one more, then the read.
    progress.event(ProgressEvent("/dev/nvme0n1", "write", size // 4, size, 200e6,
                                 pass_number=2, pass_count=3))
    [disk] = progress.snapshot()
    disk = DiskProgress(**{**disk.__dict__, "size_bytes": size})
    assert disk.seconds_left() == pytest.approx((0.75 * size + size + size) / 200e6)
    assert disk.fraction() == pytest.approx(1.25 / 4)
    progress.event(ProgressEvent("/dev/nvme0n1", "failed", 0, size, error="DiskVanished"))
    assert progress.snapshot()[0].over and progress.seconds_left() == 0.0


def test_a_drive_still_frozen_after_the_sleep_says_so_for_the_rest_of_its_erasure() -> None:
    from agent.wipe.firmware.unfreeze import STILL_FROZEN

    progress = ErasureProgress()
    progress.start([workshop_machine().disks[1]], {})
    progress.event(ProgressEvent("/dev/sda", "unfreeze", 0, 128 * GB))
    progress.event(ProgressEvent("/dev/sda", "unfreeze", 0, 128 * GB, detail=STILL_FROZEN))
    progress.event(ProgressEvent("/dev/sda", "write", GB, 128 * GB, 300e6, pass_number=1,
                                 pass_count=1))
    [disk] = progress.snapshot()
    assert disk.phase == "write" and disk.note == STILL_FROZEN


def test_a_firmware_erase_without_progress_has_no_estimate() -> None:
    progress = ErasureProgress()
    progress.start([workshop_machine().disks[1]], {})
    progress.event(ProgressEvent("/dev/sda", "security-erase", 0, 128 * GB))
    assert progress.seconds_left() is None


def test_reasons_and_numbers_in_the_screens_language() -> None:
    machine = workshop_machine()
    small = machine.__class__(**{**machine.__dict__, "memory": machine.memory.__class__(
        3_900_000_000, (), None, None, "meminfo")})
    [reason] = [reason for reason in grade_machine(small).reasons
                if reason.code == "memory_under_4_gib"]
    assert reason.text == "3.6 GiB of memory, under 4 GiB"
    set_language("fr")
    assert reason.describe() == "3,6 Gio de mémoire, moins de 4 Gio"
    set_language("en")


def test_network_failures_read_as_plain_words() -> None:
    refused = requests.ConnectionError("HTTPConnectionPool(host='10.0.0.1', port=80): Max "
                                       "retries exceeded")
    assert describe_failure(refused).startswith("the platform cannot be reached")
    assert "HTTPConnectionPool" not in describe_failure(refused)
    assert describe_failure(requests.Timeout()).startswith("the platform did not answer")
    long = describe_failure(HubError("report refused (422): " + "[/b]" * 200))
    assert long.startswith("the platform refused it: report refused (422): [/b]")
    assert len(long) < 260


def test_the_qr_code_holds_exactly_the_modules_of_the_address() -> None:
    address = "http://10.0.2.2:8080/machines/rb1-" + "5c049c8f" * 8
    text = qr_text(address, quiet_zone=0).plain.splitlines()
    upper = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True),
             " ": (False, False)}
    light = []
    for line in text:
        pairs = [upper[char] for char in line]
        light.append([top for top, _bottom in pairs])
        light.append([bottom for _top, bottom in pairs])
    matrix = qr_matrix(address)
    assert [[not dark for dark in row] for row in matrix] == light[:len(matrix)]
    assert all(char.encode("cp437") for line in text for char in line)


def test_another_reeeboot_stick_is_erased_only_when_a_person_asks(data_dir: Path) -> None:
    machine = workshop_machine()
    other = Disk("sdc", "/dev/sdc", "usb", "SanDisk Ultra", "4C530002", 32 * GB, 512, False,
                 True, None)
    machine = dataclasses.replace(
        machine, disks=(*machine.disks, other),
        exclusions=(*machine.exclusions, Exclusion("/dev/sdc", OTHER_STICK, "another stick")))
    (data_dir / "reeeboot.toml").write_text('language = "en"\n')
    run = Run(flow.open_station(data_dir), take_inventory=lambda _station: machine,
              probe=fixture_probe, live_progress=False)
    run.inspect()
    stick = run.disks["/dev/sdc"]
    assert stick.releasable and not stick.erase and stick.plan is None
    with pytest.raises(RunError, match="/dev/sdc cannot be erased"):
        run.keep("/dev/sdc", False)
    with pytest.raises(RunError, match="/dev/sdb is not another reeeboot stick"):
        run.erase_other_stick("/dev/sdb")  # the stick the system runs from: never
    run.erase_other_stick("/dev/sdc")
    assert stick.erase and stick.plan is not None
    assert "/dev/sdc" in [plan.path for plan in run.to_erase()]
    assert [(item.path, item.code) for item in run.reported_machine().exclusions] == [
        ("/dev/sdb", "boot_device")]
    # Looked at again (a disk was plugged in): the answer stays.
    run.inspect()
    assert run.disks["/dev/sdc"].erase
    # And it can be kept after all, as any disk: then the report says so.
    run.keep("/dev/sdc")
    assert [(item.path, item.code) for item in run.reported_machine().exclusions] == [
        ("/dev/sdb", "boot_device"), ("/dev/sdc", KEPT_BY_CHOICE)]

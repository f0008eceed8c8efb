"""The erasure probe recorded into a machine profile and replayed from it.

A disk recorded with `inventory --record` replays to the capabilities and the plan the live probe
gave; a disk whose probe outputs the profile lacks reads as "not known", never as "no firmware
erase". The drives answer with the real outputs in tests/fixtures/drives, on a sysfs laid out
by the test the way the kernel lays it out.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import agent.inventory
import agent.inventory.source as machine_source
from agent.inventory import record_profile, take_inventory
from agent.inventory.disks import list_disks
from agent.inventory.model import Disk, Exclusion
from agent.inventory.source import LiveSource, ProfileSource
from agent.runner import CommandNotFound, CommandRecord
from agent.wipe import reasons
from agent.wipe.firmware.capabilities import DiskCapabilities, ProbeGap
from agent.wipe.firmware.model import (
    MMC_SANITIZE,
    NVME_FORMAT_CRYPTO,
    NVME_FORMAT_USER_DATA,
    NVME_SANITIZE_CRYPTO,
    OVERWRITE,
)
from agent.wipe.firmware.probe import probe_capabilities, probe_for, probe_from_source
from agent.wipe.policy import plan_erasure
from tests.helpers import sample_disk
from tests.replay import ScriptedRunner, fixture

PROFILES = Path(__file__).parent / "fixtures" / "profiles"
PROBE_PROGRAMS = ("nvme", "hdparm", "sg_opcodes", "mmc")


def disk(path: str, bus: str, rotational: bool = False) -> Disk:
    return replace(sample_disk(path, bus=bus), rotational=rotational)


@dataclass(frozen=True)
class Answer:
    argv: tuple[str, ...]
    stdout: str = ""
    returncode: int = 0
    stderr: str = ""


@dataclass(frozen=True)
class Drive:
    """A drive as the probe meets it: the disk, its sysfs, its tools' answers."""

    disk: Disk
    answers: tuple[Answer, ...] = ()
    sysfs: Callable[[Path], None] = lambda _root: None
    missing: tuple[str, ...] = ()  # programs not installed on the machine
    plan_starts_with: str = OVERWRITE

    def runner(self) -> Callable[..., CommandRecord]:
        """A fresh runner answering as the drive did: one for the live probe, one for the
        recording, since each consumes its answers."""
        scripted = ScriptedRunner()
        for answer in self.answers:
            scripted.expect(*answer.argv, stdout=answer.stdout, returncode=answer.returncode,
                            stderr=answer.stderr)

        def run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
            if argv[0] in self.missing:
                raise CommandNotFound(argv[0])
            return scripted(argv, timeout)

        return run


def nvme_sysfs(controller: str, namespaces: tuple[str, ...], *,
               multipath: bool = False) -> Callable[[Path], None]:
    """/sys/class/block/<ns>/device -> the controller, or with native multipath the subsystem
    (nvme-subsysN) whose directory lists the controller; each namespace has its nsid file."""
    def lay_out(root: Path) -> None:
        controller_dir = root / "class" / "nvme" / controller
        controller_dir.mkdir(parents=True)
        link_to = controller_dir
        if multipath:
            link_to = root / "class" / "nvme-subsystem" / "nvme-subsys0"
            (link_to / controller).mkdir(parents=True)
        for index, name in enumerate(namespaces, start=1):
            entry = f"{controller}c0n{index}" if multipath else name
            (controller_dir / entry).mkdir()
            block = root / "class" / "block" / name
            block.mkdir(parents=True)
            (block / "device").symlink_to(link_to)
            (block / "nsid").write_text(f"{index}\n")

    return lay_out


def id_ctrl(target: str, drive: str) -> Answer:
    return Answer(("nvme", "id-ctrl", target, "-o", "json"), fixture(f"drives/{drive}"))


def without_timings(capabilities: DiskCapabilities) -> DiskCapabilities:
    """A profile keeps what a command answered, not how long it took."""
    return replace(capabilities, commands=[replace(record, seconds=0.0)
                                           for record in capabilities.commands])


MICRON_9300 = Drive(
    disk("/dev/nvme0n1", "nvme"),
    (id_ctrl("/dev/nvme0", "nvme-micron-9300/id-ctrl.txt"),
     Answer(("nvme", "list-ns", "/dev/nvme0"), returncode=22, stderr="NVMe status: x\n")),
    nvme_sysfs("nvme0", ("nvme0n1",)),
    plan_starts_with=NVME_FORMAT_CRYPTO,
)

DRIVES = {
    "nvme-sanitize-namespaces-from-sysfs": Drive(
        disk("/dev/nvme0n1", "nvme"),
        (id_ctrl("/dev/nvme0", "nvme-wdc-sn730/id-ctrl.json"),
         Answer(("nvme", "list-ns", "/dev/nvme0"), returncode=1, stderr="list-ns: failed\n")),
        nvme_sysfs("nvme0", ("nvme0n1",)),
        plan_starts_with=NVME_SANITIZE_CRYPTO,
    ),
    "nvme-format-crypto": MICRON_9300,
    "nvme-two-namespaces-plain-text": Drive(
        disk("/dev/nvme1n2", "nvme"),
        (Answer(("nvme", "id-ctrl", "/dev/nvme1", "-o", "json"), returncode=1,
                stderr="Invalid output format: json\n"),
         Answer(("nvme", "id-ctrl", "/dev/nvme1"),
                fixture("drives/nvme-samsung-pm1733/id-ctrl.txt")),
         Answer(("nvme", "list-ns", "/dev/nvme1"),
                fixture("drives/nvme-samsung-pm1733/list-ns.txt"))),
        nvme_sysfs("nvme1", ("nvme1n1", "nvme1n2")),
        plan_starts_with=NVME_FORMAT_CRYPTO,
    ),
    "nvme-multipath": Drive(
        disk("/dev/nvme0n1", "nvme"),
        (id_ctrl("/dev/nvme0", "nvme-solidigm-sbfpf2bu153t/id-ctrl.json"),
         Answer(("nvme", "list-ns", "/dev/nvme0"))),
        nvme_sysfs("nvme0", ("nvme0n1",), multipath=True),
        plan_starts_with=NVME_SANITIZE_CRYPTO,
    ),
    "sata-hidden-area": Drive(
        disk("/dev/sda", "sata", rotational=True),
        (Answer(("hdparm", "-I", "/dev/sda"),
                fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-I.txt")),
         Answer(("hdparm", "-N", "/dev/sda"),
                fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-N.txt")),
         Answer(("hdparm", "--dco-identify", "/dev/sda"),
                fixture("drives/hidden-area-forensicswiki/dco-identify.txt"))),
    ),
    "usb-without-passthrough": Drive(
        disk("/dev/sdb", "usb"),
        (Answer(("hdparm", "-I", "/dev/sdb"),
                fixture("drives/usb-no-ata-passthrough/hdparm-I.txt")),),
    ),
    "usb-hdparm-not-installed": Drive(disk("/dev/sdb", "usb"), missing=("hdparm",)),
    "sas": Drive(
        disk("/dev/sdc", "scsi", rotational=True),
        (Answer(("sg_opcodes", "--compact", "/dev/sdc"),
                fixture("drives/sas-seagate-st10000nm0226/sg_opcodes.txt")),
         Answer(("hdparm", "-I", "/dev/sdc"),
                fixture("drives/sas-seagate-st10000nm0226/hdparm-I.txt"), returncode=5)),
        plan_starts_with="scsi-sanitize-crypto",
    ),
    "emmc": Drive(
        disk("/dev/mmcblk0", "mmc"),
        (Answer(("mmc", "extcsd", "read", "/dev/mmcblk0"),
                fixture("drives/emmc-bredos/extcsd.txt")),),
        plan_starts_with=MMC_SANITIZE,
    ),
    "virtio": Drive(disk("/dev/vda", "virtio")),
}


def record(drive: Drive, sysfs: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What a recording LiveSource keeps of the drive's probe, through JSON as on disk."""
    recorder = LiveSource(record=True)
    with monkeypatch.context() as patch:
        patch.setattr(machine_source, "run_command", drive.runner())
        probe_from_source(drive.disk, recorder, sysfs)
    document: dict[str, Any] = json.loads(json.dumps(recorder.profile("a test", "a test")))
    return document


@pytest.mark.parametrize("name", sorted(DRIVES))
def test_a_recorded_drive_replays_as_the_live_probe_saw_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = DRIVES[name]
    sysfs = tmp_path / "sys"
    drive.sysfs(sysfs)
    live = probe_capabilities(drive.disk, drive.runner(), sysfs)
    profile = record(drive, sysfs, monkeypatch)
    shutil.rmtree(sysfs, ignore_errors=True)  # the replay must answer from the profile alone

    replayed = probe_from_source(drive.disk, ProfileSource(profile), sysfs)
    assert without_timings(replayed) == without_timings(live)
    live_plan = plan_erasure(drive.disk, live)
    assert plan_erasure(drive.disk, replayed) == live_plan
    assert live_plan.methods[0] == drive.plan_starts_with


def test_the_recording_keeps_the_sysfs_facts_and_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = DRIVES["nvme-multipath"]
    sysfs = tmp_path / "sys"
    drive.sysfs(sysfs)
    profile = record(drive, sysfs, monkeypatch)
    assert profile["links"] == {
        f"{sysfs}/class/block/nvme0n1/device": f"{sysfs}/class/nvme-subsystem/nvme-subsys0"}
    assert profile["files"][f"{sysfs}/class/block/nvme0n1/nsid"] == "1\n"
    assert profile["globs"][f"{sysfs}/class/nvme/nvme0/nvme*"] == [
        f"{sysfs}/class/nvme/nvme0/nvme0c0n1"]
    assert [command["argv"] for command in profile["commands"]] == [
        ["nvme", "id-ctrl", "/dev/nvme0", "-o", "json"], ["nvme", "list-ns", "/dev/nvme0"]]


def test_a_missing_tool_stays_unknown_after_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive = DRIVES["usb-hdparm-not-installed"]
    replayed = probe_from_source(drive.disk, ProfileSource(record(drive, tmp_path, monkeypatch)))
    # Not a bridge that drops ATA commands: nothing ran, so nothing is known.
    assert replayed.ata_passthrough is None
    assert replayed.gaps == [ProbeGap("hdparm -I", "hdparm: not installed")]
    plan = plan_erasure(drive.disk, replayed)
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN and not plan.firmware_known


def never_run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
    raise AssertionError(f"a recorded machine ran {' '.join(argv)} on this computer")


def test_an_nvme_recorded_with_format_support_gets_the_format_planned_on_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysfs = tmp_path / "sys"
    MICRON_9300.sysfs(sysfs)
    # The recorded machine's sysfs, moved to where a real recording keeps it.
    text = json.dumps(record(MICRON_9300, sysfs, monkeypatch)).replace(str(sysfs), "/sys")
    probe = probe_for(ProfileSource(json.loads(text)), run=never_run)

    capabilities = probe(MICRON_9300.disk)
    assert capabilities.nvme_controller == "/dev/nvme0" and capabilities.nvme_namespace_id == 1
    plan = plan_erasure(MICRON_9300.disk, capabilities)
    assert plan.methods == (NVME_FORMAT_CRYPTO, NVME_FORMAT_USER_DATA, OVERWRITE)
    assert plan.chain[-1].reason == reasons.OVERWRITE_FALLBACK and plan.firmware_known


def test_an_nvme_whose_outputs_the_profile_lacks_is_unknown_not_bare() -> None:
    source = ProfileSource.load(PROFILES / "lenovo-thinkpad-a485.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pySMART warns of disks its own calls cannot see
        [nvme] = list_disks(source, with_smart=False)
    assert nvme.bus == "nvme"
    capabilities = probe_for(source, run=never_run)(nvme)
    assert capabilities.nvme is None and capabilities.commands == []
    assert ProbeGap("nvme id-ctrl", "not in the machine profile") in capabilities.gaps
    plan = plan_erasure(nvme, capabilities)
    assert plan.methods == (OVERWRITE,)
    assert plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN
    assert not plan.firmware_known


@pytest.mark.parametrize("path", sorted(PROFILES.glob("*.expected.json")),
                         ids=lambda path: path.name.removesuffix(".expected.json"))
def test_no_shipped_profile_claims_a_disk_has_no_firmware_erase(path: Path) -> None:
    source = ProfileSource.load(path.with_name(path.name.replace(".expected", "")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disks = list_disks(source, with_smart=False)
    probe = probe_for(source, run=never_run)
    plans = {disk.path: plan_erasure(disk, probe(disk)) for disk in disks}
    assert plans
    for disk in disks:
        plan = plans[disk.path]
        # None of these drives has published probe outputs showing it offers nothing.
        assert plan.chain[-1].reason != reasons.OVERWRITE_ONLY
        if disk.bus == "mmc":  # the one drive whose own outputs the profile holds
            assert plan.methods[0] == MMC_SANITIZE and plan.firmware_known
        elif disk.bus not in ("virtio", "loop", "unknown"):
            assert not plan.firmware_known


def test_probe_for_this_computer_runs_the_live_probe() -> None:
    drive = DRIVES["sata-hidden-area"]
    for source in (None, LiveSource()):
        capabilities = probe_for(source, run=drive.runner())(drive.disk)
        assert capabilities == probe_capabilities(drive.disk, drive.runner())
        assert capabilities.ata is not None


# --- inventory --record ---------------------------------------------------------------------


@dataclass
class RecordedMachine:
    """This computer's inventory with drives of the fixtures put in place of its disks."""

    drives: list[Drive]
    excluded: str
    ran: list[tuple[str, ...]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        disks = [drive.disk for drive in self.drives]
        monkeypatch.setattr(agent.inventory, "list_disks", lambda *_a, **_k: disks)
        monkeypatch.setattr(agent.inventory, "find_exclusions", lambda *_a, **_k: [
            Exclusion(self.excluded, "boot_device", "the stick")])
        real_run = machine_source.run_command
        drive_runners = {drive.disk.path: drive.runner() for drive in self.drives}

        def run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
            if argv[0] not in PROBE_PROGRAMS:
                return real_run(argv, timeout=timeout)  # dmidecode and the like: this computer
            self.ran.append(tuple(argv))
            path = next(p for p in drive_runners if any(arg.startswith(p) for arg in argv))
            return drive_runners[path](argv, timeout)

        monkeypatch.setattr(machine_source, "run_command", run)


def test_inventory_record_keeps_the_probe_of_every_disk_listed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names no test machine has, so this computer's /sys knows none of them (the NVMe disk's
    # controller is "not found" alike when recording and replaying).
    drives = [
        Drive(disk("/dev/nvme7n1", "nvme"),
              (id_ctrl("/dev/nvme7n1", "nvme-wdc-sn730/id-ctrl.json"),)),
        DRIVES["sata-hidden-area"],
        DRIVES["emmc"],
    ]
    machine = RecordedMachine(drives, excluded="/dev/mmcblk0")
    machine.install(monkeypatch)
    path = tmp_path / "m.json"
    recorded = record_profile(path, "a test", data_dir=data_dir)
    # The excluded disk was asked too: a replay may show any disk's plan.
    assert ("mmc", "extcsd", "read", "/dev/mmcblk0") in machine.ran

    source = ProfileSource.load(path)
    for drive in drives:
        live = probe_capabilities(drive.disk, drive.runner())
        replayed = probe_from_source(drive.disk, source)
        assert without_timings(replayed) == without_timings(live), drive.disk.path
        assert plan_erasure(drive.disk, replayed) == plan_erasure(drive.disk, live)
    # The drive identified, but without its controller and namespace id nothing can be sent.
    nvme_plan = plan_erasure(drives[0].disk, probe_from_source(drives[0].disk, source))
    assert nvme_plan.chain[0].reason == reasons.OVERWRITE_FIRMWARE_UNKNOWN

    replayed_machine = take_inventory(data_dir, source=source)
    assert replayed_machine.to_json() == recorded.to_json()
    assert "nvme-id-ctrl-nvme7n1.json" in {item.name for item in recorded.evidence}

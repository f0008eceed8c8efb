"""The capability probe runs the right tools per bus, keeps their records, and never raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from agent.inventory.model import Disk
from agent.runner import CommandNotFound, CommandRecord
from agent.wipe import reasons
from agent.wipe.firmware.capabilities import HiddenArea, ProbeGap
from agent.wipe.firmware.probe import probe_capabilities
from agent.wipe.policy import plan_erasure
from tests.helpers import sample_disk
from tests.replay import ScriptedRunner, fixture


def disk(path: str, bus: str) -> Disk:
    return replace(sample_disk(path, bus=bus), rotational=False)


def fake_nvme_sysfs(root: Path, namespace: str = "nvme0n1", controller: str = "nvme0",
                    nsid: int = 1, siblings: tuple[str, ...] = ()) -> Path:
    """/sys/class/block/<ns>/device -> /sys/class/nvme/<ctrl>, as the kernel lays it out."""
    controller_dir = root / "class" / "nvme" / controller
    controller_dir.mkdir(parents=True)
    for name in (namespace, *siblings):
        (controller_dir / name).mkdir()
    block = root / "class" / "block" / namespace
    block.mkdir(parents=True)
    (block / "device").symlink_to(controller_dir)
    (block / "nsid").write_text(f"{nsid}\n")
    return root


def test_nvme_probe_reads_controller_and_namespaces(tmp_path: Path) -> None:
    sysfs = fake_nvme_sysfs(tmp_path)
    runner = (ScriptedRunner()
              .expect("nvme", "id-ctrl", "/dev/nvme0", "-o", "json",
                      stdout=fixture("drives/nvme-wdc-sn730/id-ctrl.json"))
              .expect("nvme", "list-ns", "/dev/nvme0", stdout="[   0]:0x1\n"))
    capabilities = probe_capabilities(disk("/dev/nvme0n1", "nvme"), runner, sysfs)
    assert capabilities.nvme_controller == "/dev/nvme0"
    assert capabilities.nvme_namespace_id == 1
    assert capabilities.nvme_active_namespaces == (1,)
    assert capabilities.nvme is not None and capabilities.nvme.sanitize_crypto
    assert [record.argv[:2] for record in capabilities.commands] == [
        ("nvme", "id-ctrl"), ("nvme", "list-ns")]
    assert capabilities.gaps == []
    assert runner.answers == []


def test_nvme_probe_falls_back_to_text_and_to_sysfs_namespaces(tmp_path: Path) -> None:
    sysfs = fake_nvme_sysfs(tmp_path, namespace="nvme1n1", controller="nvme1",
                            siblings=("nvme1n2",))
    runner = (ScriptedRunner()
              .expect("nvme", "id-ctrl", "/dev/nvme1", "-o", "json", returncode=1,
                      stderr="Invalid output format: json\n")
              .expect("nvme", "id-ctrl", "/dev/nvme1",
                      stdout=fixture("drives/nvme-samsung-pm1733/id-ctrl.txt"))
              .expect("nvme", "list-ns", "/dev/nvme1", returncode=22, stderr="NVMe status: x\n"))
    capabilities = probe_capabilities(disk("/dev/nvme1n1", "nvme"), runner, sysfs)
    assert capabilities.nvme is not None
    assert capabilities.nvme.model == "SAMSUNG MZWLJ7T6HALA-00AU3"
    assert capabilities.nvme_active_namespaces == (1, 2)
    assert len(capabilities.commands) == 3
    assert capabilities.gaps == [
        ProbeGap("nvme id-ctrl", "Invalid output format: json"),
        ProbeGap("nvme list-ns", "NVMe status: x"),
    ]


def test_nvme_probe_follows_a_multipath_subsystem(tmp_path: Path) -> None:
    subsystem = tmp_path / "class" / "nvme-subsystem" / "nvme-subsys0"
    for name in ("nvme0", "nvme0n1"):
        (subsystem / name).mkdir(parents=True)
    (tmp_path / "class" / "nvme" / "nvme0" / "nvme0c0n1").mkdir(parents=True)
    block = tmp_path / "class" / "block" / "nvme0n1"
    block.mkdir(parents=True)
    (block / "device").symlink_to(subsystem)
    (block / "nsid").write_text("1\n")
    runner = (ScriptedRunner()
              .expect("nvme", "id-ctrl", "/dev/nvme0", "-o", "json",
                      stdout=fixture("drives/nvme-solidigm-sbfpf2bu153t/id-ctrl.json"))
              .expect("nvme", "list-ns", "/dev/nvme0", stdout=""))
    capabilities = probe_capabilities(disk("/dev/nvme0n1", "nvme"), runner, tmp_path)
    assert capabilities.nvme_controller == "/dev/nvme0"
    assert capabilities.nvme_active_namespaces == (1,)  # from nvme0c0n1 in sysfs


def test_nvme_probe_without_sysfs_controller_still_identifies(tmp_path: Path) -> None:
    runner = ScriptedRunner().expect("nvme", "id-ctrl", "/dev/nvme0n1", "-o", "json",
                                     stdout=fixture("drives/nvme-micron-9300/id-ctrl.txt"))
    capabilities = probe_capabilities(disk("/dev/nvme0n1", "nvme"), runner, tmp_path)
    assert capabilities.nvme_controller is None
    assert capabilities.nvme_namespace_id is None
    assert capabilities.nvme_active_namespaces is None
    assert capabilities.nvme is not None and capabilities.nvme.format_crypto_erase
    assert ProbeGap("nvme controller", "no controller found for nvme0n1 in sysfs") \
        in capabilities.gaps


def test_sata_probe_reads_identify_and_hidden_area() -> None:
    runner = (ScriptedRunner()
              .expect("hdparm", "-I", "/dev/sda",
                      stdout=fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-I.txt"))
              .expect("hdparm", "-N", "/dev/sda",
                      stdout=fixture("drives/sata-hdd-hpa-st9500420asg/hdparm-N.txt"))
              .expect("hdparm", "--dco-identify", "/dev/sda",
                      stdout=fixture("drives/hidden-area-forensicswiki/dco-identify.txt")))
    capabilities = probe_capabilities(disk("/dev/sda", "sata"), runner)
    assert capabilities.ata is not None and capabilities.ata.security.frozen
    assert capabilities.ata_passthrough is True
    assert capabilities.hidden_area == HiddenArea(
        976771055, 976773168, hpa_enabled=True, dco_real_max_sectors=1465149168)
    assert len(capabilities.commands) == 3


def test_sata_probe_keeps_hpa_when_dco_is_frozen() -> None:
    runner = (ScriptedRunner()
              .expect("hdparm", "-I", "/dev/sda",
                      stdout=fixture("drives/sata-hdd-wd2500aaks/hdparm-I.txt"))
              .expect("hdparm", "-N", "/dev/sda",
                      stdout=fixture("drives/sata-hdd-wd2500aaks/hdparm-N.txt"))
              .expect("hdparm", "--dco-identify", "/dev/sda", returncode=5,
                      stderr=" DCO is frozen\n"))
    capabilities = probe_capabilities(disk("/dev/sda", "sata"), runner)
    assert capabilities.hidden_area == HiddenArea(488397168, 488397168, hpa_enabled=False)
    assert capabilities.gaps == [ProbeGap("hdparm --dco-identify", "DCO is frozen")]


def test_usb_bridge_without_passthrough_stops_after_identify() -> None:
    runner = ScriptedRunner().expect("hdparm", "-I", "/dev/sdb",
                                     stdout=fixture("drives/usb-no-ata-passthrough/hdparm-I.txt"))
    capabilities = probe_capabilities(disk("/dev/sdb", "usb"), runner)
    assert capabilities.ata is None and capabilities.ata_passthrough is False
    assert capabilities.hidden_area is None
    assert [record.argv for record in capabilities.commands] == [("hdparm", "-I", "/dev/sdb")]
    assert capabilities.gaps == [ProbeGap("hdparm -I", "no usable answer in the output")]


def test_sas_probe_reads_sanitize_and_tries_ata_identify() -> None:
    runner = (ScriptedRunner()
              .expect("sg_opcodes", "--compact", "/dev/sda",
                      stdout=fixture("drives/sas-seagate-st10000nm0226/sg_opcodes.txt"))
              .expect("hdparm", "-I", "/dev/sda", returncode=5,
                      stdout=fixture("drives/sas-seagate-st10000nm0226/hdparm-I.txt")))
    capabilities = probe_capabilities(disk("/dev/sda", "scsi"), runner)
    assert capabilities.scsi_sanitize is not None and capabilities.scsi_sanitize.crypto_erase
    assert capabilities.ata is None and capabilities.ata_passthrough is False
    assert capabilities.gaps == [
        ProbeGap("hdparm -I", "HDIO_DRIVE_CMD(identify) failed: Input/output error")]


def test_emmc_probe() -> None:
    runner = ScriptedRunner().expect("mmc", "extcsd", "read", "/dev/mmcblk0",
                                     stdout=fixture("drives/emmc-bredos/extcsd.txt"))
    capabilities = probe_capabilities(disk("/dev/mmcblk0", "mmc"), runner)
    assert capabilities.emmc is not None and capabilities.emmc.sanitize
    assert capabilities.to_json()["commands"][0]["argv"] == [
        "mmc", "extcsd", "read", "/dev/mmcblk0"]


def test_virtual_disks_are_not_asked_anything() -> None:
    runner = ScriptedRunner()
    for bus in ("virtio", "loop"):
        capabilities = probe_capabilities(disk("/dev/vda", bus), runner)
        assert capabilities.commands == [] and capabilities.gaps == []
    assert runner.calls == []


def test_missing_tool_is_a_gap_not_an_exception() -> None:
    def missing(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        raise CommandNotFound(argv[0])

    capabilities = probe_capabilities(disk("/dev/sdb", "usb"), missing)
    assert capabilities.ata is None and capabilities.ata_passthrough is None
    assert capabilities.commands == []
    assert capabilities.gaps == [ProbeGap("hdparm -I", "hdparm: not installed")]
    # Not knowing is not the same as a bridge that drops ATA commands.
    plan = plan_erasure(disk("/dev/sdb", "usb"), capabilities)
    assert {entry.reason for entry in plan.ruled_out} == {reasons.ATA_IDENTIFY_UNKNOWN}

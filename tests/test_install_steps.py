"""The install step's decisions and files, without a disk: which disk gets the OS, the partition
table as sfdisk reports it, GRUB's configuration, the identity reset, the asset id's hostname."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

from agent.config import load_config
from agent.install.bootloader import BootloaderOutcome, _entries, grub_config
from agent.install.check import CheckOutcome
from agent.install.grow import GrowOutcome
from agent.install.identity_reset import IdentityReset, reset_identity, restore_boot, write_fstab
from agent.install.image import OsImage
from agent.install.job import InstallResult
from agent.install.layout import BIOS_BOOT, ESP, ROOT_X86_64, partition_node, read_layout
from agent.install.target import choose_target
from agent.inventory.model import Disk, Exclusion
from agent.report.asset import asset_id_for, default_asset_id, hostname_for
from agent.report.model import build_report, validate_report
from agent.runner import CommandRecord
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine

GIB = 1 << 30


def disk(path: str, *, size_gib: int, ssd: bool, bus: str = "sata", **changes: object) -> Disk:
    base = dataclasses.replace(sample_disk(path, serial=path, bus=bus), size_bytes=size_gib * GIB,
                               rotational=not ssd)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_ssd_is_preferred_over_a_larger_hdd() -> None:
    machine = sample_machine((disk("/dev/sda", size_gib=1000, ssd=False),
                              disk("/dev/nvme0n1", size_gib=240, ssd=True, bus="nvme")))
    choice = choose_target(machine)
    assert choice.disk is not None and choice.disk.path == "/dev/nvme0n1"
    assert not choice.ambiguous
    assert [d.path for d in choice.ranked] == ["/dev/nvme0n1", "/dev/sda"]


def test_two_equal_disks_are_ambiguous() -> None:
    machine = sample_machine((disk("/dev/sda", size_gib=500, ssd=True),
                              disk("/dev/sdb", size_gib=480, ssd=True)))
    choice = choose_target(machine)
    assert choice.ambiguous
    assert "/dev/sda" in choice.reason and "/dev/sdb" in choice.reason


def test_unhealthy_external_excluded_and_small_disks_are_never_chosen() -> None:
    machine = sample_machine(
        (disk("/dev/sda", size_gib=500, ssd=True, smart_health="failed"),
         disk("/dev/sdb", size_gib=500, ssd=True, bus="usb"),
         disk("/dev/sdc", size_gib=500, ssd=True),
         disk("/dev/sdd", size_gib=1, ssd=True),
         disk("/dev/sde", size_gib=64, ssd=False)),
        exclusions=(Exclusion("/dev/sdc", "boot_device", "the stick"),),
    )
    failed_erasure = WipeResult("/dev/sde", "/dev/sde", "m", "sata", 64 * GIB, result="failed")
    choice = choose_target(machine, [failed_erasure], image_size=2 * GIB)
    assert choice.disk is None and choice.ranked == ()
    assert choice.reason


def test_layout_from_sfdisk_json() -> None:
    table = {"partitiontable": {
        "label": "gpt", "device": "/dev/nvme0n1", "unit": "sectors", "sectorsize": 512,
        "lastlba": 10485726,
        "partitions": [
            {"node": "/dev/nvme0n1p1", "start": 2048, "size": 2048, "type": BIOS_BOOT},
            {"node": "/dev/nvme0n1p2", "start": 4096, "size": 262144, "type": ESP.lower()},
            {"node": "/dev/nvme0n1p3", "start": 266240, "size": 4194304, "type": ROOT_X86_64,
             "uuid": "53BA3318-D65A-4A31-8F88-02BF09FB203C", "name": "reeeboot-os"},
        ]}}

    def run(argv: object, timeout: float = 120.0) -> CommandRecord:
        return CommandRecord(("sfdisk", "--json", "/dev/nvme0n1"), 0, json.dumps(table), "", 0.0)

    layout = read_layout("/dev/nvme0n1", run)
    assert layout.bios_boot is not None and layout.bios_boot.number == 1
    assert layout.esp is not None and layout.esp.node == "/dev/nvme0n1p2"
    assert layout.root is not None and layout.root.number == 3 and layout.last == layout.root
    assert partition_node("/dev/sda", 3) == "/dev/sda3"
    assert partition_node("/dev/loop0", 3) == "/dev/loop0p3"


def test_grub_config_boots_the_root_by_uuid_with_extra_options() -> None:
    text = grub_config("199e060c-614f", "Debian GNU/Linux 12", "console=ttyS0,115200")
    assert "search --no-floppy --fs-uuid --set=root 199e060c-614f" in text
    assert "linux /vmlinuz root=UUID=199e060c-614f ro quiet console=ttyS0,115200" in text
    assert "initrd /initrd.img" in text and "/vmlinuz.old" in text


def test_efibootmgr_entries_are_read() -> None:
    output = ("BootCurrent: 0001\nBootOrder: 0003,0001\nBoot0001* UEFI QEMU HARDDISK\n"
              "Boot0003* Debian\tHD(2,GPT,...)/File(\\EFI\\debian\\grubx64.efi)\n")
    assert _entries(output) == ["Boot0001", "Boot0003"]


def test_identity_reset_on_an_installed_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name, content in (("etc/machine-id", "0123456789abcdef0123456789abcdef\n"),
                          ("etc/ssh/ssh_host_ed25519_key", "secret"),
                          ("etc/ssh/ssh_host_ed25519_key.pub", "public"),
                          ("etc/ssh/sshd_config", "Port 22\n"),
                          ("etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\timage-host\n"),
                          ("var/lib/systemd/random-seed", "seed"),
                          ("usr/lib/systemd/system/reeeboot-os-firstboot.service", "[Unit]\n")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    reset = reset_identity(root, "rb-abc123", {"image": "reeeboot-os-minimal"})
    assert (root / "etc/machine-id").read_text() == "uninitialized\n"
    assert reset.ssh_host_keys_removed == ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub")
    assert (root / "etc/ssh/sshd_config").exists()
    assert not (root / "var/lib/systemd/random-seed").exists()
    assert (root / "etc/hostname").read_text() == "rb-abc123\n"
    hosts = (root / "etc/hosts").read_text()
    assert "127.0.1.1\trb-abc123" in hosts and "image-host" not in hosts
    assert reset.firstboot_questions and (root / "etc/reeeboot-os/firstboot-pending").exists()
    write_fstab(root, "199e060c", "ext4", "A8B6-14FB")
    fstab = (root / "etc/fstab").read_text()
    assert "UUID=199e060c\t/\text4" in fstab and "UUID=A8B6-14FB\t/boot/efi\tvfat" in fstab


def test_asset_id_and_hostname() -> None:
    machine = sample_machine()
    assert asset_id_for(machine, "  ATELIER-0042 ") == "ATELIER-0042"
    assert hostname_for("ATELIER 0042/B") == "atelier-0042-b"
    assert hostname_for("###") == "ordinateur"
    derived = default_asset_id(machine)
    assert derived.startswith("RB-") and len(derived) == 11


def test_install_table_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "reeeboot.toml"
    path.write_text('[install]\nimage = "reeeboot-os-desktop"\ntarget = "sda"\nverify = false\n')
    config, problems = load_config(path)
    assert config.install_image == "reeeboot-os-desktop" and config.install_verify is False
    assert config.install_target == "auto"
    assert [problem.key for problem in problems] == ["install.target"]


def test_boot_files_return_from_the_stash(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "boot/efi").mkdir(parents=True)
    stash = root / "var/lib/reeeboot-os/boot"
    stash.mkdir(parents=True)
    (stash / "vmlinuz-6.1.0-56-amd64").write_bytes(b"kernel")
    (stash / "initrd.img-6.1.0-56-amd64").write_bytes(b"initrd")
    (root / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-56-amd64")
    assert restore_boot(root)
    assert (root / "vmlinuz").read_bytes() == b"kernel"
    assert (root / "boot/initrd.img-6.1.0-56-amd64").read_bytes() == b"initrd"
    assert not stash.exists() and (root / "boot/efi").is_dir()
    assert not restore_boot(root)


def test_install_results_fit_the_report_schema() -> None:
    """A failed install (nothing past the write) and a finished one both validate."""
    target = disk("/dev/nvme0n1", size_gib=240, ssd=True, bus="nvme")
    image = OsImage(name="reeeboot-os-minimal", version="20261128", source="stick")
    failed = InstallResult(image, target, "bios", "rb-abc", error="the image is corrupt")
    finished = InstallResult(
        image, target, "uefi", "rb-abc", result="installed", bytes_written=807059456,
        verification={"result": "passed", "bytes_checked": 807059456, "first_mismatch": None},
        grow=GrowOutcome(True, 240 * GIB, "ext4", 240 * GIB - 4096),
        identity=IdentityReset("rb-abc", ("ssh_host_rsa_key",), True),
        bootloader=BootloaderOutcome(True, True, True, "Boot0003"),
        check=CheckOutcome((), 14181), image_sha256="ab" * 32)
    for result in (failed, finished):
        report = build_report(sample_machine((target,)), [], station_name="lyon-3",
                              station_key_id="0" * 64,
                              started_at=datetime.datetime.now(datetime.UTC),
                              install=result.to_json())
        assert validate_report(report) == [], result.result


def test_a_tool_missing_from_the_system_fails_the_install_not_the_run(tmp_path: Path) -> None:
    """efibootmgr, sfdisk... missing: the install is reported failed with the tool's name, the
    disk left unbootable, and nothing escapes to stop the walk-through."""
    import pytest

    from agent.install import job
    from agent.install.job import InstallOptions, install_image
    from agent.install.writer import WriteOutcome
    from agent.runner import CommandNotFound

    patch = pytest.MonkeyPatch()
    target = tmp_path / "disk.img"
    target.write_bytes(bytes(1 << 20))
    written = WriteOutcome(str(target), bytes_written=1 << 20, image_size=1 << 20, seconds=0.1,
                           ranges=1, checksum_type="sha256", image_sha256="0" * 64)
    unbootable: list[str] = []
    patch.setattr(job, "write_image", lambda *args, **kwargs: written)
    patch.setattr(job, "make_unbootable", unbootable.append)

    def missing(argv: object, timeout: float = 120.0) -> CommandRecord:
        raise CommandNotFound("sfdisk")

    try:
        result = install_image(
            OsImage("test-os", "1", "file", path=target), sample_disk(str(target)),
            InstallOptions(hostname="ws-1", boot_mode="uefi", verify=False), run=missing)
    finally:
        patch.undo()
    assert result.result == "failed"
    assert result.error == "sfdisk n'est pas installé sur ce système"
    assert unbootable == [str(target)]


def test_the_signed_loaders_go_onto_the_esp_and_the_check_finds_a_changed_one(
        tmp_path: Path) -> None:
    """Secure Boot needs shim and GRUB exactly as Debian's packages ship them: the install puts
    them at EFI/debian/ and at the fallback path, and the check compares every copy with the
    package's file (a real FAT image, through mtools, as on a disk)."""
    import subprocess

    from agent.install.bootloader import (
        FALLBACK_PATH,
        SHIM_PATH,
        SIGNED_LOADERS,
        _install_signed_uefi_loaders,
        has_signed_loaders,
    )
    from agent.install.check import _check_signed_loaders, _Findings
    from agent.runner import run

    root = tmp_path / "root"
    assert not has_signed_loaders(root)
    for number, source in enumerate(SIGNED_LOADERS):
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_bytes(bytes([number]) * 4096 + source.encode())
    assert has_signed_loaders(root)
    esp = tmp_path / "esp.img"
    subprocess.run(["mkfs.vfat", "-C", str(esp), "8192"], check=True, capture_output=True)
    uuid = "0f0e0d0c-0b0a-0908-0706-050403020100"
    _install_signed_uefi_loaders(root, str(esp), uuid, run)
    # Nothing of it is left in the installed system: the ESP holds what it wrote.
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.is_file()) == sorted(SIGNED_LOADERS)

    def esp_file(path: str) -> bytes:
        return subprocess.run(["mtype", "-i", str(esp), f"::/{path}"], check=True,
                              capture_output=True).stdout

    shim = (root / "usr/lib/shim/shimx64.efi.signed").read_bytes()
    assert esp_file(FALLBACK_PATH) == esp_file(SHIM_PATH) == shim
    assert uuid in esp_file("EFI/debian/grub.cfg").decode()
    clean = _Findings()
    _check_signed_loaders(root, str(esp), run, clean)
    assert clean.problems == []
    tampered = tmp_path / "tampered.efi"
    tampered.write_bytes(shim[:-1] + b"!")
    subprocess.run(["mcopy", "-o", "-i", str(esp), str(tampered), "::/EFI/BOOT/BOOTX64.EFI"],
                   check=True)
    found = _Findings()
    _check_signed_loaders(root, str(esp), run, found)
    [problem] = found.problems  # in the station's language: only the path is checked
    assert "EFI/BOOT/BOOTX64.EFI" in problem

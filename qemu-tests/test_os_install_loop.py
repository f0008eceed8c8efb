"""The built minimal OS image installed on a loop device by the real install step: partitions,
the grown file system, the identity reset, the boot loader files, the post-install check; and a
planted corruption in the image caught, leaving no partition table behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DiskFactory
from os_images import built_os_image

from agent.install.image import image_from_path
from agent.install.job import InstallOptions, InstallResult, install_image
from agent.install.layout import BIOS_BOOT, ESP, ROOT_X86_64
from agent.inventory.model import Disk

GIB = 1 << 30
DISK_BYTES = 5 * GIB


def _sfdisk(device: str) -> dict:
    return dict(json.loads(subprocess.run(["sfdisk", "--json", device], check=True,
                                          capture_output=True, text=True).stdout)["partitiontable"])


@pytest.fixture(scope="module")
def installed() -> Iterator[tuple[Disk, InstallResult, Path]]:
    """One install of the minimal image, shared by the checks below (it takes a while)."""
    backing = Path("/dev/shm") / f"reeeboot-installed-{os.getpid()}.img"
    with open(backing, "wb") as handle:
        handle.truncate(DISK_BYTES)
    device = subprocess.run(["losetup", "--find", "--show", "--partscan", str(backing)],
                            check=True, capture_output=True, text=True).stdout.strip()
    disk = Disk(name=Path(device).name, path=device, bus="loop", model="test disk",
                serial="installed", size_bytes=DISK_BYTES, logical_sector_size=512,
                rotational=False, removable=False)
    mount_point = Path(f"/run/reeeboot-test-root-{os.getpid()}")
    try:
        result = install_image(built_os_image(), disk,
                               InstallOptions(hostname="rb-test42", boot_mode="bios"))
        mount_point.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", f"{device}p3", str(mount_point)], check=True)
        yield disk, result, mount_point
    finally:
        subprocess.run(["umount", "--recursive", str(mount_point)], check=False)
        subprocess.run(["losetup", "-d", device], check=False)
        backing.unlink(missing_ok=True)


def test_install_reports_success(installed: tuple[Disk, InstallResult, Path]) -> None:
    _disk, result, _root = installed
    record = result.to_json()
    assert record["result"] == "installed", record["error"]
    assert record["verification"]["result"] == "passed"
    image = built_os_image()
    assert record["bytes_written"] == image.mapped_size
    assert record["verification"]["bytes_checked"] == image.mapped_size
    assert record["image"]["sha256"] == image.manifest.sha256  # type: ignore[union-attr]
    assert record["post_install_check"]["result"] == "passed", record["post_install_check"]
    assert record["post_install_check"]["files_verified"] > 1000


def test_partitions_and_grown_file_system(installed: tuple[Disk, InstallResult, Path]) -> None:
    disk, result, root = installed
    table = _sfdisk(disk.path)
    types = [partition["type"].upper() for partition in table["partitions"]]
    assert types == [BIOS_BOOT, ESP, ROOT_X86_64]
    last = table["partitions"][-1]
    sector = table.get("sectorsize", 512)
    # The root partition reaches the end of the disk (less the backup GPT: 33 sectors).
    assert (last["start"] + last["size"]) * sector > DISK_BYTES - (1 << 20)
    statistics = os.statvfs(root)
    file_system_bytes = statistics.f_blocks * statistics.f_frsize
    assert file_system_bytes > DISK_BYTES - 300 * (1 << 20)
    assert result.grow is not None and result.grow.grown
    assert result.grow.file_system_bytes is not None
    assert result.grow.file_system_bytes >= last["size"] * sector - (4 << 20)


def test_identity_reset(installed: tuple[Disk, InstallResult, Path]) -> None:
    _disk, _result, root = installed
    assert (root / "etc/machine-id").read_text() == "uninitialized\n"
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    assert (root / "etc/hostname").read_text() == "rb-test42\n"
    assert "127.0.1.1\trb-test42" in (root / "etc/hosts").read_text()
    assert (root / "etc/reeeboot-os/firstboot-pending").exists()
    record = json.loads((root / "etc/reeeboot-os/installed.json").read_text())
    assert record["image"] == "reeeboot-os-minimal"


def test_boot_loader_files(installed: tuple[Disk, InstallResult, Path]) -> None:
    disk, result, root = installed
    assert result.bootloader is not None
    assert result.bootloader.bios_grub and result.bootloader.uefi_grub
    assert result.bootloader.fallback_path
    assert result.bootloader.efi_entry is None  # booted "bios": no firmware entry to make
    assert result.bootloader.secure_boot_ready

    def on_esp(path: str) -> bytes:
        return subprocess.run(["mtype", "-i", f"{disk.path}p2", f"::/{path}"], check=True,
                              capture_output=True).stdout

    # Secure Boot's chain: Microsoft-signed shim where firmware looks, Debian's GRUB beside it.
    shim = (root / "usr/lib/shim/shimx64.efi.signed").read_bytes()
    grub = (root / "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed").read_bytes()
    assert on_esp("EFI/BOOT/BOOTX64.EFI") == on_esp("EFI/debian/shimx64.efi") == shim
    assert on_esp("EFI/BOOT/grubx64.efi") == on_esp("EFI/debian/grubx64.efi") == grub
    assert on_esp("EFI/debian/mmx64.efi")
    assert (root / "boot/grub/i386-pc/core.img").is_file()
    root_uuid = subprocess.run(["blkid", "-o", "value", "-s", "UUID", f"{disk.path}p3"],
                               check=True, capture_output=True, text=True).stdout.strip()
    assert f"search --no-floppy --fs-uuid --set=root {root_uuid}" in (
        root / "boot/grub/grub.cfg").read_text()
    assert f"UUID={root_uuid}\t/\t" in (root / "etc/fstab").read_text()
    with open(disk.path, "rb") as device:
        boot_sector = device.read(512)
    assert b"GRUB" in boot_sector  # GRUB's boot.img in the protective MBR
    assert boot_sector[510:] == b"\x55\xaa"


def test_first_boot_questions_answered_from_a_file(
    installed: tuple[Disk, InstallResult, Path], tmp_path: Path
) -> None:
    """The image's own first-boot program, run in the installed system with an answers file."""
    _disk, _result, root = installed
    answers = root / "tmp/answers"
    answers.write_text("language=en\nkeyboard=be\nfullname=Camille Martin\nusername=camille\n"
                       "password=s3cret-pass\n")
    done = subprocess.run(["chroot", str(root), "/usr/lib/reeeboot-os/firstboot", "--answers",
                           "/tmp/answers"], capture_output=True, text=True)
    answers.unlink()
    assert done.returncode == 0, done.stderr
    passwd = (root / "etc/passwd").read_text()
    assert "camille:x:1000:1000:Camille Martin" in passwd
    assert "camille" in next(line for line in (root / "etc/group").read_text().splitlines()
                             if line.startswith("sudo:"))
    assert 'XKBLAYOUT="be"' in (root / "etc/default/keyboard").read_text()
    assert (root / "etc/default/locale").read_text() == "LANG=en_GB.UTF-8\n"
    assert not (root / "etc/reeeboot-os/firstboot-pending").exists()


def test_planted_corruption_is_caught(partitioned_loop: DiskFactory, tmp_path: Path) -> None:
    image = built_os_image()
    assert image.path is not None and image.bmap_path is not None
    damaged = tmp_path / image.path.name
    shutil.copy(image.path, damaged)
    shutil.copy(image.bmap_path, tmp_path / image.bmap_path.name)
    with open(damaged, "r+b") as handle:
        handle.seek(damaged.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    disk = partitioned_loop(DISK_BYTES)
    result = install_image(image_from_path(damaged), disk,
                           InstallOptions(hostname="rb-test43", boot_mode="uefi"))
    assert result.result == "failed"
    assert result.error
    # Nothing bootable is left: no partition table.
    probe = subprocess.run(["blkid", "-p", "-o", "value", "-s", "PTTYPE", disk.path],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == ""

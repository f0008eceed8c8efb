"""The OS images image/build.sh made (out/os/), for the tests that install them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.install.image import OsImage, image_from_path, read_manifest
from agent.install.job import InstallOptions, InstallResult, install_image
from agent.inventory.model import Disk

OS_DIR = Path(__file__).resolve().parent.parent / "out" / "os"


def built_os_image(name: str = "reeeboot-os-minimal") -> OsImage:
    """The newest built image called `name`; its absence fails the test (build it first)."""
    manifests = sorted(OS_DIR.glob(f"{name}_*.manifest.json"))
    if not manifests:
        profile = name.removeprefix("reeeboot-os-")
        pytest.fail(f"no {name} image in {OS_DIR}: build it with "
                    f"image/build.sh --os {profile} (--os-only to leave the stick as it is)")
    manifest = read_manifest(manifests[-1])
    return image_from_path(OS_DIR / manifest.file, source="file", manifest=manifest)



def install_on_file(image: OsImage, backing: Path, size: int, *, hostname: str,
                    kernel_options: str = "") -> InstallResult:
    """`image` installed by the real install step on a loop device over a new sparse file of
    `size` bytes, as a computer booted in BIOS mode gets it: both boot loaders (GRUB for BIOS,
    shim and GRUB at the UEFI fallback path), no firmware boot entry to make."""
    with open(backing, "wb") as handle:
        handle.truncate(size)
    device = subprocess.run(["losetup", "--find", "--show", "--partscan", str(backing)],
                            check=True, capture_output=True, text=True).stdout.strip()
    try:
        disk = Disk(name=Path(device).name, path=device, bus="loop", model="test disk",
                    serial=backing.stem, size_bytes=size, logical_sector_size=512,
                    rotational=False, removable=False)
        return install_image(image, disk, InstallOptions(
            hostname=hostname, boot_mode="bios", kernel_options=kernel_options))
    finally:
        subprocess.run(["losetup", "-d", device], check=False)

"""Making the installed disk boot: GRUB for legacy BIOS (core image in the BIOS boot partition)
and for UEFI, one grub.cfg for both, and on a machine that booted the stick through UEFI a
firmware boot entry (efibootmgr). The ESP is written with mtools, never mounted.

UEFI gets, when the OS image has them, the loaders Secure Boot accepts with the keys PCs ship
with: Microsoft-signed shim as EFI/debian/shimx64.efi, Debian-signed GRUB beside it, shim's
MokManager, and the same three at the removable-media path EFI/BOOT/ (shim as BOOTX64.EFI) that
firmware falls back to when it forgets its boot entries. Debian's signed GRUB reads
EFI/debian/grub.cfg, which sends it to the root file system's /boot/grub/grub.cfg; the kernel it
starts there is Debian's signed one. An OS image without them gets an unsigned GRUB core image
as EFI/debian/grubx64.efi and EFI/BOOT/BOOTX64.EFI (Secure Boot must then be off).

Both kinds are installed whatever this boot was: a disk moved to another computer, or firmware
switched between UEFI and legacy mode, still boots. The configuration boots /vmlinuz and
/initrd.img, which Debian keeps pointing at the newest kernel, so kernel updates need no GRUB
update.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.fsutil import write_durably
from agent.install.layout import DiskLayout, PartitionEntry
from agent.install.mounts import api_file_systems
from agent.install.steps import run_checked
from agent.runner import Runner

EFI_PLATFORM = "x86_64-efi"
EFI_LOADER_PATH = "EFI/debian/grubx64.efi"
FALLBACK_PATH = "EFI/BOOT/BOOTX64.EFI"
SHIM_PATH = "EFI/debian/shimx64.efi"
# The signed loaders as Debian 13's packages install them (shim-signed, grub-efi-amd64-signed,
# shim-helpers-amd64-signed), and where each goes on the ESP.
SIGNED_SHIM = "usr/lib/shim/shimx64.efi.signed"
SIGNED_GRUB = "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"
SIGNED_MOK_MANAGER = "usr/lib/shim/mmx64.efi.signed"
SIGNED_LOADERS = {
    SIGNED_SHIM: (SHIM_PATH, FALLBACK_PATH),
    SIGNED_GRUB: (EFI_LOADER_PATH, "EFI/BOOT/grubx64.efi"),
    SIGNED_MOK_MANAGER: ("EFI/debian/mmx64.efi", "EFI/BOOT/mmx64.efi"),
}
# Built into the UEFI core image: enough to find the root file system by UUID and read the
# rest of GRUB's modules from its /boot/grub.
EFI_CORE_MODULES = ("part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_uuid",
                    "normal", "configfile", "linux", "echo", "gzio", "all_video")
BOOT_ENTRY_LABEL = "Debian"


@dataclass(frozen=True)
class BootloaderOutcome:
    bios_grub: bool
    uefi_grub: bool
    fallback_path: bool  # EFI/BOOT/BOOTX64.EFI present on the ESP
    efi_entry: str | None  # the firmware boot entry made (e.g. "Boot0003"), UEFI boots only
    # UEFI through Microsoft-signed shim and Debian-signed GRUB, so with Secure Boot on too
    secure_boot_ready: bool = False

    def to_json(self) -> dict[str, object]:
        return {"bios_grub": self.bios_grub, "uefi_grub": self.uefi_grub,
                "fallback_path": self.fallback_path, "efi_entry": self.efi_entry,
                "secure_boot_ready": self.secure_boot_ready}


def grub_config(root_uuid: str, title: str, kernel_options: str) -> str:
    options = f"root=UUID={root_uuid} ro quiet {kernel_options}".strip()
    return f"""\
# Written by reeeboot's install step. It boots /vmlinuz and /initrd.img, which Debian keeps
# pointing at the newest kernel (and .old at the one before).
set default=0
set timeout=3
insmod part_gpt
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root {root_uuid}
menuentry '{title}' {{
    linux /vmlinuz {options}
    initrd /initrd.img
}}
menuentry '{title} (previous kernel)' {{
    linux /vmlinuz.old {options}
    initrd /initrd.img.old
}}
"""


def install_bootloader(
    layout: DiskLayout, root: Path, *, root_uuid: str, title: str, kernel_options: str,
    boot_mode: str, run: Runner,
) -> BootloaderOutcome:
    """GRUB onto the disk whose installed root is mounted at `root`."""
    write_durably(root / "boot/grub/grub.cfg",
                  grub_config(root_uuid, title.replace("'", ""), kernel_options).encode())
    bios = layout.bios_boot is not None and (root / "usr/lib/grub/i386-pc").is_dir()
    uefi = layout.esp is not None and (root / f"usr/lib/grub/{EFI_PLATFORM}").is_dir()
    if bios:
        with api_file_systems(root, run):
            run_checked(run, ["chroot", str(root), "grub-install", "--target=i386-pc",
                              "--boot-directory=/boot", layout.device], "grub-install")
    fallback = False
    signed = uefi and has_signed_loaders(root)
    if uefi and layout.esp is not None:
        if signed:
            _install_signed_uefi_loaders(root, layout.esp.node, root_uuid, run)
        else:
            _install_uefi_grub(root, layout.esp.node, root_uuid, run)
        fallback = esp_has(layout.esp.node, FALLBACK_PATH, run)
    entry = None
    if uefi and boot_mode == "uefi" and layout.esp is not None:
        loader = SHIM_PATH if signed else EFI_LOADER_PATH
        entry = add_boot_entry(layout.device, layout.esp, loader, run)
    return BootloaderOutcome(bios, uefi, fallback, entry, secure_boot_ready=signed)


def has_signed_loaders(root: Path) -> bool:
    return all((root / source).is_file() for source in SIGNED_LOADERS)


def signed_grub_config(root_uuid: str) -> str:
    """EFI/debian/grub.cfg: Debian's signed GRUB has its modules built in and reads this file
    from the ESP; it passes on to the configuration on the root file system."""
    return (f"search.fs_uuid {root_uuid} root\n"
            "set prefix=($root)/boot/grub\n"
            "configfile $prefix/grub.cfg\n")


def _install_signed_uefi_loaders(root: Path, esp_node: str, root_uuid: str,
                                 run: Runner) -> None:
    _make_esp_folders(esp_node, run)
    for source, targets in SIGNED_LOADERS.items():
        for target in targets:
            run_checked(run, ["mcopy", "-o", "-i", esp_node, str(root / source), f"::/{target}"],
                        "mcopy")
    with tempfile.TemporaryDirectory(prefix="reeeboot-esp-") as folder:
        config = Path(folder) / "grub.cfg"
        config.write_text(signed_grub_config(root_uuid))
        run_checked(run, ["mcopy", "-o", "-i", esp_node, str(config), "::/EFI/debian/grub.cfg"],
                    "mcopy")


def _install_uefi_grub(root: Path, esp_node: str, root_uuid: str, run: Runner) -> None:
    """What grub-install does for UEFI, without mounting the ESP: the modules into the root's
    /boot/grub, a core image that finds them by the root's UUID, copied onto the ESP with
    mtools as EFI/debian/grubx64.efi and as the fallback EFI/BOOT/BOOTX64.EFI."""
    modules = root / "boot/grub" / EFI_PLATFORM
    shutil.rmtree(modules, ignore_errors=True)
    shutil.copytree(root / "usr/lib/grub" / EFI_PLATFORM, modules)
    early = root / "boot/grub" / EFI_PLATFORM / "load.cfg"
    write_durably(early, (f"search.fs_uuid {root_uuid} root\n"
                          "set prefix=($root)/boot/grub\n").encode())
    run_checked(run, [
        "chroot", str(root), "grub-mkimage", "--format", EFI_PLATFORM,
        "--directory", f"/usr/lib/grub/{EFI_PLATFORM}", "--prefix", "/boot/grub",
        "--config", f"/boot/grub/{EFI_PLATFORM}/load.cfg",
        "--output", f"/boot/grub/{EFI_PLATFORM}/core.efi", *EFI_CORE_MODULES,
    ], "grub-mkimage")
    core = str(modules / "core.efi")
    _make_esp_folders(esp_node, run)
    for target in (EFI_LOADER_PATH, FALLBACK_PATH):
        run_checked(run, ["mcopy", "-o", "-i", esp_node, core, f"::/{target}"], "mcopy")


def _make_esp_folders(esp_node: str, run: Runner) -> None:
    for folder in ("::/EFI", "::/EFI/debian", "::/EFI/BOOT"):
        run(["mmd", "-D", "s", "-i", esp_node, folder])  # "already exists" is fine


def esp_has(esp_node: str, path: str, run: Runner) -> bool:
    return run(["mdir", "-b", "-i", esp_node, f"::/{path}"]).returncode == 0


def add_boot_entry(device: str, esp: PartitionEntry, loader: str, run: Runner) -> str | None:
    """A firmware boot entry for the installed loader (an ESP path), first in the boot order
    (efibootmgr)."""
    before = set(_entries(run_checked(run, ["efibootmgr"], "efibootmgr")))
    output = run_checked(run, [
        "efibootmgr", "--create", "--disk", device, "--part", str(esp.number),
        "--label", BOOT_ENTRY_LABEL, "--loader", "\\" + loader.replace("/", "\\"),
    ], "efibootmgr")
    made = [entry for entry in _entries(output) if entry not in before]
    return made[0] if made else None


def _entries(output: str) -> list[str]:
    """The "BootXXXX" names efibootmgr lists."""
    names = []
    for line in output.splitlines():
        head = line.split(" ", 1)[0].rstrip("*")
        if head.startswith("Boot") and len(head) == 8 and head[4:].isalnum():
            names.append(head)
    return names

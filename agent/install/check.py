"""The post-install check: the installed root, mounted read-only, holds a whole system that will
boot as this computer's own: its kernel and initrd, the boot loader files (for Secure Boot, the
signed loaders on the ESP byte for byte as Debian's packages installed them), the identity
reset, an fstab naming this disk, and every file Debian's packages installed, unchanged
(dpkg --verify).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.i18n import _
from agent.install.bootloader import (
    EFI_LOADER_PATH,
    FALLBACK_PATH,
    SIGNED_LOADERS,
    BootloaderOutcome,
    esp_has,
)
from agent.install.identity_reset import MACHINE_ID_FIRST_BOOT
from agent.runner import Runner

# Written by the OS image's build (image/os/finalize): what dpkg --verify said right then.
DPKG_BASELINE = "usr/lib/reeeboot-os/dpkg-verify-baseline"


@dataclass(frozen=True)
class CheckOutcome:
    problems: tuple[str, ...] = ()
    files_verified: int | None = None  # package files dpkg checked

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {"result": "passed" if self.passed else "failed",
                "problems": list(self.problems), "files_verified": self.files_verified}


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


def check_installed(
    root: Path, *, root_uuid: str, hostname: str, bootloader: BootloaderOutcome,
    esp_node: str | None, run: Runner,
) -> CheckOutcome:
    found = _Findings()
    found.expect((root / "etc/os-release").is_file() or (root / "usr/lib/os-release").is_file(),
                 _("no os-release: this is not an installed system"))
    for name in ("vmlinuz", "initrd.img"):
        found.expect(_resolves_inside(root, root / name),
                     _("/{name} does not lead to a file").format(name=name))
    grub_cfg = root / "boot/grub/grub.cfg"
    found.expect(grub_cfg.is_file() and root_uuid in grub_cfg.read_text(),
                 _("GRUB's configuration does not name this disk's root file system"))
    fstab = root / "etc/fstab"
    found.expect(fstab.is_file() and f"UUID={root_uuid}" in fstab.read_text(),
                 _("/etc/fstab does not name this disk's root file system"))
    if bootloader.bios_grub:
        found.expect((root / "boot/grub/i386-pc/core.img").is_file(),
                     _("GRUB for legacy BIOS is missing (boot/grub/i386-pc/core.img)"))
    if bootloader.uefi_grub and esp_node is not None:
        for path in (EFI_LOADER_PATH, FALLBACK_PATH):
            found.expect(esp_has(esp_node, path, run),
                         _("the UEFI loader {path} is missing").format(path=path))
        if bootloader.secure_boot_ready:
            _check_signed_loaders(root, esp_node, run, found)
    found.expect(_read(root / "etc/machine-id") == MACHINE_ID_FIRST_BOOT,
                 _("the machine id was not reset"))
    found.expect(not list((root / "etc/ssh").glob("ssh_host_*")),
                 _("the image's SSH host keys are still there"))
    found.expect(_read(root / "etc/hostname").strip() == hostname,
                 _("the hostname is not {hostname}").format(hostname=hostname))
    verified = _verify_packages(root, run, found)
    return CheckOutcome(tuple(found.problems), verified)


def _check_signed_loaders(root: Path, esp_node: str, run: Runner, found: _Findings) -> None:
    """Each signed loader on the ESP is the very file the package installed in the root, which
    dpkg --verify checks below: a changed byte voids its signature and Secure Boot would refuse
    the disk."""
    with tempfile.TemporaryDirectory(prefix="reeeboot-esp-") as folder:
        for source, targets in SIGNED_LOADERS.items():
            expected = (root / source).read_bytes()
            for target in targets:
                copy = Path(folder) / Path(target).name
                copy.unlink(missing_ok=True)
                run(["mcopy", "-n", "-i", esp_node, f"::/{target}", str(copy)])
                found.expect(copy.is_file() and copy.read_bytes() == expected, _(
                    "the signed UEFI loader {path} is not the one Debian signed").format(
                        path=target))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _resolves_inside(root: Path, link: Path) -> bool:
    """A symlink in the installed system resolves against its root, not against ours."""
    path = link
    for _hop in range(8):
        if not path.is_symlink():
            return path.is_file()
        target = Path(path.readlink())
        path = root / target.relative_to("/") if target.is_absolute() else path.parent / target
    return False


def _verify_packages(root: Path, run: Runner, found: _Findings) -> int | None:
    """dpkg --verify on the installed root: a package file missing or changed since the image
    was built is a problem. Configuration files are left out (the install step and the image
    build change them on purpose), and so is what the build itself changed, which the image
    lists in its baseline."""
    if not (root / "var/lib/dpkg/status").is_file():
        return None
    record = run(["dpkg", f"--root={root}", "--verify"], timeout=1800)
    if record.returncode != 0 and not record.stdout:
        found.problems.append(_("dpkg --verify failed: {error}").format(
            error=record.stderr.strip()[-300:]))
        return None
    expected = _changed_files(_read(root / DPKG_BASELINE))
    changed = [path for path in _changed_files(record.stdout) if path not in expected]
    if changed:
        found.problems.append(_("{count} package files are missing or changed, e.g. {files}")
                              .format(count=len(changed), files=", ".join(changed[:5])))
    listed = run(["dpkg-query", f"--root={root}", "--show", "--showformat=${Package}\\n"])
    return _count_package_files(root, listed.stdout.split())


def _changed_files(verify_output: str) -> list[str]:
    """The paths dpkg --verify reports, configuration files ("c") left out."""
    paths = []
    for line in verify_output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "c":
            continue
        if len(parts) >= 2:
            paths.append(parts[-1])
    return paths


def _count_package_files(root: Path, packages: list[str]) -> int:
    count = 0
    info = root / "var/lib/dpkg/info"
    for name in packages:
        for listing in (info / f"{name}.md5sums", info / f"{name}:amd64.md5sums"):
            if listing.is_file():
                count += sum(1 for line in listing.read_text(errors="replace").splitlines()
                             if line.strip())
    return count

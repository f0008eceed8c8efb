"""The install step: the OS image onto the target disk, verified, grown to the whole disk, made
this computer's own, made bootable, and checked. Only a disk that went through every step is
reported as installed; a disk that failed anywhere is left without a partition table, so that a
half-written system never boots."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.events import EventSink, ProgressEvent, ignore_events
from agent.i18n import _
from agent.install.bootloader import BootloaderOutcome, install_bootloader
from agent.install.check import CheckOutcome, check_installed
from agent.install.errors import ChecksumMismatch, ImageError
from agent.install.grow import GrowOutcome, grow_root
from agent.install.identity_reset import (
    IdentityReset,
    reset_identity,
    restore_boot,
    write_fstab,
)
from agent.install.image import OsImage
from agent.install.layout import read_layout
from agent.install.mounts import installed_root
from agent.install.steps import InstallStepFailed, run_checked
from agent.install.writer import make_unbootable, verify_written, write_image
from agent.inventory.model import Disk
from agent.runner import CommandNotFound, Feeder, Runner
from agent.runner import feed as feed_command
from agent.runner import run as run_command


@dataclass(frozen=True)
class InstallOptions:
    hostname: str
    boot_mode: str  # how this computer booted the stick: "uefi" or "bios"
    kernel_options: str = ""  # added to the installed system's kernel command line
    verify: bool = True  # read the written ranges back from the disk
    target_reason: str | None = None  # why this disk, for the report (e.g. a tie broken)


@dataclass
class InstallResult:
    image: OsImage
    target: Disk
    boot_mode: str
    hostname: str
    result: str = "failed"  # "installed" or "failed"
    error: str | None = None
    bytes_written: int = 0
    seconds: float = 0.0
    verification: dict[str, Any] = field(
        default_factory=lambda: {"result": "skipped", "bytes_checked": 0, "first_mismatch": None})
    grow: GrowOutcome | None = None
    identity: IdentityReset | None = None
    bootloader: BootloaderOutcome | None = None
    check: CheckOutcome | None = None
    image_sha256: str | None = None  # the raw image's: its manifest's, or computed while written
    target_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "error": self.error,
            "image": {"name": self.image.name, "version": self.image.version,
                      "sha256": self.image_sha256, "source": self.image.source},
            "target": {"path": self.target.path, "serial": self.target.serial,
                       "model": self.target.model, "size_bytes": self.target.size_bytes,
                       "reason": self.target_reason},
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "verification": self.verification,
            "boot_mode": self.boot_mode,
            "hostname": self.hostname,
            "bootloader": None if self.bootloader is None else self.bootloader.to_json(),
            "grow": None if self.grow is None else self.grow.to_json(),
            "identity": None if self.identity is None else self.identity.to_json(),
            "post_install_check": (
                {"result": "failed", "problems": [], "files_verified": None}
                if self.check is None else self.check.to_json()),
        }


def install_image(
    image: OsImage, target: Disk, options: InstallOptions, *,
    sink: EventSink = ignore_events, cancel: threading.Event | None = None,
    run: Runner = run_command, feed: Feeder = feed_command,
) -> InstallResult:
    result = InstallResult(image, target, options.boot_mode, options.hostname,
                           image_sha256=image.manifest.sha256 if image.manifest else None,
                           target_reason=options.target_reason)
    started = time.monotonic()
    try:
        written = write_image(image, target.path, progress=sink, cancel=cancel)
        result.bytes_written = written.bytes_written
        result.image_sha256 = result.image_sha256 or written.image_sha256
        if options.verify:
            checked = verify_written(image, target.path, written=written, progress=sink,
                                     cancel=cancel)
            result.verification = {"result": "passed" if checked.ok else "failed",
                                   "bytes_checked": checked.bytes_read,
                                   "first_mismatch": None}
            if not checked.ok:
                raise InstallStepFailed(_("the disk does not hold what was written"))
        _finish(result, options, sink, run, feed)
    except (ImageError, InstallStepFailed, OSError, CommandNotFound) as error:
        # A tool missing from the system (efibootmgr, sfdisk...) fails the install with its
        # name, like any other step: never an error that stops the whole run.
        result.error = (_("{program} is not installed on this system").format(
            program=error.program) if isinstance(error, CommandNotFound) else str(error))
        if isinstance(error, ChecksumMismatch) and error.on_disk:
            result.verification = {"result": "failed", "bytes_checked": 0,
                                   "first_mismatch": [error.start, error.end]}
        make_unbootable(target.path)
        _reread_partitions(target.path, run)
        sink(ProgressEvent(target.path, "failed", 0, 0, error=result.error, detail="install"))
    result.seconds = time.monotonic() - started
    if result.error is None:
        result.result = "installed"
        sink(ProgressEvent(target.path, "done", result.bytes_written, result.bytes_written,
                           detail="install"))
    return result


def _finish(result: InstallResult, options: InstallOptions, sink: EventSink, run: Runner,
            feed: Feeder) -> None:
    device = result.target.path
    sink(ProgressEvent(device, "grow", 0, 0, detail="install"))
    layout = read_layout(device, run)
    if layout.root is None:
        raise InstallStepFailed(_("the image has no Linux root partition"))
    layout, result.grow = grow_root(layout, run, feed)
    root = layout.root
    assert root is not None
    root_uuid = _blkid(root.node, "UUID", run)
    root_type = _blkid(root.node, "TYPE", run)
    esp_uuid = _blkid(layout.esp.node, "UUID", run) if layout.esp is not None else None

    sink(ProgressEvent(device, "configure", 0, 0, detail="install"))
    esp_node = layout.esp.node if layout.esp is not None else None
    with installed_root(root.node, run) as mounted:
        restore_boot(mounted)
        result.identity = reset_identity(mounted, options.hostname, _install_record(result))
        write_fstab(mounted, root_uuid, root_type, esp_uuid)
        result.bootloader = install_bootloader(
            layout, mounted, root_uuid=root_uuid, title=_os_name(mounted, result.image),
            kernel_options=options.kernel_options, boot_mode=options.boot_mode, run=run)
    run(["sync"])

    sink(ProgressEvent(device, "check", 0, 0, detail="install"))
    with installed_root(root.node, run, read_only=True) as mounted:
        result.check = check_installed(mounted, root_uuid=root_uuid, hostname=options.hostname,
                                       bootloader=result.bootloader, esp_node=esp_node, run=run)
    if not result.check.passed:
        raise InstallStepFailed(_("post-install check failed: {problems}").format(
            problems="; ".join(result.check.problems)))


def _install_record(result: InstallResult) -> dict[str, object]:
    """What /etc/reeeboot-os/installed.json tells the new owner (and a later workshop)."""
    return {"image": result.image.name, "version": result.image.version,
            "sha256": result.image_sha256}


def _reread_partitions(device: str, run: Runner) -> None:
    """The kernel reads the new partition table (or its absence) and udev makes the nodes.
    Best effort: without the tools the kernel reads it at the next boot anyway."""
    for argv in (["blockdev", "--rereadpt", device], ["udevadm", "settle", "--timeout=30"]):
        with contextlib.suppress(CommandNotFound):
            run(argv)


def _blkid(node: str, tag: str, run: Runner) -> str:
    value = run_checked(run, ["blkid", "-p", "-o", "value", "-s", tag, node], "blkid").strip()
    if not value:
        raise InstallStepFailed(_("{node} has no {tag}").format(node=node, tag=tag))
    return value


def _os_name(root: Path, image: OsImage) -> str:
    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            for line in (root / name).read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
        except OSError:
            continue
    return image.name

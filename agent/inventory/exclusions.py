"""Which disks must never be erased, by identity rather than by guessing.

A disk is excluded when the running system was started from it (the kernel's `root=`, the device
under `/` or under the lower layer of an overlay root, the station's data partition), when it
carries a reeeboot stick's partitions (another copy of the image), when one of its partitions is
mounted or used as swap, when another device is stacked on it, or when the kernel refuses us an
exclusive open (something else claims it).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.i18n import _
from agent.inventory.gpt import partition_names
from agent.inventory.model import Disk, Exclusion

SYS_BLOCK = Path("/sys/class/block")
SYS_FS_EROFS = Path("/sys/fs/erofs")  # one entry per mounted erofs, named by its block device
# A second reeeboot stick beside the boot stick (another station's copy): the volunteer's own
# stick may be either one when the firmware booted one and the root came from the other.
OTHER_STICK = "reeeboot_stick"
# The data and state partitions of image/repart/: GPT names, and file systems with their labels.
STICK_PARTITION_NAMES = {"REEEBOOT", "reeeboot-state"}
STICK_FILE_SYSTEMS = {("vfat", "REEEBOOT"), ("ext4", "reeeboot-state")}
GPT_READ_SECONDS = 5.0


@dataclass(frozen=True)
class Mount:
    device: str  # "major:minor"
    mountpoint: str
    fstype: str
    source: str
    options: str


def read_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Mount]:
    mounts = []
    for line in mountinfo.read_text().splitlines():
        before, _sep, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        mounts.append(
            Mount(
                device=fields[2],
                mountpoint=_unescape(fields[4]),
                fstype=tail[0],
                source=tail[1],
                options=tail[2] if len(tail) > 2 else "",
            )
        )
    return mounts


def _unescape(path: str) -> str:
    return path.encode().decode("unicode_escape")


def disk_of(block_name: str, sys_block: Path = SYS_BLOCK) -> str | None:
    """The whole disk a block device (disk or partition) belongs to."""
    node = sys_block / block_name
    if not node.exists():
        return None
    real = node.resolve()
    return real.parent.name if (real / "partition").exists() else real.name


def name_of_devnum(devnum: str) -> str | None:
    try:
        return Path(f"/sys/dev/block/{devnum}").resolve(strict=True).name
    except OSError:
        return None


def running_root_disk(mounts: list[Mount], sys_fs_erofs: Path = SYS_FS_EROFS) -> str | None:
    """The disk under the mounted root file system: the stick this system runs from.

    Not the kernel's `root=`, a name that every copy of the image shares: with two reeeboot
    sticks plugged in it may name either. A root mounted from a disk is listed with mount point
    / and its device number (an overlay's is 0:N). Under the RAM overlay of the live system the
    stick's erofs was mounted in the initrd and is no longer listed after the switch to the root
    file system; erofs names each file system it has mounted in /sys/fs/erofs/ by its block
    device, and the live system mounts one, its root. The udev rule that names the data and
    state partitions asks the same (image/extra/usr/lib/reeeboot/on-booted-stick)."""
    for mount in mounts:
        if mount.mountpoint == "/" and mount.device.split(":")[0] != "0":
            name = name_of_devnum(mount.device)
            return disk_of(name) if name else None
    devices = [entry.name for entry in sorted(sys_fs_erofs.glob("*"))
               if (SYS_BLOCK / entry.name).exists()]  # not "features"
    return disk_of(devices[0]) if len(devices) == 1 else None


def boot_disks(
    mounts: list[Mount], cmdline: str, data_dir: Path | None,
    sys_fs_erofs: Path = SYS_FS_EROFS,
) -> dict[str, str]:
    """Disk name -> what shows the system booted from it."""
    found: dict[str, str] = {}

    def add(block_name: str | None, evidence: str) -> None:
        disk = disk_of(block_name) if block_name else None
        if disk and disk not in found:
            found[disk] = evidence

    for argument in cmdline.split():
        if argument.startswith("root="):
            add(_resolve_spec(argument[5:]), argument)
    add(running_root_disk(mounts, sys_fs_erofs), "/")
    by_mountpoint = {mount.mountpoint: mount for mount in mounts}
    root = by_mountpoint.get("/")
    if root is not None and root.fstype == "overlay":
        for lower in _overlay_lowerdirs(root.options):
            holder = _mount_containing(mounts, lower)
            if holder is not None:
                add(name_of_devnum(holder.device), f"overlay lowerdir {lower}")
    if data_dir is not None:
        holder = _mount_containing(mounts, str(data_dir))
        if holder is not None and holder.mountpoint != "/":
            add(name_of_devnum(holder.device), f"data partition {holder.mountpoint}")
    return found


def _resolve_spec(spec: str) -> str | None:
    prefixes = {
        "PARTLABEL=": "/dev/disk/by-partlabel/",
        "PARTUUID=": "/dev/disk/by-partuuid/",
        "UUID=": "/dev/disk/by-uuid/",
        "LABEL=": "/dev/disk/by-label/",
    }
    for prefix, directory in prefixes.items():
        if spec.startswith(prefix):
            spec = directory + spec[len(prefix):]
            break
    if not spec.startswith("/dev/"):
        return None
    try:
        return Path(spec).resolve(strict=True).name
    except OSError:
        return None


def _overlay_lowerdirs(options: str) -> list[str]:
    for option in options.split(","):
        if option.startswith("lowerdir="):
            return [part for part in option[len("lowerdir="):].split(":") if part]
    return []


def _mount_containing(mounts: Iterable[Mount], path: str) -> Mount | None:
    best: Mount | None = None
    for mount in mounts:
        point = mount.mountpoint.rstrip("/") or "/"
        inside = path == point or path.startswith(point + "/") or point == "/"
        if inside and mount.device.split(":")[0] != "0" and (
            best is None or len(point) > len(best.mountpoint)
        ):
            best = mount
    return best


def find_exclusions(
    disks: Iterable[Disk],
    *,
    mounts: list[Mount] | None = None,
    cmdline: str | None = None,
    data_dir: Path | None = None,
    swaps: Path = Path("/proc/swaps"),
    sys_fs_erofs: Path = SYS_FS_EROFS,
) -> list[Exclusion]:
    mounts = read_mounts() if mounts is None else mounts
    cmdline = Path("/proc/cmdline").read_text() if cmdline is None else cmdline
    booted = boot_disks(mounts, cmdline, data_dir, sys_fs_erofs)
    mounted = _mounted_by_disk(mounts)
    swapping = _swaps_by_disk(swaps)
    exclusions = []
    for disk in disks:
        reason = _exclusion_for(disk, booted, mounted, swapping)
        if reason is not None:
            exclusions.append(Exclusion(disk.path, *reason))
    return exclusions


def _exclusion_for(
    disk: Disk,
    booted: dict[str, str],
    mounted: dict[str, list[tuple[str, str]]],
    swapping: dict[str, list[str]],
) -> tuple[str, str] | None:
    if disk.name in booted:
        reason = _("the running system was started from this disk ({evidence})")
        return "boot_device", reason.format(evidence=booted[disk.name])
    if carries_a_reeeboot_stick(disk):
        return OTHER_STICK, _("another reeeboot stick (another station's copy of the image): "
                              "it is erased only if a person asks for it on the screen")
    if disk.name in mounted:
        part, point = mounted[disk.name][0]
        return "mounted", _("{partition} is mounted on {mountpoint}").format(
            partition=part, mountpoint=point
        )
    if disk.name in swapping:
        return "swap", _("{partition} is in use as swap").format(partition=swapping[disk.name][0])
    holders = _holders(disk.name)
    if holders:
        return "held", _("in use by {holders}").format(holders=", ".join(holders))
    if _busy(disk.path):
        return "busy", _("the system refuses exclusive access (in use)")
    return None


def carries_a_reeeboot_stick(disk: Disk) -> bool:
    """Whether the disk has the partitions of a reeeboot stick: its data or its state partition,
    by their file systems' labels or by the names in the disk's GPT (read from the disk: no
    udev database needed). Every copy of the image has them; the stick the system runs from is
    excluded as the boot device before this is asked."""
    if any((partition.fstype, partition.label) in STICK_FILE_SYSTEMS
           for partition in disk.partitions):
        return True
    return bool(STICK_PARTITION_NAMES & set(partition_names_in_time(disk.path)))


def partition_names_in_time(path: str, seconds: float = GPT_READ_SECONDS) -> list[str]:
    """The disk's GPT names, unless reading its first sectors takes longer than `seconds`: a
    dying disk can keep a read for minutes in the kernel's retries, and the screen waits for
    the inventory. Such a disk is no working stick; its read is left to end on its own."""
    found: list[list[str]] = []
    reader = threading.Thread(target=lambda: found.append(partition_names(path)),
                              name=f"gpt {path}", daemon=True)
    reader.start()
    reader.join(seconds)
    return found[0] if found else []


def _mounted_by_disk(mounts: Iterable[Mount]) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    for mount in mounts:
        if mount.device.split(":")[0] == "0":
            continue  # virtual file systems
        name = name_of_devnum(mount.device)
        disk = disk_of(name) if name else None
        if disk:
            result.setdefault(disk, []).append((name or disk, mount.mountpoint))
    return result


def _swaps_by_disk(swaps: Path) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    try:
        lines = swaps.read_text().splitlines()[1:]
    except OSError:
        return result
    for line in lines:
        source = line.split()[0] if line.split() else ""
        if source.startswith("/dev/"):
            name = Path(source).resolve().name
            disk = disk_of(name)
            if disk:
                result.setdefault(disk, []).append(name)
    return result


def _holders(disk_name: str) -> list[str]:
    base = SYS_BLOCK / disk_name
    holders = [entry.name for entry in (base / "holders").glob("*")]
    for partition in base.glob(f"{disk_name}*"):
        holders.extend(entry.name for entry in (partition / "holders").glob("*"))
    return sorted(holders)


def _busy(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_EXCL)
    except OSError as error:
        return error.errno == errno.EBUSY
    os.close(fd)
    return False

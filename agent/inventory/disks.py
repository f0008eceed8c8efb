"""Disks from udev: every whole block device that could hold someone's data."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.inventory.blockinfo import disk_tree, partitions_of
from agent.inventory.model import Disk
from agent.inventory.smart import smart_health
from agent.inventory.smartinfo import SmartDetails, read_smart_details
from agent.inventory.source import LiveSource, MachineSource, UdevDevice

UDEV_DATA = "/run/udev/data"
# Kernel names that are never a donated computer's disk.
VIRTUAL_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd")
# An eMMC's hardware boot and RPMB partitions show up as disks of their own (mmcblk0boot0, 4 MiB):
# they are areas of the eMMC listed once as mmcblk0, and hold firmware, not someone's files.
EMMC_HARDWARE_PARTITION = re.compile(r"^mmcblk\d+(?:boot\d+|rpmb)$")


def list_disks(
    source: MachineSource | None = None, *, with_smart: bool = True, include_loop: bool = False
) -> list[Disk]:
    source = source or LiveSource()
    devices = [device for device in source.udev_devices("block")
               if _is_disk(device, include_loop)]
    # Each disk's commands wait on the drive, not on the CPU: asking all disks at once makes the
    # inventory as slow as the slowest disk, not as the sum of them (lsblk runs meanwhile).
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="inventory") as pool:
        tree = pool.submit(disk_tree, source)
        probes = [pool.submit(_probe, device, source, with_smart) for device in devices]
        disks = [_disk(device, probe.result(), tree.result())
                 for device, probe in zip(devices, probes, strict=True)]
    return sorted(disks, key=lambda disk: disk.name)


def _is_disk(device: UdevDevice, include_loop: bool) -> bool:
    name = device.sys_name
    if device.device_type != "disk":
        return False
    if name.startswith(VIRTUAL_PREFIXES) and not (include_loop and name.startswith("loop")):
        return False
    if EMMC_HARDWARE_PARTITION.match(name):
        return False
    return _int_attr(device, "size") > 0  # empty card readers and detached loop devices


def _path(device: UdevDevice) -> str:
    return device.device_node or f"/dev/{device.sys_name}"


def _probe(device: UdevDevice, source: MachineSource,
           with_smart: bool) -> tuple[SmartDetails | None, str | None]:
    path = _path(device)
    # Kept as evidence only: udev's database record of the disk (what `udevadm info` prints),
    # read as a file rather than through one more process per disk.
    major, minor = device.properties.get("MAJOR"), device.properties.get("MINOR")
    if major and minor:
        source.read_text(f"{UDEV_DATA}/b{major}:{minor}")
    if not with_smart:
        return None, None
    details = read_smart_details(path, source)[0]
    if details is not None:
        return details, details.health  # no verdict: the disk has no SMART (virtio, most USB)
    # smartctl older than 7.0 has no JSON: pySMART reads its text output instead.
    return None, smart_health(path, source)


def _disk(device: UdevDevice, probe: tuple[SmartDetails | None, str | None],
          tree: dict[str, dict[str, Any]]) -> Disk:
    details, health = probe
    return Disk(
        name=device.sys_name,
        path=_path(device),
        bus=bus_of(device),
        model=_model(device),
        serial=_serial(device),
        size_bytes=_int_attr(device, "size") * 512,
        logical_sector_size=_int_attr(device, "queue/logical_block_size") or 512,
        rotational=_int_attr(device, "queue/rotational") == 1,
        removable=_int_attr(device, "removable") == 1,
        smart_health=health,
        partitions=partitions_of(tree.get(device.sys_name, {})),
        wwn=(details.wwn if details else None) or device.properties.get("ID_WWN"),
        firmware=(details.firmware if details else None)
        or device.properties.get("ID_REVISION") or _str_attr(device, "device/firmware_rev"),
        physical_sector_size=_int_attr(device, "queue/physical_block_size") or (
            details.physical_sector_size if details else None),
        power_on_hours=details.power_on_hours if details else None,
        temperature_celsius=details.temperature_celsius if details else None,
        reallocated_sectors=details.reallocated_sectors if details else None,
        pending_sectors=details.pending_sectors if details else None,
        uncorrectable_sectors=details.uncorrectable_sectors if details else None,
        wear_percent_used=details.wear_percent_used if details else None,
    )


def bus_of(device: UdevDevice) -> str:
    subsystems = device.parent_subsystems()
    name = device.sys_name
    if "usb" in subsystems:
        return "usb"
    if "nvme" in subsystems or name.startswith("nvme"):
        return "nvme"
    if "mmc" in subsystems:
        return "mmc"
    if device.properties.get("ID_BUS") == "ata" or "ata_port" in subsystems or _under_ata(device):
        return "sata"
    # Before virtio: a disk behind a virtio SCSI controller speaks SCSI (SG_IO, sg3-utils), as
    # one behind a SAS adapter does; only a virtio block disk (vdX) has no command set to ask.
    if "scsi" in subsystems:
        return "scsi"
    if "virtio" in subsystems:
        return "virtio"
    if name.startswith("loop"):
        return "loop"
    return "unknown"


def _under_ata(device: UdevDevice) -> bool:
    # libata hosts appear as .../ataN/hostM/... in the sysfs path.
    return any(part.startswith("ata") and part[3:].isdigit() for part in device.sys_path.split("/"))


def _serial(device: UdevDevice) -> str | None:
    properties = device.properties
    for key in ("ID_SERIAL_SHORT", "SCSI_IDENT_SERIAL"):
        if properties.get(key):
            return str(properties[key]).strip()
    for attribute in ("serial", "device/serial"):
        value = _str_attr(device, attribute)
        if value:
            return value
    return None


def _model(device: UdevDevice) -> str | None:
    encoded = device.properties.get("ID_MODEL_ENC")
    if encoded:
        return _decode_udev(encoded).strip() or None
    return device.properties.get("ID_MODEL") or _str_attr(device, "device/model")


def _decode_udev(value: str) -> str:
    """udev escapes blanks and odd bytes as \\xNN in *_ENC properties."""
    return value.encode("latin-1").decode("unicode_escape")


def _str_attr(device: UdevDevice, name: str) -> str | None:
    value = device.attribute(name)
    return value.strip() or None if value is not None else None


def _int_attr(device: UdevDevice, name: str) -> int:
    value = _str_attr(device, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0

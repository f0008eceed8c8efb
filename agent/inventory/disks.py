"""Disks from udev: every whole block device that could hold someone's data."""

from __future__ import annotations

import re

from agent.inventory.blockinfo import disk_tree, partitions_of
from agent.inventory.model import Disk
from agent.inventory.smart import smart_health
from agent.inventory.smartinfo import read_smart_details
from agent.inventory.source import LiveSource, MachineSource, UdevDevice

# Kernel names that are never a donated computer's disk.
VIRTUAL_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd")
# An eMMC's hardware boot and RPMB partitions show up as disks of their own (mmcblk0boot0, 4 MiB):
# they are areas of the eMMC listed once as mmcblk0, and hold firmware, not someone's files.
EMMC_HARDWARE_PARTITION = re.compile(r"^mmcblk\d+(?:boot\d+|rpmb)$")


def list_disks(
    source: MachineSource | None = None, *, with_smart: bool = True, include_loop: bool = False
) -> list[Disk]:
    source = source or LiveSource()
    tree = disk_tree(source)
    disks = []
    for device in source.udev_devices("block"):
        if device.device_type != "disk":
            continue
        name = device.sys_name
        if name.startswith(VIRTUAL_PREFIXES) and not (include_loop and name.startswith("loop")):
            continue
        if EMMC_HARDWARE_PARTITION.match(name):
            continue
        size = _int_attr(device, "size") * 512
        if size == 0:
            continue  # empty card readers and detached loop devices
        path = device.device_node or f"/dev/{name}"
        # Kept as evidence only: udev's full record of the disk, as `udevadm info` shows it.
        source.run(["udevadm", "info", "--query=all", f"--name={path}"], timeout=10)
        details = read_smart_details(path, source)[0] if with_smart else None
        health = smart_health(path, source) if with_smart else None
        disks.append(
            Disk(
                name=name,
                path=path,
                bus=bus_of(device),
                model=_model(device),
                serial=_serial(device),
                size_bytes=size,
                logical_sector_size=_int_attr(device, "queue/logical_block_size") or 512,
                rotational=_int_attr(device, "queue/rotational") == 1,
                removable=_int_attr(device, "removable") == 1,
                smart_health=health or (details.health if details else None),
                partitions=partitions_of(tree.get(name, {})),
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
        )
    return sorted(disks, key=lambda disk: disk.name)


def bus_of(device: UdevDevice) -> str:
    subsystems = device.parent_subsystems()
    name = device.sys_name
    if "usb" in subsystems:
        return "usb"
    if "nvme" in subsystems or name.startswith("nvme"):
        return "nvme"
    if "mmc" in subsystems:
        return "mmc"
    if "virtio" in subsystems:
        return "virtio"
    if device.properties.get("ID_BUS") == "ata" or "ata_port" in subsystems or _under_ata(device):
        return "sata"
    if "scsi" in subsystems:
        return "scsi"
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

"""Disks from udev: every whole block device that could hold someone's data."""

from __future__ import annotations

from collections.abc import Iterable

import pyudev

from agent.inventory.blockinfo import disk_tree, partitions_of
from agent.inventory.model import Disk
from agent.inventory.smart import smart_health

# Kernel names that are never a donated computer's disk.
_VIRTUAL_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd")


def list_disks(
    context: pyudev.Context | None = None, *, with_smart: bool = True, include_loop: bool = False
) -> list[Disk]:
    context = context or pyudev.Context()
    tree = disk_tree()
    disks = []
    for device in context.list_devices(subsystem="block", DEVTYPE="disk"):
        name = device.sys_name
        if name.startswith(_VIRTUAL_PREFIXES) and not (include_loop and name.startswith("loop")):
            continue
        size = _int_attr(device, "size") * 512
        if size == 0:
            continue  # empty card readers and detached loop devices
        path = device.device_node or f"/dev/{name}"
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
                smart_health=smart_health(path) if with_smart else None,
                partitions=partitions_of(tree.get(name, {})),
            )
        )
    return sorted(disks, key=lambda disk: disk.name)


def bus_of(device: pyudev.Device) -> str:
    subsystems = {parent.subsystem for parent in _ancestors(device)}
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


def _under_ata(device: pyudev.Device) -> bool:
    # libata hosts appear as .../ataN/hostM/... in the sysfs path.
    return any(part.startswith("ata") and part[3:].isdigit() for part in device.sys_path.split("/"))


def _ancestors(device: pyudev.Device) -> Iterable[pyudev.Device]:
    parent = device.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _serial(device: pyudev.Device) -> str | None:
    properties = device.properties
    for key in ("ID_SERIAL_SHORT", "SCSI_IDENT_SERIAL"):
        if properties.get(key):
            return str(properties[key]).strip()
    for attribute in ("serial", "device/serial"):
        value = _str_attr(device, attribute)
        if value:
            return value
    return None


def _model(device: pyudev.Device) -> str | None:
    encoded = device.properties.get("ID_MODEL_ENC")
    if encoded:
        return _decode_udev(encoded).strip() or None
    return device.properties.get("ID_MODEL") or _str_attr(device, "device/model")


def _decode_udev(value: str) -> str:
    """udev escapes blanks and odd bytes as \\xNN in *_ENC properties."""
    return value.encode("latin-1").decode("unicode_escape")


def _str_attr(device: pyudev.Device, name: str) -> str | None:
    try:
        raw = device.attributes.get(name)
    except (KeyError, OSError):
        return None
    if raw is None:
        return None
    value = raw.decode(errors="replace").strip() if isinstance(raw, bytes) else str(raw).strip()
    return value or None


def _int_attr(device: pyudev.Device, name: str) -> int:
    value = _str_attr(device, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0

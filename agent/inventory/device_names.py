"""Who made a device and what it is, from what udev knows about it and the hardware under it.

udev names devices from its hardware database (ID_VENDOR_FROM_DATABASE, ID_MODEL_FROM_DATABASE,
looked up by PCI or USB ids) and, for USB, from the strings the device reports about itself
(ID_VENDOR, ID_MODEL). The database is preferred: devices often report placeholders ("123",
"USB2.0 Camera") where the database has the maker's real name. Both may sit on the device itself
(udev's rules copy them onto net, sound and video devices) or on the physical device under it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from agent.inventory.source import UdevDevice, UdevParent

# Buses a peripheral hangs off, nearest first wins: a USB adapter's chain also passes through
# the PCI host controller, and it is the USB link that matters to the person holding it.
PERIPHERAL_BUSES = ("usb", "pci", "sdio", "platform")

# PCI-SIG vendor ids of the makers found in donated PCs, for a live system whose udev
# hardware database is missing (old or minimal images): the id alone means nothing to a volunteer.
PCI_VENDORS = {
    "8086": "Intel Corporation",
    "10de": "NVIDIA Corporation",
    "1002": "Advanced Micro Devices, Inc. [AMD/ATI]",
    "1022": "Advanced Micro Devices, Inc. [AMD]",
    "10ec": "Realtek Semiconductor Co., Ltd.",
    "14e4": "Broadcom Inc. and subsidiaries",
    "168c": "Qualcomm Atheros",
    "1969": "Qualcomm Atheros",
    "11ab": "Marvell Technology Group Ltd.",
    "1814": "Ralink corp.",
    "102b": "Matrox Electronics Systems Ltd.",
    "1a03": "ASPEED Technology, Inc.",
    "5333": "S3 Graphics Ltd.",
    "1039": "Silicon Integrated Systems [SiS]",
    "1106": "VIA Technologies, Inc.",
    "1af4": "Red Hat, Inc.",
    "1234": "QEMU",
    "15ad": "VMware",
    "80ee": "InnoTek Systemberatung GmbH",
}

_ESCAPED_BYTE = re.compile(r"\\x([0-9a-fA-F]{2})")


def own_hardware(device: UdevDevice) -> list[UdevParent]:
    """The parents that belong to this device: up to the PCI function or USB device it sits on.

    Further up are the host controller, bridges and the root complex, whose names would
    describe the wrong thing (a webcam is not an "EHCI Host Controller").
    """
    if _is_physical(device.subsystem, device.device_type):
        return []
    chain: list[UdevParent] = []
    for parent in device.parents:
        chain.append(parent)
        if _is_physical(parent.subsystem, parent.properties.get("DEVTYPE")):
            break
    return chain


def _is_physical(subsystem: str | None, device_type: str | None) -> bool:
    return subsystem in ("pci", "sdio") or (subsystem == "usb" and device_type == "usb_device")


def bus_of(device: UdevDevice) -> str | None:
    if device.subsystem in PERIPHERAL_BUSES:  # a PCI function is on PCI, whatever hosts it
        return device.subsystem
    for parent in device.parents:
        if parent.subsystem in PERIPHERAL_BUSES:
            return parent.subsystem
    return device.properties.get("ID_BUS") or None


def vendor_and_model(device: UdevDevice) -> tuple[str | None, str | None]:
    """The database names first, then the names the device reports, then a known PCI vendor."""
    layers = [device.properties, *(parent.properties for parent in own_hardware(device))]
    vendor = (_first(layers, _database_name, "ID_VENDOR_FROM_DATABASE")
              or _first(layers, _reported_name, "ID_VENDOR"))
    model = (_first(layers, _database_name, "ID_MODEL_FROM_DATABASE")
             or _first(layers, _reported_name, "ID_MODEL"))
    if vendor is None:
        ids = hardware_ids(device)
        if ids and bus_of(device) == "pci":
            vendor = PCI_VENDORS.get(ids.split(":")[0])
    return vendor, model


def hardware_ids(device: UdevDevice) -> str | None:
    """"vendor:device" in lower-case hex, PCI or USB, as lspci -nn and lsusb print them."""
    layers = [device.properties, *(parent.properties for parent in own_hardware(device))]
    for properties in layers:
        pci_id = properties.get("PCI_ID")
        if pci_id and ":" in pci_id:
            return pci_id.lower()
        vendor_id, model_id = properties.get("ID_VENDOR_ID"), properties.get("ID_MODEL_ID")
        if vendor_id and model_id:
            return f"{_bare_hex(vendor_id)}:{_bare_hex(model_id)}"
    vendor_id, model_id = device.attribute("vendor"), device.attribute("device")
    if vendor_id and model_id:
        return f"{_bare_hex(vendor_id)}:{_bare_hex(model_id)}"
    return None


def nearest_driver(device: UdevDevice) -> str | None:
    if device.driver:
        return device.driver
    for parent in device.parents:
        if parent.driver:
            return parent.driver
    return None


_NameReader = Callable[[Mapping[str, str], str], str | None]


def _first(layers: Sequence[Mapping[str, str]], read: _NameReader, key: str) -> str | None:
    for properties in layers:
        value = read(properties, key)
        if value:
            return value
    return None


def _database_name(properties: Mapping[str, str], key: str) -> str | None:
    return _clean(properties.get(key))


def _reported_name(properties: Mapping[str, str], key: str) -> str | None:
    # ID_VENDOR has spaces turned into "_"; the _ENC form keeps the string as the device sent it.
    encoded = properties.get(f"{key}_ENC")
    if encoded:
        return _clean(_ESCAPED_BYTE.sub(lambda match: chr(int(match[1], 16)), encoded))
    plain = properties.get(key)
    return _clean(plain.replace("_", " ")) if plain else None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _bare_hex(value: str) -> str:
    value = value.strip().lower()
    return value[2:] if value.startswith("0x") else value

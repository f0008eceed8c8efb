"""The machine, its board, its case and its firmware, as SMBIOS types 0 to 3 describe them.

Read from `dmidecode` when it answers; otherwise from the kernel's copy in /sys/class/dmi/id,
which has the same strings but no memory devices and no firmware characteristics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.inventory.dmi import NO_VALUE, DmiRecord, of_type
from agent.inventory.source import MachineSource

DMI_ID_DIR = "/sys/class/dmi/id"

# SMBIOS 3.x chassis types, in dmidecode's words, indexed by the type code (bits 0-6).
CHASSIS_TYPES = (
    None, "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower", "Tower",
    "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station", "All In One", "Sub Notebook",
    "Space-saving", "Lunch Box", "Main Server Chassis", "Expansion Chassis", "Sub Chassis",
    "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis",
    "Sealed-case PC", "Multi-system", "CompactPCI", "AdvancedTCA", "Blade", "Blade Enclosing",
    "Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC", "Mini PC", "Stick PC",
)
PORTABLE_CHASSIS = frozenset({
    "Portable", "Laptop", "Notebook", "Hand Held", "Sub Notebook", "Tablet", "Convertible",
    "Detachable",
})


@dataclass(frozen=True)
class SystemProduct:
    """SMBIOS type 1: the product as sold."""

    vendor: str | None
    product: str | None
    version: str | None
    serial: str | None
    sku: str | None
    uuid: str | None
    family: str | None


@dataclass(frozen=True)
class Baseboard:
    """SMBIOS type 2: the main board."""

    vendor: str | None
    product: str | None
    version: str | None
    serial: str | None


@dataclass(frozen=True)
class Chassis:
    """SMBIOS type 3: the case; `type` in dmidecode's words ("Notebook", "Mini Tower", ...)."""

    type: str | None
    vendor: str | None
    serial: str | None
    asset_tag: str | None

    @property
    def portable(self) -> bool | None:
        """A machine with a battery and a lid, as far as the firmware says."""
        if self.type is None or self.type in ("Other", "Unknown"):
            return None
        return self.type in PORTABLE_CHASSIS


@dataclass(frozen=True)
class FirmwareInfo:
    """SMBIOS type 0: the firmware ("BIOS Information", also on UEFI machines)."""

    vendor: str | None
    version: str | None
    release_date: str | None  # ISO 8601 when the firmware uses SMBIOS's mm/dd/yyyy
    uefi_capable: bool | None  # from the characteristics list; None when not listed (sysfs)


@dataclass(frozen=True)
class SystemDmi:
    """Types 0 to 3 together, with where they were read from."""

    system: SystemProduct
    board: Baseboard
    chassis: Chassis
    firmware: FirmwareInfo
    smbios_version: str | None
    source: str | None  # "dmidecode", "sysfs", or None when neither answered


def system_from_records(records: tuple[DmiRecord, ...], smbios_version: str | None) -> SystemDmi:
    system = _first(records, 1)
    board = _first(records, 2)
    chassis = _first(records, 3)
    bios = _first(records, 0)
    characteristics = bios.lists.get("Characteristics", ())
    return SystemDmi(
        system=SystemProduct(
            vendor=system.text("Manufacturer"), product=system.text("Product Name"),
            version=system.text("Version"), serial=system.text("Serial Number"),
            sku=system.text("SKU Number"), uuid=system.text("UUID"), family=system.text("Family"),
        ),
        board=Baseboard(
            vendor=board.text("Manufacturer"), product=board.text("Product Name"),
            version=board.text("Version"), serial=board.text("Serial Number"),
        ),
        chassis=Chassis(
            type=chassis.text("Type"), vendor=chassis.text("Manufacturer"),
            serial=chassis.text("Serial Number"), asset_tag=chassis.text("Asset Tag"),
        ),
        firmware=FirmwareInfo(
            vendor=bios.text("Vendor"), version=bios.text("Version"),
            release_date=_iso_date(bios.text("Release Date")),
            # Only a listed characteristic is evidence; an empty list (type 0 missing) says nothing.
            uefi_capable=("UEFI is supported" in characteristics) if characteristics else None,
        ),
        smbios_version=smbios_version,
        source="dmidecode",
    )


def system_from_sysfs(source: MachineSource) -> SystemDmi:
    def read(name: str) -> str | None:
        value = source.read_text(f"{DMI_ID_DIR}/{name}")
        value = None if value is None else value.strip()
        return None if value is None or value in NO_VALUE else value

    answered = any(read(name) for name in ("sys_vendor", "product_name", "board_vendor"))
    return SystemDmi(
        system=SystemProduct(
            vendor=read("sys_vendor"), product=read("product_name"),
            version=read("product_version"), serial=read("product_serial"),
            sku=read("product_sku"), uuid=read("product_uuid"), family=read("product_family"),
        ),
        board=Baseboard(
            vendor=read("board_vendor"), product=read("board_name"),
            version=read("board_version"), serial=read("board_serial"),
        ),
        chassis=Chassis(
            type=chassis_type_name(read("chassis_type")), vendor=read("chassis_vendor"),
            serial=read("chassis_serial"), asset_tag=read("chassis_asset_tag"),
        ),
        firmware=FirmwareInfo(
            vendor=read("bios_vendor"), version=read("bios_version"),
            release_date=_iso_date(read("bios_date")), uefi_capable=None,
        ),
        smbios_version=None,
        source="sysfs" if answered else None,
    )


def chassis_type_name(code: str | None) -> str | None:
    """The kernel gives the chassis type as its number; people read dmidecode's word."""
    if code is None or not code.isdigit():
        return None
    index = int(code) & 0x7F  # bit 7 is the chassis lock, not part of the type
    return CHASSIS_TYPES[index] if 0 < index < len(CHASSIS_TYPES) else None


def _first(records: tuple[DmiRecord, ...], dmi_type: int) -> DmiRecord:
    found = of_type(records, dmi_type)
    return found[0] if found else DmiRecord("", dmi_type, "")


def _iso_date(text: str | None) -> str | None:
    if text is None:
        return None
    found = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4}|\d{2})", text)
    if not found:
        return text
    month, day, year = found.groups()
    if len(year) == 2:  # before SMBIOS 2.3 (1998) the year had two digits
        year = f"{'19' if int(year) >= 80 else '20'}{year}"
    return f"{year}-{month}-{day}"

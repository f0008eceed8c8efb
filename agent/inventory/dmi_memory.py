"""Installed memory from SMBIOS types 16 (memory arrays) and 17 (memory devices, one per slot).

The slots tell the workshop what it can add: how many modules, which kind, how many slots are
free and how much the board takes at most. Without dmidecode only the kernel's total is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.inventory.dmi import DmiRecord, of_type
from agent.inventory.source import MachineSource

_UNIT = {"bytes": 1, "kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
# dmidecode 3.2 and later say MT/s, older ones MHz for the same number.
_SPEED = re.compile(r"(\d+)\s*(?:MT/s|MHz)")
_EMPTY_SLOT = ("No Module Installed", "Not Installed")


@dataclass(frozen=True)
class MemoryModule:
    locator: str | None  # the slot as printed on the board: "DIMM 0", "Bottom-Slot 1(left)"
    bank: str | None
    size_bytes: int | None
    type: str | None  # "DDR2" ... "DDR5", "LPDDR4", ...
    speed_mts: int | None  # what the module is rated for
    configured_speed_mts: int | None  # what the board runs it at
    manufacturer: str | None
    part_number: str | None
    serial: str | None
    form_factor: str | None  # "DIMM", "SODIMM", "Row Of Chips" (soldered) ...


@dataclass(frozen=True)
class InstalledMemory:
    total_bytes: int | None
    modules: tuple[MemoryModule, ...]
    empty_slots: int | None
    max_capacity_bytes: int | None  # what the board accepts, from type 16
    source: str | None  # "dmidecode", "meminfo", or None


def memory_from_records(records: tuple[DmiRecord, ...]) -> InstalledMemory:
    arrays = [array for array in of_type(records, 16) if array.text("Use") == "System Memory"]
    array_handles = {array.handle for array in arrays}
    # Flash or video arrays have memory devices too; only system memory counts. Firmware that
    # lists no array at all still lists its slots, so keep them all then.
    slots = [device for device in of_type(records, 17)
             if not array_handles or device.text("Array Handle") in array_handles]
    installed = [slot for slot in slots if not _is_empty(slot)]
    modules = tuple(_module(slot) for slot in installed)
    sizes = [module.size_bytes for module in modules if module.size_bytes is not None]
    capacities = [parse_size(array.text("Maximum Capacity")) for array in arrays]
    return InstalledMemory(
        total_bytes=sum(sizes) if sizes else None,
        modules=modules,
        empty_slots=len(slots) - len(installed) if slots else None,
        max_capacity_bytes=sum(c for c in capacities if c) if any(capacities) else None,
        source="dmidecode",
    )


def memory_from_meminfo(source: MachineSource) -> InstalledMemory:
    """The kernel's MemTotal: a little less than what is installed (firmware keeps some)."""
    meminfo = source.read_text("/proc/meminfo") or ""
    found = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    return InstalledMemory(
        total_bytes=int(found[1]) * 1024 if found else None, modules=(), empty_slots=None,
        max_capacity_bytes=None, source="meminfo" if found else None,
    )


def parse_size(text: str | None) -> int | None:
    found = re.fullmatch(r"(\d+)\s*(bytes|kB|KB|MB|GB|TB)", text or "")
    return int(found[1]) * _UNIT[found[2]] if found else None


def _is_empty(slot: DmiRecord) -> bool:
    size = slot.fields.get("Size", "")
    return any(words in size for words in _EMPTY_SLOT)


def _module(slot: DmiRecord) -> MemoryModule:
    configured = slot.text("Configured Memory Speed") or slot.text("Configured Clock Speed")
    return MemoryModule(
        locator=slot.text("Locator"), bank=slot.text("Bank Locator"),
        size_bytes=parse_size(slot.text("Size")), type=slot.text("Type"),
        speed_mts=_speed(slot.text("Speed")), configured_speed_mts=_speed(configured),
        manufacturer=slot.text("Manufacturer"), part_number=slot.text("Part Number"),
        serial=slot.text("Serial Number"), form_factor=slot.text("Form Factor"),
    )


def _speed(text: str | None) -> int | None:
    found = _SPEED.fullmatch(text or "")
    return int(found[1]) if found else None

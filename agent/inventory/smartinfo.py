"""A disk's health details from one `smartctl --json` call: what a refurbisher grades on.

pySMART (agent/inventory/smart.py) gives the overall verdict; this reads the numbers behind it:
power-on hours, reallocated and pending sectors, SSD wear, temperature, and the identity fields
(WWN, firmware) udev does not always have. The raw JSON is kept as evidence for the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.inventory.source import MachineSource

# ATA attributes whose normalised value counts down from 100 as flash wears, by vendor habit.
_WEAR_ATTRIBUTES = {
    177: "Wear_Leveling_Count",  # Samsung
    202: "Percent_Lifetime_Remain",  # Crucial/Micron
    231: "SSD_Life_Left",  # Kingston, SandForce
    233: "Media_Wearout_Indicator",  # Intel
}


@dataclass(frozen=True)
class SmartDetails:
    health: str | None  # "passed", "failed", or None when the drive gives no verdict
    wwn: str | None
    firmware: str | None
    physical_sector_size: int | None
    rotation_rpm: int | None  # 0 for solid state
    power_on_hours: int | None
    temperature_celsius: int | None
    reallocated_sectors: int | None
    pending_sectors: int | None
    uncorrectable_sectors: int | None
    wear_percent_used: int | None  # 0 new, 100 at the maker's rated endurance


def smartctl_command(device_path: str) -> list[str]:
    # Identity, verdict and attributes only (-i -H -A): what the grading needs. `-x` would also
    # read every log the drive keeps, seconds per disk on a slow drive, for nothing shown.
    return ["smartctl", "--json=c", "-i", "-H", "-A", device_path]


def read_smart_details(device_path: str, source: MachineSource) -> tuple[SmartDetails | None, str]:
    """The details, and smartctl's raw JSON (empty when it gave none) for the evidence."""
    record = source.run(smartctl_command(device_path), timeout=60)
    # smartctl's exit status is a bit mask (bit 2: some command failed, bit 3: failing disk...);
    # the JSON is what counts.
    return parse_smartctl_json(record.stdout), record.stdout


def parse_smartctl_json(text: str) -> SmartDetails | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or "device" not in document:
        return None
    attributes = _ata_attributes(document)
    nvme = document.get("nvme_smart_health_information_log") or {}
    status = document.get("smart_status")
    health = None
    if isinstance(status, dict) and isinstance(status.get("passed"), bool):
        health = "passed" if status["passed"] else "failed"
    return SmartDetails(
        health=health,
        wwn=_wwn(document.get("wwn")),
        firmware=_text(document.get("firmware_version")),
        physical_sector_size=_int(document.get("physical_block_size")),
        rotation_rpm=_int(document.get("rotation_rate")),
        power_on_hours=_int(_get(document, "power_on_time", "hours")),
        temperature_celsius=_int(_get(document, "temperature", "current")),
        reallocated_sectors=_raw(attributes, 5),
        pending_sectors=_raw(attributes, 197),
        uncorrectable_sectors=_raw(attributes, 198) if 198 in attributes else _int(
            nvme.get("media_errors")),
        wear_percent_used=_wear(attributes, nvme),
    )


def _ata_attributes(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    table = _get(document, "ata_smart_attributes", "table")
    if not isinstance(table, list):
        return {}
    return {row["id"]: row for row in table if isinstance(row, dict) and "id" in row}


def _wear(attributes: dict[int, dict[str, Any]], nvme: dict[str, Any]) -> int | None:
    if "percentage_used" in nvme:
        return _int(nvme["percentage_used"])
    for attribute_id in _WEAR_ATTRIBUTES:
        if attribute_id in attributes:
            remaining = _int(attributes[attribute_id].get("value"))
            if remaining is not None and 0 <= remaining <= 100:
                return 100 - remaining
    return None


def _raw(attributes: dict[int, dict[str, Any]], attribute_id: int) -> int | None:
    row = attributes.get(attribute_id)
    return None if row is None else _int(_get(row, "raw", "value"))


def _wwn(value: Any) -> str | None:
    """As smartctl prints it ("LU WWN Device Id: 5 000cca 264a7fd42"), without the blanks."""
    if not isinstance(value, dict):
        return None
    try:
        return f"{int(value['naa']):x}{int(value['oui']):06x}{int(value['id']):09x}"
    except (KeyError, TypeError, ValueError):
        return None


def _get(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None

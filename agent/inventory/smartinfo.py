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
    attributes = ata_attributes(document)
    nvme = document.get("nvme_smart_health_information_log") or {}
    status = document.get("smart_status")
    health = None
    if isinstance(status, dict) and isinstance(status.get("passed"), bool):
        health = "passed" if status["passed"] else "failed"
    return SmartDetails(
        health=health,
        wwn=_wwn(document.get("wwn")),
        firmware=json_text(document.get("firmware_version")),
        physical_sector_size=json_int(document.get("physical_block_size")),
        rotation_rpm=json_int(document.get("rotation_rate")),
        power_on_hours=json_int(json_at(document, "power_on_time", "hours")),
        temperature_celsius=json_int(json_at(document, "temperature", "current")),
        reallocated_sectors=_raw(attributes, 5),
        pending_sectors=_raw(attributes, 197),
        uncorrectable_sectors=_raw(attributes, 198) if 198 in attributes else json_int(
            nvme.get("media_errors")),
        wear_percent_used=wear_percent_used(attributes, nvme),
    )


def ata_attributes(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The ATA attribute table by attribute id; empty for NVMe, SCSI, or no SMART."""
    table = json_at(document, "ata_smart_attributes", "table")
    if not isinstance(table, list):
        return {}
    return {row["id"]: row for row in table if isinstance(row, dict) and "id" in row}


def wear_percent_used(attributes: dict[int, dict[str, Any]], nvme: dict[str, Any]) -> int | None:
    """Rated endurance used, in percent: NVMe's own figure, else the first vendor wear attribute
    found (its normalised value counts down from 100).

    An attribute counts only under its wear name: smartctl names attributes from its drive
    database, and the same id means something else on another maker's drive (177 is
    Wear_Range_Delta on SandForce drives)."""
    if "percentage_used" in nvme:
        return json_int(nvme["percentage_used"])
    for attribute_id, name in _WEAR_ATTRIBUTES.items():
        row = attributes.get(attribute_id)
        if row is not None and row.get("name") == name:
            remaining = json_int(row.get("value"))
            if remaining is not None and 0 <= remaining <= 100:
                return 100 - remaining
    return None


def _raw(attributes: dict[int, dict[str, Any]], attribute_id: int) -> int | None:
    row = attributes.get(attribute_id)
    return None if row is None else json_int(json_at(row, "raw", "value"))


def _wwn(value: Any) -> str | None:
    """As smartctl prints it ("LU WWN Device Id: 5 000cca 264a7fd42"), without the blanks."""
    if not isinstance(value, dict):
        return None
    try:
        return f"{int(value['naa']):x}{int(value['oui']):06x}{int(value['id']):09x}"
    except (KeyError, TypeError, ValueError):
        return None


def json_at(document: Any, *keys: str) -> Any:
    """The value at `keys` in nested JSON objects; None when any step is missing or not one."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def json_int(value: Any) -> int | None:
    """An integer, and not a boolean (JSON's true is an int to Python); else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_text(value: Any) -> str | None:
    """A string without its surrounding blanks; None when empty or not a string."""
    return value.strip() or None if isinstance(value, str) else None

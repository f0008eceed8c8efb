"""A disk's SMART details from smartctl JSON recorded on real drives."""

from __future__ import annotations

from agent.inventory.smartinfo import parse_smartctl_json, read_smart_details, smartctl_command
from agent.inventory.source import ProfileSource
from tests.replay import fixture


def test_a_hard_disk() -> None:
    details = parse_smartctl_json(fixture("smart/sata-hdd-wd140edfz.json"))
    assert details is not None
    assert details.health == "passed"
    assert details.wwn == "5000cca264eb01d7"  # NAA 5, OUI 0x000cca (HGST), id 0x264eb01d7
    assert (details.firmware, details.physical_sector_size, details.rotation_rpm) == (
        "81.00A81", 4096, 5400)
    assert (details.power_on_hours, details.temperature_celsius) == (1730, 32)
    assert (details.reallocated_sectors, details.pending_sectors,
            details.uncorrectable_sectors) == (0, 0, 0)
    assert details.wear_percent_used is None  # a hard disk does not wear out that way


def test_an_nvme_drive() -> None:
    details = parse_smartctl_json(fixture("smart/nvme-intel-ssdpeknw010t8.json"))
    assert details is not None
    assert (details.health, details.power_on_hours, details.temperature_celsius) == (
        "passed", 2401, 36)
    assert details.wear_percent_used == 0 and details.uncorrectable_sectors == 0
    assert details.wwn is None and details.reallocated_sectors is None


def test_an_ssd_wear_attribute_counts_down() -> None:
    text = ('{"device": {"type": "sat"}, "ata_smart_attributes": {"table": ['
            '{"id": 177, "name": "Wear_Leveling_Count", "value": 93, "raw": {"value": 70}}]}}')
    details = parse_smartctl_json(text)
    assert details is not None and details.wear_percent_used == 7


def test_no_answer_gives_no_details_and_no_crash() -> None:
    assert parse_smartctl_json("") is None
    assert parse_smartctl_json("smartctl: not JSON") is None
    profile = ProfileSource({"format": "reeeboot.profile/1", "commands": [
        {"argv": smartctl_command("/dev/sda"), "returncode": 4,
         "stdout": fixture("smart/sata-hdd-wd140edfz.json"), "stderr": ""}]})
    details, raw = read_smart_details("/dev/sda", profile)
    assert details is not None and details.power_on_hours == 1730 and raw.startswith("{")
    assert read_smart_details("/dev/sdz", profile) == (None, "")

"""The report's JSON Schema: every machine profile gives a valid report, every section is
declared (no key the agent emits is unknown to the schema), and mistakes are named."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agent import flow
from agent.inventory.model import Exclusion, Machine
from agent.inventory.source import ProfileSource
from agent.report.model import InvalidReport, build_report, check_report
from agent.report.validation import SCHEMA_PATH, validate_report
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted(path for path in (ROOT / "tests" / "fixtures" / "profiles").glob("*.json")
                  if not path.name.endswith(".expected.json"))
START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
KEY_ID = "ab" * 32

INSTALL = {
    "result": "installed", "error": None,
    "image": {"name": "debian-xfce", "version": "12.8", "sha256": "cd" * 32, "source": "stick"},
    "target": {"path": "/dev/sda", "serial": "WD-123", "model": "WDC", "size_bytes": 500 << 30,
               "reason": "the largest healthy SSD"},
    "bytes_written": 3 << 30, "seconds": 95.2,
    "verification": {"result": "passed", "bytes_checked": 3 << 30, "first_mismatch": None},
    "boot_mode": "uefi", "hostname": "rb-aaaaaaaa",
    "bootloader": {"efi_entry": "Boot0003", "fallback_path": True, "bios_grub": True,
                   "uefi_grub": True},
    "grow": {"grown": True, "partition_bytes": 499 << 30, "file_system": "ext4",
             "file_system_bytes": 499 << 30, "note": None},
    "identity": {"hostname": "rb-aaaaaaaa", "machine_id": "uninitialized",
                 "ssh_host_keys_removed": ["ssh_host_ed25519_key"], "firstboot_questions": True},
    "post_install_check": {"result": "passed", "problems": [], "files_verified": 14181},
}
BENCHMARKS = {
    "cpu": {"algorithm": "sha256", "single_core_bytes_per_second": 5e8,
            "all_cores_bytes_per_second": 1.9e9, "workers": 4, "seconds": 1.0},
    "memory": {"copy_bytes_per_second": 6e9, "buffer_bytes": 64 << 20, "seconds": 0.5},
    "disks": [{"path": "/dev/sda", "serial": "WD-123", "model": "WDC", "result": "measured",
               "read_bytes_per_second": 1.2e8, "bytes_read": 256 << 20, "seconds": 2.1,
               "direct_io": True, "error": None}],
}


def machine_of(profile: Path, data_dir: Path) -> Machine:
    station = flow.open_station(data_dir)
    station.profile = ProfileSource.load(profile)
    return flow.inventory(station)


def full_report(machine: Machine, **extra: Any) -> dict[str, Any]:
    erasures = [WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                           result="erased", verified=True,
                           plan=[{"method": "random", "level": "clear", "reason": "why"}],
                           evidence={"engine": "overwrite"})
                for disk in machine.targets()]
    return build_report(machine, erasures, station_name="lyon-3", station_key_id=KEY_ID,
                        started_at=START, operator="Camille",
                        benchmarks=copy.deepcopy(BENCHMARKS), install=copy.deepcopy(INSTALL),
                        timings={"inventory": 1.2, "erase": 300.0}, **extra)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda path: path.stem)
def test_every_recorded_machine_gives_a_valid_report(profile: Path, data_dir: Path) -> None:
    machine = machine_of(profile, data_dir)
    report = full_report(machine)
    assert validate_report(report) == []
    assert report["machine"]["disks"] == machine.to_json()["disks"]


def test_the_minimal_report_is_valid_too() -> None:
    report = build_report(sample_machine(), [], station_name="", station_key_id=KEY_ID,
                          started_at=START)
    assert validate_report(report) == []
    assert report["install"] is None and report["benchmarks"] is None
    assert report["operator"] is None and report["timings"] == {}
    assert report["software"]["python"] and "tools" in report["software"]


# Keys added to version 1 after stations were using it: optional, so that the reports of sticks
# not yet updated stay valid on a newer hub. The agent always emits them.
ADDED_IN_VERSION_1 = {"": {"health"}, "station": {"stick"},
                      "grade": {"rules", "functional", "performance", "battery", "cosmetic"},
                      "$defs.reason": {"part", "label"},
                      "$defs.machine.firmware": {"kernel_lockdown"},
                      "$defs.install.bootloader": {"secure_boot_ready"}}


def test_every_key_the_agent_emits_is_declared() -> None:
    """Every object of the schema lists all its keys as required and forbids others, so a key
    added to an inventory dataclass or to the report without the schema makes the reports of
    every profile above invalid. Open by design: `software` (more versions), `timings` (one key
    per step), the erasure's free-form `evidence`, and what a health check measured and the
    values of its findings (each check its own)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    open_objects = []
    for path, node in schema_objects(schema):
        if node.get("additionalProperties") is not False:
            open_objects.append(path)
        else:
            optional = ADDED_IN_VERSION_1.get(path, set())
            assert set(node.get("required", [])) == set(node["properties"]) - optional, path
    assert sorted(open_objects) == ["$defs.erasure.evidence", "$defs.finding.values",
                                    "$defs.health_check.measured", "software", "software.tools",
                                    "timings"]
    broken = full_report(sample_machine())
    broken["machine"]["cpu"]["new_field"] = 1
    assert validate_report(broken) == [
        "report.machine.cpu must not contain {'new_field'} properties"]


def schema_objects(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        types = node.get("type")
        if types == "object" or (isinstance(types, list) and "object" in types):
            found.append((path.lstrip("."), node))
        for key, child in node.items():
            name = path if key in ("properties", "items", "anyOf") else f"{path}.{key}"
            found.extend(schema_objects(child, name))
    elif isinstance(node, list):
        for child in node:
            found.extend(schema_objects(child, path))
    return found


@pytest.mark.parametrize(("change", "named"), [
    (lambda r: r.pop("asset_id"), "asset_id"),
    (lambda r: r.update(grade={"value": "E", "reasons": []}), "grade.value"),
    (lambda r: r.update(outcome={"value": "sell", "reason": {"code": "x", "text": ""}}),
     "outcome.value"),
    (lambda r: r["erasure"][0].update(result="mostly"), "erasure[0].result"),
    (lambda r: r["erasure"][0].update(level="destroy"), "erasure[0].level"),
    (lambda r: r.update(report_id="not-a-uuid"), "report_id"),
    (lambda r: r.update(finished_at="yesterday"), "finished_at"),
    (lambda r: r["station"].update(key_id="short"), "station.key_id"),
    (lambda r: r["machine"]["cpu"].update(cores="4"), "machine.cpu.cores"),
    (lambda r: r["machine"]["disks"][0].update(smart_health="ok"), "smart_health"),
    (lambda r: r["install"].update(boot_mode="coreboot"), "install.boot_mode"),
    (lambda r: r["install"]["image"].update(source="usb"), "install.image.source"),
    (lambda r: r["install"].pop("hostname"), "install"),
    (lambda r: r["benchmarks"]["disks"][0].update(result="slow"), "benchmarks.disks[0]"),
    (lambda r: r["timings"].update(erase=-1), "timings.erase"),
    (lambda r: r.update(operator=""), "operator"),
])
def test_mistakes_are_refused_and_named(change: Any, named: str) -> None:
    report = full_report(sample_machine(disks=(sample_disk(),)))
    change(report)
    problems = validate_report(report)
    assert len(problems) == 1 and named in problems[0], problems


def test_one_problem_per_section_is_named() -> None:
    report = full_report(sample_machine(disks=(sample_disk(),)))
    report["grade"]["value"] = "E"
    report["erasure"][0]["result"] = "mostly"
    del report["asset_id"]
    report["colour"] = "green"
    problems = validate_report(report)
    assert problems[:2] == ["report must contain 'asset_id'", "report must not contain 'colour'"]
    assert len(problems) == 4
    assert problems[2].startswith("report.grade.value must be one of")
    assert problems[3].startswith("report.erasure[0].result must be one of")


def test_unknown_schema_version_is_said_alone() -> None:
    report = full_report(sample_machine())
    report["schema"] = "reeeboot.report/2"
    assert validate_report(report) == [
        "unknown schema 'reeeboot.report/2', expected 'reeeboot.report/1'"]
    assert validate_report([]) == ["report must be object"]


def test_an_invalid_report_is_never_signed(data_dir: Path) -> None:
    station = flow.open_station(data_dir)
    with pytest.raises(InvalidReport, match="install"):
        flow.file_report(station, sample_machine(), [], START, install={"result": "maybe"})
    assert station.outbox.count() == 0
    [kept] = (data_dir / "invalid").iterdir()  # not signed, not lost
    content = json.loads(kept.read_text())
    assert "install" in content["problems"][0] and content["report"]["install"] == {
        "result": "maybe"}
    with pytest.raises(InvalidReport):
        check_report({"schema": "reeeboot.report/1"})


def test_the_schema_is_draft_2020_12_and_ships_in_the_package() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["required"]) == set(schema["properties"]) - ADDED_IN_VERSION_1[""]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["agent"]
    relative = SCHEMA_PATH.relative_to(ROOT / "agent")
    assert any(relative.match(pattern) for pattern in patterns)
    assert "fastjsonschema" in " ".join(pyproject["project"]["dependencies"])


def test_the_report_names_the_stick_the_station_ran_from() -> None:
    stick = sample_disk("/dev/sdb", serial="STICK-LYON-3", bus="usb")
    machine = dataclasses.replace(
        sample_machine(disks=(sample_disk(), stick),
                       exclusions=(Exclusion("/dev/sdb", "boot_device", "started from it"),)),
        stick="/dev/sdb")
    report = full_report(machine)
    assert report["station"]["stick"] == {"device": "/dev/sdb", "model": "WDC WD5000AAKX",
                                          "serial": "STICK-LYON-3", "size_bytes": 500 << 30}
    assert validate_report(report) == []
    # A station from before the stick was named sends no such key: still a valid report.
    del report["station"]["stick"]
    assert validate_report(report) == []
    assert full_report(sample_machine())["station"]["stick"] is None

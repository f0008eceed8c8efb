"""Length limits: every text and list of the report schema is bounded, the schema refuses a
value over its bound by name, and the agent cuts text from outside (firmware, drives, tools,
people) to the schema's bounds, so a machine with absurd strings still gets a valid report."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from agent import flow
from agent.inventory.model import Machine
from agent.report.limits import ELLIPSIS, bounded_text
from agent.report.model import build_report
from agent.report.validation import SCHEMA_PATH, validate_report
from agent.wipe.jobs import WipeResult
from tests.helpers import machine_with_every_part, stretched

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
KEY_ID = "ab" * 32
INSTALL: dict[str, Any] = {
    "result": "installed", "error": None,
    "image": {"name": "debian-xfce", "version": "12.8", "sha256": "cd" * 32, "source": "stick"},
    "target": {"path": "/dev/sda", "serial": "S2R5NX0H612345", "model": "SAMSUNG",
               "size_bytes": 256 << 30, "reason": "the largest healthy SSD"},
    "bytes_written": 3 << 30, "seconds": 95.2,
    "verification": {"result": "passed", "bytes_checked": 3 << 30, "first_mismatch": None},
    "boot_mode": "uefi", "hostname": "rb-aaaaaaaa",
    "bootloader": {"efi_entry": "Boot0003", "fallback_path": True, "bios_grub": True,
                   "uefi_grub": True},
    "grow": {"grown": True, "partition_bytes": 255 << 30, "file_system": "ext4",
             "file_system_bytes": 255 << 30, "note": None},
    "identity": {"hostname": "rb-aaaaaaaa", "machine_id": "uninitialized",
                 "ssh_host_keys_removed": ["ssh_host_ed25519_key"], "firstboot_questions": True},
    "post_install_check": {"result": "passed", "problems": [], "files_verified": 14181},
}
BENCHMARKS: dict[str, Any] = {
    "cpu": {"algorithm": "sha256", "single_core_bytes_per_second": 5e8,
            "all_cores_bytes_per_second": 1.9e9, "workers": 4, "seconds": 1.0},
    "memory": {"copy_bytes_per_second": 6e9, "buffer_bytes": 64 << 20, "seconds": 0.5},
    "disks": [{"path": "/dev/sda", "serial": "S2R5NX0H612345", "model": "SAMSUNG",
               "result": "failed", "read_bytes_per_second": 0.0, "bytes_read": 0,
               "seconds": 0.1, "direct_io": True, "error": "read error"}],
}


def erasures_of(machine: Machine, error: str = "the drive stopped answering") -> list[WipeResult]:
    return [WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                       result="failed", error=error,
                       plan=[{"method": "random", "level": "clear", "reason": "no firmware"}],
                       evidence={"engine": "overwrite"})
            for disk in machine.targets()]


def report_of(machine: Machine, error: str = "the drive stopped answering",
              **extra: Any) -> dict[str, Any]:
    extra.setdefault("operator", "Camille")
    extra.setdefault("station_name", "lyon-3")
    return build_report(machine, erasures_of(machine, error), station_key_id=KEY_ID,
                        started_at=START, benchmarks=copy.deepcopy(BENCHMARKS),
                        install=copy.deepcopy(INSTALL), timings={"erase": 300.0}, **extra)


def schema_nodes(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.items():
            found.extend(schema_nodes(child, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(schema_nodes(child, f"{path}/{index}"))
    return found


def types_of(node: dict[str, Any]) -> list[Any]:
    types = node.get("type", [])
    return types if isinstance(types, list) else [types]


def test_every_text_list_and_map_of_the_schema_is_bounded() -> None:
    """So that a field added later cannot bring back an unbounded text."""
    schema = json.loads(SCHEMA_PATH.read_text())
    nodes = schema_nodes(schema)
    assert [path for path, node in nodes
            if "string" in types_of(node) and "maxLength" not in node] == []
    assert [path for path, node in nodes
            if "array" in types_of(node) and "maxItems" not in node] == []
    assert [path for path, node in nodes
            if isinstance(node.get("additionalProperties"), dict)
            and "maxProperties" not in node] == []


def test_a_report_with_every_part_is_valid_and_left_as_it_is() -> None:
    machine = machine_with_every_part()
    report = report_of(machine)
    assert validate_report(report) == []
    assert report["machine"]["disks"] == machine.to_json()["disks"]
    assert report["machine"]["system"]["vendor"] == "Dell Inc."


def place(report: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    parent: Any = report
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value


LONG_TEXTS = [
    # DMI (SMBIOS) strings the firmware writer typed.
    (("machine", "system", "vendor"), 256),
    (("machine", "system", "product"), 256),
    (("machine", "system", "serial"), 128),
    (("machine", "system", "chassis", "asset_tag"), 128),
    (("machine", "board", "product"), 256),
    (("machine", "board", "serial"), 128),
    (("machine", "firmware", "version"), 128),
    (("machine", "memory", "modules", 0, "part_number"), 128),
    (("machine", "identity", "ereuse_hid"), 1024),
    # What the drives say about themselves.
    (("machine", "disks", 0, "model"), 256),
    (("machine", "disks", 0, "serial"), 128),
    (("machine", "disks", 0, "firmware"), 128),
    (("machine", "disks", 0, "path"), 4096),
    (("machine", "disks", 0, "partitions", 0, "label"), 256),
    (("erasure", 0, "model"), 256),
    (("install", "target", "serial"), 128),
    # The processor, the monitor's EDID, the other devices.
    (("machine", "cpu", "model"), 256),
    (("machine", "display", 0, "edid", "name"), 256),
    (("machine", "display", 0, "edid", "text", 0), 128),
    (("machine", "gpus", 0, "model"), 256),
    (("machine", "network", 0, "vendor"), 256),
    (("machine", "battery", 0, "manufacturer"), 256),
    (("machine", "audio", 0, "model"), 256),
    (("machine", "cameras", 0, "name"), 256),
    # Error texts and other sentences, often with a tool's own words in them.
    (("erasure", 0, "error"), 2000),
    (("erasure", 0, "plan", 0, "reason"), 2000),
    (("excluded", 0, "reason"), 2000),
    (("benchmarks", "disks", 0, "error"), 2000),
    (("install", "error"), 2000),
    (("install", "grow", "note"), 2000),
    # Typed by a volunteer, or configured for the station; versions tools print.
    (("operator",), 128),
    (("asset_id",), 128),
    (("station", "name"), 200),
    (("software", "kernel"), 128),
]


@pytest.mark.parametrize(("path", "limit"), LONG_TEXTS,
                         ids=[".".join(map(str, path)) for path, _limit in LONG_TEXTS])
def test_an_over_long_text_is_refused_by_name(path: tuple[str | int, ...], limit: int) -> None:
    report = report_of(machine_with_every_part())
    place(report, path, "x" * limit)
    assert validate_report(report) == []
    place(report, path, "x" * (limit + 1))
    named = "report" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}"
                               for key in path)
    assert validate_report(report) == [
        f"{named} must be shorter than or equal to {limit} characters"]


def test_over_long_lists_are_refused_by_name() -> None:
    report = report_of(machine_with_every_part())
    report["erasure"][0]["bad_ranges"] = [[sector, sector] for sector in range(16385)]
    report["machine"]["disks"] = report["machine"]["disks"] * 513
    assert validate_report(report) == [
        "report.machine.disks must contain less than or equal to 1024 items",
        "report.erasure[0].bad_ranges must contain less than or equal to 16384 items"]


def test_bounded_text_cuts_with_three_dots() -> None:
    assert bounded_text("WDC WD5000AAKX", 256) == "WDC WD5000AAKX"
    assert bounded_text("x" * 10, 10) == "x" * 10
    assert bounded_text("abcdefghijk", 10) == "abcdefg..."
    assert ELLIPSIS == "..."


def test_absurd_texts_from_the_machine_are_cut_and_the_report_is_valid() -> None:
    machine = machine_with_every_part(1000)
    assert len(machine.disks[0].model or "") == 5000
    install, benchmarks = copy.deepcopy(INSTALL), copy.deepcopy(BENCHMARKS)
    install["error"] = stretched("grub-install: error: ", 200_000)
    benchmarks["disks"][0]["model"] = machine.disks[0].model
    report = build_report(machine, erasures_of(machine, stretched("hdparm: ", 200_000)),
                          station_name=stretched("lyon-3", 1000), station_key_id=KEY_ID,
                          started_at=START, operator=stretched("Camille", 1000),
                          asset_id=stretched("WS-0042", 1000), benchmarks=benchmarks,
                          install=install)
    assert validate_report(report) == []
    disk = report["machine"]["disks"][0]
    assert disk["model"] == machine.disks[0].model[:253] + "..."  # type: ignore[index]
    assert len(disk["serial"]) == 128 and disk["serial"].startswith("S2R5NX0H612345 x")
    assert report["machine"]["system"]["vendor"] == "Dell Inc. " + "x" * 243 + "..."
    # The same disk reads the same wherever the report names it.
    assert {report["erasure"][0]["model"], report["benchmarks"]["disks"][0]["model"]} == {
        disk["model"]}
    assert report["erasure"][0]["serial"] == disk["serial"]
    cut = [
        (report["machine"]["cpu"]["model"], 256),
        (report["machine"]["display"][0]["edid"]["name"], 256),
        (report["machine"]["memory"]["modules"][0]["serial"], 128),
        (report["machine"]["identity"]["ereuse_hid"], 1024),
        (report["excluded"][0]["reason"], 2000),
        (report["erasure"][0]["error"], 2000),
        (report["install"]["error"], 2000),
        (report["operator"], 128),
        (report["asset_id"], 128),
        (report["station"]["name"], 200),
    ]
    assert [(len(text), text[-3:]) for text, _limit in cut] == [
        (limit, "...") for _text, limit in cut]
    # What the caller passed in is not changed; what the agent computed is not cut.
    assert len(install["error"]) == 200_000
    assert report["machine"]["identity"]["id"] == machine.identity.id  # type: ignore[union-attr]
    assert report["machine"]["evidence"][0]["sha256"] == machine.evidence[0].sha256


def test_a_machine_with_absurd_texts_gets_a_signed_report(data_dir: Path) -> None:
    station = flow.open_station(data_dir)
    machine = machine_with_every_part(1000)
    report_id, path = flow.file_report(station, machine, erasures_of(machine), START,
                                       operator=stretched("Camille", 1000))
    assert path.parent.name == "outbox" and report_id in path.name
    assert not (data_dir / "invalid").exists()

"""The whole flow on the real image: boot from the stick, erase, sign, upload, power off."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness import (
    EXPECTED_BOOT,
    HEALTH_CPU_SECONDS,
    HEALTH_MEMORY_SECONDS,
    HEALTH_SHORT,
    IMAGE,
    MARKER,
    Boot,
    Scenario,
    Stick,
    all_scenarios,
    first_and_last_sector,
    make_disk,
    marker_sectors,
    require_image,
    station_config,
)

from agent.report import dsse
from tests.hubserver import RunningHub

UNATTENDED = [path for path in all_scenarios() if Scenario.load(path).mode == "unattended"]


@pytest.mark.parametrize("scenario_path", UNATTENDED, ids=[path.stem for path in UNATTENDED])
def test_unattended_run(scenario_path: Path, hub: RunningHub, artifacts: Path) -> None:
    require_image()
    scenario = Scenario.load(scenario_path)
    stick = Stick.copy_of(IMAGE, artifacts)
    token = hub.database.add_station("qemu-station")
    guest_hub_url = f"http://10.0.2.2:{hub.port}"
    stick.write_file("reeeboot.toml", station_config(guest_hub_url, token, unattended=True,
                                                     health=HEALTH_SHORT))
    stick_before = stick.digest_outside_state()
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    assert all(marker_sectors(path) > 0 for path in disks.values())

    boot = Boot(scenario, artifacts, stick, disks)
    boot.run_to_end(scenario.timeout_seconds)

    events = boot.events()
    done = [event for event in events if event["event"] == "done"]
    assert done, f"the run did not finish; serial log tail:\n{boot.serial_text()[-3000:]}"
    failing = [spec for spec in scenario.disks if not spec.erased]
    assert done[-1]["ok"] == (not failing) and done[-1]["report_waiting"] is False
    assert len(done[-1]["failed"]) == len(failing)

    for spec in scenario.disks:
        if not spec.erased:
            continue  # a failing disk keeps what it could not be made to forget
        path = disks[spec.id]
        # Only the sectors the disk refused may keep the marker, and the report lists them.
        refused = sum(last - first + 1 for first, last in spec.expect_bad_ranges)
        assert marker_sectors(path) == refused, f"{spec.id}: marker left"
        first, last = first_and_last_sector(path)
        assert MARKER not in (first, last), f"{spec.id}: first or last sector not erased"

    assert stick.digest_outside_state() == stick_before, "the stick changed outside its state"
    stick.check_state()
    if scenario.firmware != "direct":
        # memtest86+ is not signed: its menu entry is there except under Secure Boot.
        assert ("memtest86+" in boot.serial_text()) == (scenario.firmware != "uefi-secure")

    rows = [row for row in hub.database.reports()
            if row["system_serial"] == scenario.system.get("serial")]
    assert len(rows) == 1, "exactly one report for this machine"
    report_id = str(rows[0]["report_id"])
    # Sent, with the public passport link the hub answered beside it (for the QR code).
    assert stick.state_dir("outbox") == [] and stick.state_dir("sent") == [
        f"{report_id}.json", f"{report_id}.passport"]
    stored = hub.database.report(report_id)
    assert stored is not None
    station = hub.database.station_by_token(token)
    assert station is not None and station.public_key is not None
    payload = dsse.verify(json.loads(str(stored["envelope"])),
                          Ed25519PublicKey.from_public_bytes(station.public_key))
    report = json.loads(payload)
    public_token = hub.database.public_link(None, report["machine"]["identity"]["id"])
    assert stick.state_file(f"sent/{report_id}.passport") == \
        f"http://10.0.2.2:{hub.port}/p/{public_token}".encode()

    results = {entry["serial"]: entry for entry in report["erasure"]}
    assert {serial: entry["result"] for serial, entry in results.items()} == {
        spec.serial: spec.expect for spec in scenario.disks}
    for spec in scenario.disks:
        result = results[spec.serial]
        if spec.erased:
            assert result["verified"], f"{spec.id}: not verified"
            assert [tuple(pair) for pair in result["bad_ranges"]] == list(spec.expect_bad_ranges)
        if spec.expect_method:
            assert result["method"] == spec.expect_method, f"{spec.id}: {result['plan']}"
        if spec.expect_level:
            assert result["level"] == spec.expect_level
        if spec.bus == "scsi":
            # sg3-utils reached the drive and the drive answered (what it supports, or that it
            # does not know the question), with the scenario's firmware and lockdown: the
            # kernel refused nothing.
            commands = result["evidence"]["capabilities"]["commands"]
            [asked] = [command for command in commands if command["argv"][0] == "sg_opcodes"]
            answer = f"{asked['stdout']}\n{asked['stderr']}"
            assert asked["returncode"] == 0 or "llegal request" in answer, asked
            assert "not permitted" not in answer.lower(), asked
    assert all(results[spec.serial]["error"] for spec in failing)
    reported = {disk["serial"]: disk for disk in report["machine"]["disks"]}
    assert {spec.serial: (reported[spec.serial]["bus"], reported[spec.serial]["size_bytes"],
                          reported[spec.serial]["logical_sector_size"])
            for spec in scenario.disks} == {
        spec.serial: (spec.bus, spec.size_mib << 20, spec.logical_sector_size)
        for spec in scenario.disks}
    assert_inventory_matches(report["machine"], scenario)

    stick_paths = [disk["path"] for disk in report["machine"]["disks"]
                   if disk["serial"] == scenario.stick_serial]
    assert len(stick_paths) == 1, "the stick is in the inventory"
    [stick_exclusion] = [e for e in report["excluded"] if e["path"] == stick_paths[0]]
    assert stick_exclusion["code"] == "boot_device" and stick_exclusion["reason"]
    assert_health(report, events, scenario, stick)


def assert_health(report: dict, events: list[dict], scenario: Scenario, stick: Stick) -> None:
    """Every disk's SMART judged and its self-test run before the erasure, the processor, the
    memory and the battery checked beside it, each result on the status line as it came, in the
    signed report, and each command's output kept on the stick under the hash the report names."""
    health = report["health"]
    checks = {(check["check"], check["subject"]): check for check in health["checks"]}
    told = {(event["check"], event["subject"]): event["verdict"] for event in events
            if event["event"] == "health"}
    assert told == {key: check["verdict"] for key, check in checks.items()}
    paths = {disk["serial"]: disk["path"] for disk in report["machine"]["disks"]}
    # A disk without SMART (virtio) says so; ATA and NVMe answer; QEMU's SATA disk runs its
    # self-test (QEMU logs it done at once) and passes.
    expected_self_test = {"sata": "pass", "virtio": "not_present"}
    for spec in scenario.disks:
        path = paths[spec.serial]
        smart, self_test = checks[("disk_smart", path)], checks[("disk_self_test", path)]
        if spec.bus == "virtio":
            assert smart["verdict"] == "not_present", smart
        else:
            assert smart["measured"]["protocol"] in ("ATA", "NVMe", "SCSI"), smart
        if spec.bus in expected_self_test:
            assert self_test["verdict"] == expected_self_test[spec.bus], self_test
        assert self_test["verdict"] != "fail", self_test
    self_tests = [event for event in events if event["event"] == "health"
                  and event["check"] == "disk_self_test"]
    first_erasure = next(index for index, event in enumerate(events)
                         if event["event"] == "disk_result")
    assert all(events.index(event) < first_erasure for event in self_tests)
    # The machine's checks, at the settings reeeboot.toml gave.
    memory = checks[("memory", "ram")]
    assert memory["verdict"] == "pass", memory
    assert memory["measured"]["seconds"] == HEALTH_MEMORY_SECONDS
    assert memory["measured"]["coverage_percent"] > 0
    cpu = checks[("cpu_cooling", "cpu")]
    assert cpu["measured"]["load_seconds"] == HEALTH_CPU_SECONDS
    assert cpu["verdict"] in ("pass", "not_present"), cpu  # QEMU has no processor sensor
    assert checks[("battery", "battery")]["verdict"] == "not_present"
    # QEMU's network card, with the link its user-mode network gives it; no Wi-Fi.
    network = checks[("network", "network")]
    assert network["verdict"] == "pass", network
    [wired] = network["measured"]["wired"]
    assert (wired["driver"], wired["carrier"]) == ("virtio_net", True), wired
    assert network["measured"]["wifi"] == []
    locks = checks[("platform_locks", "firmware")]
    secure_boot = [finding for finding in locks["findings"]
                   if finding["code"].startswith("secure_boot")]
    assert secure_boot, locks
    assert "self_test" in report["timings"]
    for check in health["checks"]:
        for kept in check["evidence"]:
            content = stick.state_file(f"evidence/{report['report_id']}/{kept['name']}")
            assert content is not None and hashlib.sha256(content).hexdigest() == kept["sha256"]


def assert_inventory_matches(machine: dict, scenario: Scenario) -> None:
    """What QEMU was told about the machine is what the inventory reports."""
    system, board = machine["system"], machine["board"]
    told = scenario.system
    for key, field in (("vendor", "vendor"), ("product", "product"), ("version", "version"),
                       ("serial", "serial"), ("sku", "sku"), ("family", "family")):
        if key in told:
            assert system[field] == told[key], f"system {field}"
    if "uuid" in told:
        assert str(system["uuid"]).lower() == told["uuid"].lower()
    for key, field in (("board_vendor", "vendor"), ("board_product", "product"),
                       ("board_serial", "serial")):
        if key in told:
            assert board[field] == told[key], f"board {field}"
    if "serial" in told:
        assert "system_serial" in machine["identity"]["basis"]
        assert machine["identity"]["distinguishes_units"]
    if scenario.mac:
        macs = [interface["mac"] for interface in machine["network"]]
        assert scenario.mac in macs, macs
    assert machine["cpu"]["threads"] == scenario.cpus
    # As QEMU was told: the firmware, and under Secure Boot a kernel in lockdown that still did
    # every erasure above (NVMe format, ATA and SCSI commands, SMART).
    expected = EXPECTED_BOOT[scenario.firmware]
    assert {key: machine["firmware"][key] for key in expected} == expected
    names = {item["name"] for item in machine["evidence"]}
    assert "dmidecode.txt" in names

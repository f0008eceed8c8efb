"""Power cuts at chosen moments of an unattended run, then the same stick and disk booted again
(docs/state.md): nothing the station keeps is lost, torn or left in a FAT check's leftovers, the
erasure resumes, and the hub ends with the run's report exactly once.

One stick goes through six boots, each but the last cut by killing QEMU:
1. the first start, in its overwrite pass: the hub answered the live progress the brand-new key
   signed, and the pass's journal has its first checkpoints;
2. the verification (the run resumed the pass from its checkpoint first);
3. as the report is being written (the status line just before it);
4. the enrollment on first contact: the hub enrolled the key, the agent never heard it;
5. the report's upload: the hub stored it, the agent never heard it;
6. the end: the report is sent (again), the machine powers off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cutting_proxy import CuttingProxy
from harness import (
    IMAGE,
    SCENARIOS,
    Boot,
    Scenario,
    Stick,
    make_disk,
    marker_sectors,
    require_image,
    station_config,
)
from hub_reports import stored_report

from agent.report import dsse
from tests.hubserver import RunningHub

SCENARIO = SCENARIOS / "power-cut" / "one-disk.toml"
BOOT_TIMEOUT = 420  # one boot under TCG, with at most one whole erasure of the disk


def test_power_cuts_lose_nothing(hub: RunningHub, artifacts: Path) -> None:
    require_image()
    scenario = Scenario.load(SCENARIO)
    [spec] = scenario.disks
    stick = Stick.copy_of(IMAGE, artifacts)
    proxy = CuttingProxy(hub.url)
    token = hub.database.add_station("qemu-station")
    stick.write_file("reeeboot.toml", station_config(f"http://10.0.2.2:{proxy.port}", token,
                                                     unattended=True))
    outside_state = stick.digest_outside_state()
    disks = {spec.id: make_disk(spec, artifacts)}
    boots: list[Boot] = []

    def boot() -> Boot:
        started = Boot(scenario, artifacts, stick, disks)
        started.serial_log = artifacts / f"serial-{len(boots) + 1}.log"
        boots.append(started)
        started.start()
        return started

    def after_the_cut() -> Ed25519PrivateKey:
        """What must hold after every cut; the station's key."""
        assert stick.fat_leftovers() == [], "a FAT check recovered lost clusters"
        assert stick.digest_outside_state() == outside_state, "written outside the state"
        stick.check_state()
        assert stick.state_dir("lost+found") == [], "ext4 found orphaned files"
        pem = stick.state_file("station.key")
        assert pem, "the station key is missing or empty"
        key = load_pem_private_key(pem, password=None)
        assert isinstance(key, Ed25519PrivateKey)
        assert not any(name.startswith("station.key.damaged-") for name in stick.state_dir(""))
        return key

    try:
        # 1. The first start: the key is made and signs the live progress, which the hub
        # answers; the overwrite pass is cut once its checkpoints cover part of the disk. The
        # key is younger than the kernel's writeback delay (30 s): only a synced key survives.
        writing = boot()
        writing.wait_for("progress", BOOT_TIMEOUT, lambda event: event["phase"] == "write"
                         and event["done_bytes"] >= event["total_bytes"] * 0.4)
        writing.stop()
        assert "/api/v1/progress" in [path for path, _status in proxy.answered], \
            "the station never sent its live progress"
        key_id = dsse.key_id(after_the_cut().public_key())
        journal = state_json(stick, f"journal/{spec.serial}.json")
        assert journal["state"] == "writing" and journal["written_up_to"] > 0

        # 2. The verification, after the pass resumed from its checkpoint (not from byte 0).
        verifying = boot()
        interrupted = verifying.wait_for("interrupted", BOOT_TIMEOUT)
        assert [disk["offset"] for disk in interrupted["disks"]] == [journal["written_up_to"]]
        verifying.wait_for("progress", BOOT_TIMEOUT, lambda event: event["phase"] == "verify"
                           and event["done_bytes"] > 0)
        verifying.stop()
        assert dsse.key_id(after_the_cut().public_key()) == key_id
        assert state_json(stick, f"journal/{spec.serial}.json")["state"] == "verifying"
        written_events = [event for event in verifying.events() if event["event"] == "progress"
                          and event["phase"] == "write"]
        assert written_events and min(event["done_bytes"] for event in written_events) >= \
            journal["written_up_to"], "the pass started again from the beginning"

        # 3. As the report is written: the line just before it.
        reporting = boot()
        reporting.wait_for("interrupted", BOOT_TIMEOUT)
        reporting.wait_for("benchmarks", BOOT_TIMEOUT)
        reporting.stop()
        assert dsse.key_id(after_the_cut().public_key()) == key_id
        filed = stick.state_dir("outbox")
        assert len(filed) <= 1
        for name in filed:  # whole and signed, or not there at all
            envelope = state_json(stick, f"outbox/{name}")
            dsse.verify(envelope, after_the_cut().public_key())
        assert marker_sectors(disks[spec.id]) == 0

        # 4. Enrollment on first contact: the hub takes the key, the agent hears nothing.
        enrolling = boot()
        proxy.cut_after("/api/v1/stations/enroll", enrolling.stop)
        assert proxy.cut.wait(BOOT_TIMEOUT), "the station never enrolled"
        assert dsse.key_id(after_the_cut().public_key()) == key_id
        station = hub.database.station_by_token(token)
        assert station is not None and station.key_id == key_id
        [report_name] = stick.state_dir("outbox")

        # 5. The upload: the hub stores the report, the agent hears nothing.
        uploading = boot()
        proxy.cut_after("/api/v1/reports", uploading.stop)
        assert proxy.cut.wait(BOOT_TIMEOUT), "the station never sent its report"
        assert dsse.key_id(after_the_cut().public_key()) == key_id
        assert stick.state_dir("outbox") == [report_name]
        stored_report(hub, token, scenario.system["serial"])  # stored once already

        # 6. The end: the same report again (stored once), then power off.
        last = boot()
        resumed = last.wait_for("resumed_report", BOOT_TIMEOUT)
        assert f"{resumed['report_id']}.json" == report_name
        assert last.wait_exit(BOOT_TIMEOUT) == 0
        done = last.wait_for("done", 1)
        assert done["ok"] and done["report_waiting"] is False
    finally:
        for started in boots:
            started.stop()
        proxy.close()

    assert dsse.key_id(after_the_cut().public_key()) == key_id
    assert stick.state_dir("outbox") == [] and stick.state_dir("sent") == [
        report_name, report_name.replace(".json", ".passport")]
    assert marker_sectors(disks[spec.id]) == 0
    # One report, verified with the key the hub enrolled: the stick's key since the first start.
    report = stored_report(hub, token, scenario.system["serial"])
    station = hub.database.station_by_token(token)
    assert station is not None and station.key_id == key_id
    assert f"{report['report_id']}.json" == report_name
    [erasure] = report["erasure"]
    assert erasure["serial"] == spec.serial and erasure["result"] == "erased"
    assert erasure["verified"]
    # Which run filed the report depends on where cut 4 fell: after the report was whole (that
    # report, of the twice resumed run) or before (the next boot erased again, from the start).
    if erasure["interrupted"]:
        assert erasure["evidence"]["resumed_from"] == {"pass": 0,
                                                       "offset": journal["written_up_to"]}
        assert len(erasure["evidence"]["interruptions"]) == 2  # while writing, then verifying
    else:
        assert any(event["event"] == "plan" for event in boots[3].events())
    uploads = [status for path, status in proxy.answered if path == "/api/v1/reports"]
    assert uploads[-1] == 200, "the report sent again is acknowledged as already stored"


def state_json(stick: Stick, name: str) -> Any:
    content = stick.state_file(name)
    assert content is not None, f"{name} is not on the state partition"
    return json.loads(content)


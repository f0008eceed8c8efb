"""The agent's side against the real hub over HTTP (each side is also tested on its own): live
progress lands as the machine's latest state, a key rotation is accepted and reports signed by
the new key are stored, and after revocation the agent is told so and keeps its reports."""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path

from agent import flow
from agent.events import ProgressEvent
from agent.inventory.identity import Identity
from agent.report import dsse
from agent.report.hubclient import HubClient
from agent.report.progress import ProgressReporter
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub
from tests.test_report_delivery import erased, station_for

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


def _wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the hub did not get there in time")


def test_progress_reaches_the_hub_as_the_latest_state(data_dir: Path, hub: RunningHub) -> None:
    station = station_for(data_dir, hub.url, hub.database.add_station("lyon-3"))
    HubClient(hub.url, data_dir, station.key).enroll("lyon-3", station.config.enrollment_token)
    disk = sample_disk("/dev/sda", serial="WD-LIVE")
    machine_id = "rb1-" + "7" * 64
    machine = dataclasses.replace(sample_machine((disk,)), identity=Identity(
        machine_id, ("system_vendor", "system_product", "system_serial"), (), "x"))
    reporter = ProgressReporter(hub.url, "lyon-3", lambda: station.key, interval=0.2)
    reporter.machine_known(machine, "ATELIER-7")
    reporter.step("erase")
    reporter.event(ProgressEvent("/dev/sda", "write", 1 << 30, disk.size_bytes, 1e8))
    try:
        _wait_for(lambda: any(state["machine_id"] == machine_id and state["step"] == "erase"
                              and "WD-LIVE" in state["payload"]
                              for state in hub.database.live_states()))
    finally:
        reporter.stop()
    [state] = [s for s in hub.database.live_states() if s["machine_id"] == machine_id]
    payload = json.loads(state["payload"])
    assert payload["asset_id"] == "ATELIER-7" and reporter.failures == 0
    [reported] = payload["disks"]
    assert reported["bytes_done"] == 1 << 30 and reported["phase"] == "write"


def test_rotated_key_signs_reports_the_hub_stores(data_dir: Path, hub: RunningHub) -> None:
    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    first_id, _path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    assert flow.deliver_reports(station, deadline_seconds=0).sent == [first_id]
    old_key_id, new_key_id = flow.rotate_station_key(station)
    assert old_key_id != new_key_id == dsse.key_id(station.key.public_key())
    second_id, _path = flow.file_report(station, sample_machine(), [erased("S2")], START)
    assert flow.deliver_reports(station, deadline_seconds=0).sent == [second_id]
    stored = hub.database.report(second_id)
    assert stored is not None
    signer = json.loads(str(stored["envelope"]))["signatures"][0]["keyid"]
    assert signer == new_key_id

    assert hub.database.revoke_station("lyon-3")
    third_id, _path = flow.file_report(station, sample_machine(), [erased("S3")], START)
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert outcome.waiting == [third_id] and outcome.last_error
    assert "revoked" in outcome.last_error.lower() or "révoqué" in outcome.last_error.lower()
    assert hub.database.report(third_id) is None
    assert [path.stem for path in station.outbox.waiting()] == [third_id]

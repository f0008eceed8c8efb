"""The unattended run of a machine booted from the network (the hub armed it, and nobody stopped
its countdown): its outbox is in RAM, so it never switches off with a report unsent; a stick's
run keeps its report on the stick and switches off after the upload deadline, as before."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent import flow, unattended
from agent.report.hubclient import HubClient
from agent.unattended import STATUS_PREFIX, StatusLine, run_unattended
from tests.receiver import Receiver
from tests.scripted_run import workshop_machine
from tests.test_netboot_screens import BOOT
from tests.test_screens import FakePower


class Console(io.StringIO):
    """The serial port as the test reads it: the status lines written so far."""

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line[len(STATUS_PREFIX):]) for line in self.getvalue().splitlines()]

    def names(self) -> list[str]:
        return [event["event"] for event in self.events()]


def station_on(receiver: Receiver, data_dir: Path, tmp_path: Path, *,
               from_network: bool) -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\n[station]\nname = "lyon-boot-525400abcdef"\n'
        f'[hub]\nurl = "{receiver.url}"\n')
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    station = flow.open_station(data_dir, state_dir)
    if from_network:
        station.network_boot = BOOT
    # Enrolled already, as agent/netboot.py leaves a network-booted machine.
    HubClient(receiver.url, state_dir, station.key).remember_enrolled(station.key)
    return station


def start_run(station: flow.Station, console: Console, power: FakePower, tmp_path: Path,
              arming: int | None = None) -> threading.Thread:
    # Only the stick is left in the machine: nothing to erase, the rest of the run is real.
    machine = workshop_machine()
    machine = dataclasses.replace(machine, disks=tuple(
        disk for disk in machine.disks if disk.path == "/dev/sdb"))
    thread = threading.Thread(target=run_unattended, args=(station, StatusLine(console)),
                              kwargs={"power_off": True, "power": power, "arming": arming,
                                      "take_inventory": lambda _station: machine,
                                      "failure_mark": tmp_path / "unattended-started"})
    thread.start()
    return thread


def wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unattended, "UPLOAD_DEADLINE_SECONDS", 0.5)
    monkeypatch.setattr(unattended, "REPORT_RETRY_SECONDS", 0.3)


def hub_down(_body: Any) -> tuple[int, dict[str, Any]]:
    return 503, {"detail": "the hub is being restarted"}


@pytest.mark.usefixtures("short_deadlines")
def test_a_network_booted_run_stays_on_until_its_report_is_sent(
        receiver: Receiver, data_dir: Path, tmp_path: Path) -> None:
    station = station_on(receiver, data_dir, tmp_path, from_network=True)
    progress: list[dict[str, Any]] = []

    def keep_progress(envelope: Any) -> tuple[int, dict[str, Any]]:
        progress.append(json.loads(base64.b64decode(envelope["payload"])))
        return 202, {"status": "accepted"}

    receiver.routes["/api/v1/reports"] = hub_down
    receiver.routes["/api/v1/progress"] = keep_progress
    console, power = Console(), FakePower()
    thread = start_run(station, console, power, tmp_path, arming=7)
    wait_for(lambda: console.names().count("report_waiting") >= 3)
    assert power.calls == [] and station.outbox.count() == 1
    assert "done" not in console.names()

    receiver.routes["/api/v1/reports"] = lambda _body: (201, {})
    thread.join(20)
    assert not thread.is_alive()
    assert power.calls == [("power_off", None)]
    assert station.outbox.count() == 0
    events = console.events()
    assert events[0]["event"] == "start" and events[0]["arming"] == 7
    names = [event["event"] for event in events]
    upload = events[names.index("upload")]
    assert upload["sent"] == [] and len(upload["waiting"]) == 1
    waiting = events[names.index("report_waiting")]
    assert waiting["waiting"] == upload["waiting"] and "503" in waiting["error"]
    assert names[-1] == "done" and events[-1]["report_waiting"] is False
    # The hub hears that the arming's run started, from the run itself.
    assert progress and {"id": 7, "state": "started"} in [message.get("arming")
                                                          for message in progress]


@pytest.mark.usefixtures("short_deadlines")
def test_a_stick_run_switches_off_after_the_deadline_its_stick_keeps_the_report(
        receiver: Receiver, data_dir: Path, tmp_path: Path) -> None:
    station = station_on(receiver, data_dir, tmp_path, from_network=False)
    receiver.routes["/api/v1/reports"] = hub_down
    console, power = Console(), FakePower()
    thread = start_run(station, console, power, tmp_path)
    thread.join(20)
    assert not thread.is_alive()
    assert power.calls == [("power_off", None)] and station.outbox.count() == 1
    assert "report_waiting" not in console.names()
    assert console.events()[-1]["event"] == "done"
    assert console.events()[-1]["report_waiting"] is True
    assert "arming" not in console.events()[0]

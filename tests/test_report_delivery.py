"""Reports from the agent's side to a real hub over HTTP: enrollment, upload, retries."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from agent import flow
from agent.report import dsse
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub, free_port

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


def station_for(data_dir: Path, hub_url: str, token: str) -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\n[station]\nname = "lyon-3"\n'
        f'[hub]\nurl = "{hub_url}"\nenrollment_token = "{token}"\n'
    )
    return flow.open_station(data_dir)


def erased(serial: str) -> WipeResult:
    disk = sample_disk(serial=serial)
    return WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                      result="erased", bytes_written=disk.size_bytes, verified=True)


def test_evidence_files_are_kept_next_to_the_report_and_hashed_in_it(data_dir: Path) -> None:
    import dataclasses
    import hashlib

    from agent.inventory.model import EvidenceFile

    station = flow.open_station(data_dir)
    dmidecode = b"# dmidecode 3.4\nHandle 0x0001, DMI type 1, 27 bytes\n"
    machine = dataclasses.replace(sample_machine(), evidence=(
        EvidenceFile.of("dmidecode.txt", dmidecode), EvidenceFile.of("edid-card0-eDP-1.bin",
                                                                      bytes(range(128)))))
    report_id, path = flow.file_report(station, machine, [erased("S1")], START)
    envelope = json.loads(path.read_text())
    report = json.loads(dsse.verify(envelope, station.key.public_key()))
    listed = {item["name"]: item for item in report["machine"]["evidence"]}
    assert set(listed) == {"dmidecode.txt", "edid-card0-eDP-1.bin"}
    for name, item in listed.items():
        kept = (data_dir / "evidence" / report_id / name).read_bytes()
        assert hashlib.sha256(kept).hexdigest() == item["sha256"] and len(kept) == item[
            "size_bytes"]
    assert (data_dir / "evidence" / report_id / "dmidecode.txt").read_bytes() == dmidecode


def test_report_reaches_hub_once_and_verifies(data_dir: Path, hub: RunningHub) -> None:
    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    report_id, path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    assert path.exists()

    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert outcome.sent == [report_id] and outcome.waiting == []
    assert not path.exists() and (data_dir / "sent" / path.name).exists()

    stored = hub.database.report(report_id)
    assert stored is not None
    payload = dsse.verify(json.loads(str(stored["envelope"])), station.key.public_key())
    assert json.loads(payload)["erasure"][0]["serial"] == "S1"

    # Sending the same envelope again (a lost acknowledgement) stores nothing new.
    (data_dir / "sent" / path.name).rename(path)
    again = flow.deliver_reports(station, deadline_seconds=0)
    assert again.sent == [report_id]
    assert [row["report_id"] for row in hub.database.reports()] == [report_id]


def test_hub_down_keeps_report_in_outbox(data_dir: Path) -> None:
    station = station_for(data_dir, f"http://127.0.0.1:{free_port()}", "token")
    report_id, path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert outcome.sent == [] and outcome.waiting == [report_id]
    assert outcome.last_error
    assert path.exists()


def test_outbox_retries_until_hub_comes_up(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    hub = RunningHub(tmp_path / "late.sqlite3", port)
    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    report_id, _path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    delays: list[float] = []

    def start_hub_on_second_wait(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 2:
            hub.start()

    try:
        outcome = station.outbox.flush(
            lambda envelope: _send(station, envelope), deadline_seconds=60,
            sleep=start_hub_on_second_wait,
        )
    finally:
        hub.stop()
    assert delays == [1.0, 2.0]  # exponential backoff
    assert outcome.sent == [report_id]


def _send(station: flow.Station, envelope: dict) -> None:
    from agent.report.hubclient import HubClient

    client = HubClient(station.config.hub_url, station.data_dir, station.key)
    client.enroll(station.config.station_name, station.config.enrollment_token)
    client.upload(envelope)


def test_station_key_is_created_once_and_kept(data_dir: Path) -> None:
    first = flow.open_station(data_dir).key
    second = flow.open_station(data_dir).key
    assert dsse.key_id(first.public_key()) == dsse.key_id(second.public_key())
    assert (data_dir / "station.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("token", ["wrong-token"])
def test_unknown_token_is_refused_and_report_waits(
    data_dir: Path, hub: RunningHub, token: str
) -> None:
    hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    report_id, _path = flow.file_report(station, sample_machine(), [erased("S1")], START)
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert outcome.waiting == [report_id]
    assert "403" in (outcome.last_error or "")
    assert hub.database.reports() == []


def test_the_hubs_public_passport_link_is_kept_and_shown_for_the_new_owner(
        data_dir: Path, hub: RunningHub) -> None:
    import requests

    from agent.run.engine import Run
    from tests.scripted_run import fixture_probe, workshop_machine

    token = hub.database.add_station("lyon-3")
    station = station_for(data_dir, hub.url, token)
    run = Run(station, take_inventory=lambda _station: workshop_machine(), probe=fixture_probe,
              live_progress=False)
    run.inspect()
    assert run.machine is not None and run.machine.identity is not None
    report_id = run.file_report()
    # Before the hub has answered: the workshop's page of the machine (it asks to sign in).
    assert run.passport_url() == f"{hub.url}/machines/{run.machine.identity.id}"

    assert flow.deliver_reports(station, deadline_seconds=0).sent == [report_id]
    link = run.passport_url()
    assert link is not None and link.startswith(f"{hub.public_url}/p/")
    assert station.outbox.passport(report_id) == link
    opened = requests.get(link.replace(str(hub.public_url), hub.url), timeout=10)
    assert opened.status_code == 200 and run.machine.identity.id not in opened.text


@pytest.mark.parametrize("answer", [
    {"passport_url": "javascript:alert(1)"},
    {"passport_url": "http://hub.example.org/p/x\n\x1b[2J"},
    {"passport_url": "https://hub.example.org/p/" + "x" * 600},
    {"passport_url": "https:///p/no-host"},
    {"passport_url": 42},
    {"status": "stored"},
    ["not", "an", "object"],
])
def test_a_strange_passport_link_in_the_hubs_answer_is_not_kept(answer: object) -> None:
    from agent.report.outbox import passport_url

    assert passport_url(answer) is None
    assert passport_url({"passport_url": "https://hub.example.org/p/AbC_12-x"}) == \
        "https://hub.example.org/p/AbC_12-x"

"""A run cut after it filed its report is finished at the next start by sending that report, not
run again; a run that reached its end is not (docs/state.md). A real hub answers."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from agent import flow
from agent.run.record import load_record, save_record
from agent.unattended import STATUS_PREFIX, StatusLine, run_unattended
from tests.hubserver import RunningHub
from tests.scripted_run import workshop_machine


def unattended(station: flow.Station, tmp_path: Path) -> list[dict[str, Any]]:
    # Only the stick is left in the machine: nothing to erase, the rest of the run is real.
    machine = workshop_machine()
    machine = dataclasses.replace(machine, disks=tuple(
        disk for disk in machine.disks if disk.path == "/dev/sdb"))
    console = io.StringIO()
    run_unattended(station, StatusLine(console), power_off=False,
                   take_inventory=lambda _station: machine,
                   failure_mark=tmp_path / "unattended-started")
    return [json.loads(line[len(STATUS_PREFIX):]) for line in console.getvalue().splitlines()]


def test_a_run_cut_after_its_report_is_finished_not_run_again(
        data_dir: Path, hub: RunningHub, tmp_path: Path) -> None:
    token = hub.database.add_station("lyon-3")
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\nunattended = true\n[station]\nname = "lyon-3"\n'
        f'[hub]\nurl = "{hub.url}"\nenrollment_token = "{token}"\n')
    config = (data_dir / "reeeboot.toml").read_bytes()
    # The stick's two partitions: the configuration, and what the station writes.
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    station = flow.open_station(data_dir, state_dir)
    first = unattended(station, tmp_path)
    assert first[-1]["event"] == "done" and first[-1]["report_waiting"] is False
    [report_id] = [event["report_id"] for event in first if event["event"] == "report"]
    record = load_record(state_dir)
    assert record is not None and record.report_id == report_id and record.finished

    # The cut: the hub stored the report, the agent had not moved it nor ended the run.
    (state_dir / "sent" / f"{report_id}.json").replace(
        state_dir / "outbox" / f"{report_id}.json")
    save_record(state_dir, dataclasses.replace(record, finished=False))
    again = unattended(flow.open_station(data_dir, state_dir), tmp_path)
    names = [event["event"] for event in again]
    assert names == ["start", "inventory", "resumed_report", "upload", "done"]
    assert again[2]["report_id"] == report_id and again[3]["sent"] == [report_id]
    assert again[-1] == {"event": "done", "ok": True, "failed": [], "report_waiting": False}
    assert [str(row["report_id"]) for row in hub.database.reports()] == [report_id]
    assert not list((state_dir / "outbox").iterdir())
    finished = load_record(state_dir)
    assert finished is not None and finished.finished

    # A run that reached its end is new work when the machine comes back: a new report.
    third = unattended(flow.open_station(data_dir, state_dir), tmp_path)
    assert "plan" in [event["event"] for event in third]
    assert len(hub.database.reports()) == 2
    # Three runs, and the data partition holds what the volunteer put there, nothing more.
    assert [path.name for path in data_dir.iterdir()] == ["reeeboot.toml"]
    assert (data_dir / "reeeboot.toml").read_bytes() == config
    assert {"station.key", "enrolled", "outbox", "sent", "last-run.json"} <= {
        path.name for path in state_dir.iterdir()}

"""A station whose key is damaged or missing says so, erases nothing, and gets a working identity
back from a new enrollment token (docs/report.md, section 9); a real hub answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent import flow
from agent.inventory.model import Machine
from agent.report import dsse
from agent.report.hubclient import HubClient
from agent.report.station import (
    DAMAGED_PREFIX,
    IDENTITY_LOST_MARK,
    KEY_DAMAGED,
    KEY_MISSING,
    KEY_NAME,
    NEXT_KEY_NAME,
    RETIRED_PREFIX,
    pending_key,
)
from agent.run.engine import Run, RunError
from agent.unattended import STATUS_PREFIX, StatusLine, run_unattended, why_unattended_stopped
from tests.helpers import sample_disk, sample_machine
from tests.hubserver import RunningHub


def configure(data_dir: Path, *, url: str = "", token: str = "", unattended: bool = False) -> None:
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\nunattended = {str(unattended).lower()}\n[station]\nname = "lyon-3"\n'
        f'[hub]\nurl = "{url}"\nenrollment_token = "{token}"\n')


def enrolled_station(data_dir: Path, hub: RunningHub) -> tuple[flow.Station, str]:
    token = hub.database.add_station("lyon-3")
    configure(data_dir, url=hub.url, token=token)
    station = flow.open_station(data_dir)
    assert station.identity_loss is None and flow.restore_identity(station) is None
    HubClient(hub.url, data_dir, station.key).enroll("lyon-3", token)
    return station, token


def test_a_new_stick_makes_its_key_on_first_use(data_dir: Path) -> None:
    configure(data_dir)
    station = flow.open_station(data_dir)
    assert station.identity_loss is None
    assert not (data_dir / KEY_NAME).exists()
    first = dsse.key_id(station.key.public_key())
    assert dsse.key_id(flow.open_station(data_dir).key.public_key()) == first


@pytest.mark.parametrize("content", [b"", b"-----BEGIN PRIVATE KEY-----\nMC4CAQAw",
                                     b"\x00" * 4096])
def test_a_damaged_key_is_set_aside_and_the_loss_is_remembered(
        data_dir: Path, content: bytes) -> None:
    configure(data_dir)
    (data_dir / KEY_NAME).write_bytes(content)
    station = flow.open_station(data_dir)
    assert station.identity_loss == KEY_DAMAGED
    [aside] = data_dir.glob(f"{DAMAGED_PREFIX}*")
    assert aside.read_bytes() == content and not (data_dir / KEY_NAME).exists()
    assert station.key is not None  # a fresh key, which does not make the loss go away
    assert (data_dir / KEY_NAME).exists()
    assert flow.open_station(data_dir).identity_loss == KEY_DAMAGED


@pytest.mark.parametrize("trace", ["enrolled", "sent/0b9a.json", "outbox/0b9a.json"])
def test_a_key_missing_after_the_station_had_one_is_a_loss(data_dir: Path, trace: str) -> None:
    configure(data_dir)
    (data_dir / trace).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / trace).write_text("{}")
    assert flow.open_station(data_dir).identity_loss == KEY_MISSING
    assert (data_dir / IDENTITY_LOST_MARK).read_text().strip() == KEY_MISSING


def test_a_rotation_cut_between_its_renames_is_finished_not_taken_for_a_loss(
        data_dir: Path) -> None:
    configure(data_dir)
    old = flow.open_station(data_dir).key
    new = pending_key(data_dir)
    (data_dir / "enrolled").write_text("x\n")
    # The first rename of promote_pending_key happened, the second did not.
    (data_dir / KEY_NAME).replace(data_dir / f"{RETIRED_PREFIX}{dsse.key_id(old.public_key())}")
    station = flow.open_station(data_dir)
    assert station.identity_loss is None
    assert not (data_dir / NEXT_KEY_NAME).exists()
    assert dsse.key_id(station.key.public_key()) == dsse.key_id(new.public_key())


def test_without_a_hub_the_fresh_key_is_the_identity(data_dir: Path) -> None:
    configure(data_dir)
    (data_dir / KEY_NAME).write_bytes(b"")
    station = flow.open_station(data_dir)
    assert flow.restore_identity(station) is None
    assert station.identity_loss is None and not (data_dir / IDENTITY_LOST_MARK).exists()


def test_nothing_is_erased_until_a_new_token_enrolls_a_fresh_key(
        data_dir: Path, hub: RunningHub) -> None:
    station, used_token = enrolled_station(data_dir, hub)
    lost_id = dsse.key_id(station.key.public_key())
    (data_dir / KEY_NAME).write_bytes(b"")  # a stick copied badly

    station = flow.open_station(data_dir)
    machine = sample_machine(disks=(sample_disk(),))
    run = Run(station, take_inventory=lambda _station: machine, live_progress=False,
              probe=lambda disk: None)  # type: ignore[arg-type,return-value]
    run.inspect()
    assert run.identity_problem is not None
    assert "station key is damaged" in run.identity_problem
    assert "new enrollment token" in run.identity_problem and '"lyon-3"' in run.identity_problem
    assert "already used" in run.identity_problem  # what the platform said
    with pytest.raises(RunError):
        run.erase()
    row = hub.database.station_by_token(used_token)
    assert row is not None and row.public_key is not None
    assert row.key_id == lost_id  # the hub still knows the lost key

    token = hub.database.new_station_token("lyon-3")
    configure(data_dir, url=hub.url, token=token)
    station = flow.open_station(data_dir)
    assert station.identity_loss == KEY_DAMAGED
    assert flow.restore_identity(station) is None
    assert not (data_dir / IDENTITY_LOST_MARK).exists()
    row = hub.database.station_by_token(token)
    assert row is not None and row.public_key is not None
    assert row.key_id == dsse.key_id(station.key.public_key())
    assert flow.open_station(data_dir).identity_loss is None


def test_an_unattended_run_without_identity_fails_at_once_and_says_why(
        data_dir: Path, hub: RunningHub, tmp_path: Path) -> None:
    enrolled_station(data_dir, hub)
    (data_dir / KEY_NAME).unlink()
    configure(data_dir, url=hub.url, token="the-old-one", unattended=True)
    station = flow.open_station(data_dir)
    console, mark = io.StringIO(), tmp_path / "unattended-started"
    code = run_unattended(station, StatusLine(console), power_off=False,
                          take_inventory=lambda _station: sample_machine(),
                          failure_mark=mark)
    events = [json.loads(line[len(STATUS_PREFIX):]) for line in console.getvalue().splitlines()]
    assert code != 0
    assert [event["event"] for event in events] == ["start", "failed"]
    assert "station key is missing" in events[-1]["error"]
    assert why_unattended_stopped(mark) == events[-1]["error"]


def test_an_unattended_run_that_crashes_ends_with_a_failed_line_naming_the_error(
        data_dir: Path, tmp_path: Path) -> None:
    configure(data_dir, unattended=True)
    station = flow.open_station(data_dir)

    def broken_inventory(_station: flow.Station) -> Machine:
        raise OSError(5, "Input/output error", "/dev/sda")

    console, mark = io.StringIO(), tmp_path / "unattended-started"
    code = run_unattended(station, StatusLine(console), power_off=False,
                          take_inventory=broken_inventory, failure_mark=mark)
    events = [json.loads(line[len(STATUS_PREFIX):]) for line in console.getvalue().splitlines()]
    assert code != 0 and events[-1]["event"] == "failed"
    assert "OSError" in events[-1]["error"] and "/dev/sda" in events[-1]["error"]
    assert why_unattended_stopped(mark) == events[-1]["error"]


def test_writes_a_cut_stopped_before_their_rename_are_removed_at_start(data_dir: Path) -> None:
    configure(data_dir)
    key = flow.open_station(data_dir).key
    (data_dir / "outbox").mkdir()
    leftovers = [data_dir / ".station.key.next.tmp", data_dir / "outbox" / ".0b9a.json.tmp"]
    for path in leftovers:
        path.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")  # half a key, half a report
    kept = data_dir / "outbox" / "0b9a.json"
    kept.write_text("{}")
    station = flow.open_station(data_dir)
    assert not any(path.exists() for path in leftovers)
    assert kept.exists() and station.identity_loss is None
    assert dsse.key_id(station.key.public_key()) == dsse.key_id(key.public_key())

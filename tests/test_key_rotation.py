"""Key rotation on the agent: a message signed by both keys, the swap only after the hub's 200,
the old key kept while reports it signed still wait."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import flow
from agent.cli import main
from agent.report import dsse
from agent.wipe.jobs import WipeResult
from tests.helpers import sample_disk, sample_machine
from tests.receiver import Receiver

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)


class RotatingHub:
    """The hub's side of enrollment, reports and rotation, with the contract's checks."""

    def __init__(self, receiver: Receiver) -> None:
        self.current: Ed25519PublicKey | None = None
        self.retired: list[Ed25519PublicKey] = []
        self.refuse_rotation = False
        self.stored: list[dict] = []
        receiver.routes.update({"/api/v1/stations/enroll": self.enroll,
                                "/api/v1/stations/rotate": self.rotate,
                                "/api/v1/reports": self.report})

    def enroll(self, body: Any) -> tuple[int, dict]:
        self.current = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
        return 201, {"station": body["name"], "key_id": dsse.key_id(self.current)}

    def rotate(self, envelope: Any) -> tuple[int, dict]:
        if self.refuse_rotation or self.current is None:
            return 403, {"detail": "refused"}
        payload_type, payload, signatures = dsse.parse(envelope)
        message = json.loads(payload)
        new = Ed25519PublicKey.from_public_bytes(base64.b64decode(message["new_public_key"]))
        try:
            dsse.verify({**envelope, "signatures": [envelope["signatures"][0]]}, self.current)
            dsse.verify({**envelope, "signatures": [envelope["signatures"][1]]}, new)
        except dsse.EnvelopeError:
            return 403, {"detail": "both signatures needed"}
        if (payload_type != dsse.KEY_ROTATION_PAYLOAD_TYPE or len(signatures) != 2
                or message["schema"] != "reeeboot.key-rotation/1"
                or message["old_key_id"] != dsse.key_id(self.current)):
            return 403, {"detail": "not the current key"}
        self.retired.append(self.current)
        self.current = new
        return 200, {"station": message["station"], "key_id": dsse.key_id(new)}

    def report(self, envelope: Any) -> tuple[int, dict]:
        for key in [k for k in (self.current, *self.retired) if k is not None]:
            try:
                self.stored.append(json.loads(dsse.verify(envelope, key)))
                return 201, {"status": "stored"}
            except dsse.EnvelopeError:
                continue
        return 403, {"detail": "bad signature"}


def station_for(data_dir: Path, url: str) -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(
        f'language = "en"\n[station]\nname = "lyon-3"\n[hub]\nurl = "{url}"\n'
        f'enrollment_token = "tok"\n')
    return flow.open_station(data_dir)


def erased() -> WipeResult:
    disk = sample_disk()
    return WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                      result="erased", verified=True)


def test_rotation_swaps_keys_after_the_hub_agrees_and_keeps_the_old_for_waiting_reports(
    data_dir: Path, receiver: Receiver,
) -> None:
    hub = RotatingHub(receiver)
    station = station_for(data_dir, receiver.url)
    old_id = dsse.key_id(station.key.public_key())
    # A report signed by the old key waits (the hub refuses reports for a moment).
    receiver.routes["/api/v1/reports"] = lambda body: (503, {"detail": "busy"})
    waiting_id, _path = flow.file_report(station, sample_machine(), [erased()], START)
    assert flow.deliver_reports(station, deadline_seconds=0).waiting == [waiting_id]

    assert main(["--data", str(data_dir), "station", "rotate-key"]) == 0
    new_key_id = dsse.key_id(flow.open_station(data_dir).key.public_key())
    assert new_key_id != old_id and hub.current is not None
    assert dsse.key_id(hub.current) == new_key_id
    assert (data_dir / f"station.key.retired-{old_id}").exists()
    assert not (data_dir / "station.key.next").exists()
    rotation = receiver.bodies("/api/v1/stations/rotate")[0]
    assert [s["keyid"] for s in rotation["signatures"]] == [old_id, new_key_id]

    # New reports are signed by the new key; the old one goes once its report is delivered.
    station = flow.open_station(data_dir)
    new_report, _path = flow.file_report(station, sample_machine(), [erased()], START)
    receiver.routes["/api/v1/reports"] = hub.report
    outcome = flow.deliver_reports(station, deadline_seconds=0)
    assert sorted(outcome.sent) == sorted([waiting_id, new_report])
    signers = {r["report_id"]: r["station"]["key_id"] for r in hub.stored}
    assert signers == {waiting_id: old_id, new_report: new_key_id}
    assert not (data_dir / f"station.key.retired-{old_id}").exists()
    assert len(receiver.bodies("/api/v1/stations/enroll")) == 1  # no enrollment after rotation


def test_a_refused_rotation_changes_nothing_and_a_retry_proposes_the_same_key(
    data_dir: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str],
) -> None:
    hub = RotatingHub(receiver)
    hub.refuse_rotation = True
    station = station_for(data_dir, receiver.url)
    old_id = dsse.key_id(station.key.public_key())  # the key is made on first use
    before = (data_dir / "station.key").read_bytes()
    assert main(["--data", str(data_dir), "station", "rotate-key"]) == 1
    assert "The key was not changed" in capsys.readouterr().err
    assert (data_dir / "station.key").read_bytes() == before
    proposed = (data_dir / "station.key.next").read_bytes()
    hub.refuse_rotation = False
    rotated_from, new_id = flow.rotate_station_key(flow.open_station(data_dir))
    assert rotated_from == old_id
    assert (data_dir / "station.key").read_bytes() == proposed  # the key proposed the first time
    assert hub.current is not None and dsse.key_id(hub.current) == new_id

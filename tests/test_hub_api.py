"""The hub's API refuses what does not verify and stores each report once."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from agent.report import dsse
from agent.report.model import build_report
from hub.app import create_app
from hub.db import Database
from tests.helpers import sample_machine


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "hub.sqlite3"


@pytest.fixture
def client(database_path: Path) -> TestClient:
    return TestClient(create_app(database_path))


def enroll(client: TestClient, database_path: Path, name: str = "lyon-3") -> Ed25519PrivateKey:
    token = Database(database_path).add_station(name)
    key = Ed25519PrivateKey.generate()
    response = client.post("/api/v1/stations/enroll", json={
        "token": token, "name": name,
        "public_key": base64.b64encode(dsse.public_key_bytes(key.public_key())).decode(),
    })
    assert response.status_code == 201, response.text
    return key


def signed_report(key: Ed25519PrivateKey, **changes: Any) -> tuple[dict, dict]:
    report = build_report(
        sample_machine(), [], station_name="lyon-3",
        station_key_id=dsse.key_id(key.public_key()),
        started_at=datetime.datetime(2026, 11, 28, tzinfo=datetime.UTC),
    )
    report.update(changes)
    return report, dsse.sign(dsse.canonical_json(report), key)


def test_valid_report_is_stored_and_listed(client: TestClient, database_path: Path) -> None:
    key = enroll(client, database_path)
    report, envelope = signed_report(key)
    response = client.post("/api/v1/reports", json=envelope)
    assert response.status_code == 201, response.text
    listing = client.get("/api/v1/reports").json()
    assert [row["report_id"] for row in listing] == [report["report_id"]]
    assert listing[0]["system_serial"] == "5XK2L3J"
    stored = client.get(f"/api/v1/reports/{report['report_id']}").json()
    assert stored["report"] == report


def test_same_report_twice_is_stored_once(client: TestClient, database_path: Path) -> None:
    key = enroll(client, database_path)
    _report, envelope = signed_report(key)
    assert client.post("/api/v1/reports", json=envelope).status_code == 201
    assert client.post("/api/v1/reports", json=envelope).status_code == 200
    assert len(client.get("/api/v1/reports").json()) == 1


def test_replayed_id_with_other_content_is_refused(
    client: TestClient, database_path: Path
) -> None:
    key = enroll(client, database_path)
    report, envelope = signed_report(key)
    _other, changed = signed_report(key, report_id=report["report_id"],
                                    created_at="2030-01-01T00:00:00+00:00")
    assert client.post("/api/v1/reports", json=envelope).status_code == 201
    assert client.post("/api/v1/reports", json=changed).status_code == 409
    stored = client.get(f"/api/v1/reports/{report['report_id']}").json()
    assert stored["report"] == report


def test_forged_payload_is_refused_and_not_stored(
    client: TestClient, database_path: Path
) -> None:
    key = enroll(client, database_path)
    report, envelope = signed_report(key)
    forged = copy.deepcopy(envelope)
    report["machine"]["system"]["serial"] = "SOMEONE-ELSE"
    forged["payload"] = base64.b64encode(dsse.canonical_json(report)).decode()
    response = client.post("/api/v1/reports", json=forged)
    assert response.status_code == 403
    assert client.get("/api/v1/reports").json() == []


def test_unenrolled_key_is_refused(client: TestClient, database_path: Path) -> None:
    enroll(client, database_path)
    _report, envelope = signed_report(Ed25519PrivateKey.generate())
    assert client.post("/api/v1/reports", json=envelope).status_code == 403


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"payloadType": 1}'])
def test_malformed_bodies_get_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/reports", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_wrong_schema_is_refused(client: TestClient, database_path: Path) -> None:
    key = enroll(client, database_path)
    _report, envelope = signed_report(key, schema="reeeboot.report/99")
    response = client.post("/api/v1/reports", json=envelope)
    assert response.status_code == 422
    assert "schema" in response.json()["detail"]


def test_token_is_one_time(client: TestClient, database_path: Path) -> None:
    token = Database(database_path).add_station("lyon-4")
    keys = [Ed25519PrivateKey.generate() for _ in range(2)]
    bodies = [{"token": token, "public_key": base64.b64encode(
        dsse.public_key_bytes(key.public_key())).decode()} for key in keys]
    assert client.post("/api/v1/stations/enroll", json=bodies[0]).status_code == 201
    assert client.post("/api/v1/stations/enroll", json=bodies[0]).status_code == 200
    assert client.post("/api/v1/stations/enroll", json=bodies[1]).status_code == 409
    assert client.post("/api/v1/stations/enroll", json={
        "token": "nope", "public_key": bodies[1]["public_key"]}).status_code == 403


def test_page_lists_reports_in_french(client: TestClient, database_path: Path) -> None:
    key = enroll(client, database_path)
    report, envelope = signed_report(key, report_id=str(uuid.uuid4()))
    client.post("/api/v1/reports", json=envelope)
    page = client.get("/", headers={"accept-language": "fr-FR,fr;q=0.9"}).text
    assert "Rapports reçus" in page
    assert report["report_id"] in page and "OptiPlex 7010" in page
    assert "Received reports" in client.get("/?lang=en").text


def test_openapi_description_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/reports" in spec["paths"]
    assert json.dumps(spec)


def test_other_payload_type_is_refused(client: TestClient, database_path: Path) -> None:
    key = enroll(client, database_path)
    report, _envelope = signed_report(key)
    envelope = dsse.sign(dsse.canonical_json(report), key, payload_type="text/plain")
    assert client.post("/api/v1/reports", json=envelope).status_code == 422
    assert client.get("/api/v1/reports").json() == []

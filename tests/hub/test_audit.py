"""The security log: sign-ins, refusals and station changes each leave one JSON line, with no
secret in it, and a client's text cannot forge a line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from tests.hub.helpers import PASSWORD, Hub, Station
from tests.hub.test_pages import sign_in


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [record.getMessage() for record in caplog.records
             if record.name == "reeeboot.hub.audit"]
    assert all("\n" not in line for line in lines)
    return [json.loads(line) for line in lines]


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    return caplog


def test_sign_ins_are_logged_without_the_password(hub: Hub,
                                                  audit_log: pytest.LogCaptureFixture) -> None:
    email = hub.person("admin@example.org")
    client = TestClient(hub.client.app)
    assert sign_in(client, email, "wrong-guess-123").status_code == 401
    assert sign_in(client, email, PASSWORD).status_code == 303
    logged = events(audit_log)
    assert [line["event"] for line in logged] == ["sign_in_failed", "signed_in"]
    assert all(line["account"] == email and line["address"] for line in logged)
    whole = audit_log.text
    assert "wrong-guess-123" not in whole and PASSWORD not in whole
    assert "reeeboot_session" not in whole


def test_a_typed_line_break_cannot_forge_a_log_line(hub: Hub,
                                                    audit_log: pytest.LogCaptureFixture) -> None:
    forged = 'x@example.org\n{"event": "signed_in", "account": "admin@example.org"}'
    sign_in(TestClient(hub.client.app), forged, "whatever-password")
    logged = events(audit_log)
    assert [line["event"] for line in logged] == ["sign_in_failed"]
    assert logged[0]["account"].startswith("x@example.org\n")


def test_refusals_and_station_changes_are_logged(hub: Hub,
                                                 audit_log: pytest.LogCaptureFixture) -> None:
    station = hub.station("lyon-3", "Lyon")
    stranger = Station("lyon-3", Ed25519PrivateKey.generate())
    assert hub.client.post("/api/v1/reports",
                           json=stranger.sign(stranger.report("AUD1"))).status_code == 403
    workshop = hub.api_token(hub.person("lyon@example.org", "workshop", "Lyon"))
    assert hub.client.post("/api/v1/stations/lyon-3/revoke",
                           headers=workshop).status_code == 403
    assert hub.client.get("/api/v1/reports",
                          headers={"authorization": "Bearer guessed"}).status_code == 401
    assert hub.client.post("/api/v1/stations/lyon-3/revoke",
                           headers=hub.admin_headers()).status_code == 200
    logged = events(audit_log)
    assert [line["event"] for line in logged] == [
        "station_enrolled", "envelope_refused", "admin_only_refused", "api_token_refused",
        "station_revoked"]
    assert logged[0]["station"] == "lyon-3" and logged[0]["key_id"] == station.key_id
    assert logged[2]["person"] == "lyon@example.org"
    assert "guessed" not in audit_log.text


def test_serve_writes_the_log_to_standard_error() -> None:
    script = ("from hub import audit; audit.send_to_standard_error(); "
              "audit.record('signed_in', account='a@example.org')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    line = done.stderr.strip()
    assert line.startswith("reeeboot-hub audit ")
    assert json.loads(line.removeprefix("reeeboot-hub audit "))["event"] == "signed_in"

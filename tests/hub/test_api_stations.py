"""Key rotation, revocation and live progress, as docs/contracts fix them."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from agent.report import dsse
from tests.hub.helpers import Hub, Station


def test_rotation_makes_the_new_key_current_and_keeps_old_reports_coming(hub: Hub) -> None:
    station = hub.station()
    waiting = station.report("SER-OLD")  # signed before the rotation, still in the outbox
    waiting_envelope = station.sign(waiting)
    new_key = Ed25519PrivateKey.generate()
    response = hub.client.post("/api/v1/stations/rotate", json=station.rotation(new_key))
    assert response.status_code == 200, response.text
    assert response.json() == {"station": station.name,
                                "key_id": dsse.key_id(new_key.public_key())}
    assert hub.client.post("/api/v1/reports", json=waiting_envelope).status_code == 201
    rotated = Station(station.name, new_key)
    assert hub.client.post("/api/v1/reports",
                           json=rotated.sign(rotated.report("SER-NEW"))).status_code == 201
    # The retired key can neither rotate again nor send progress.
    again = hub.client.post("/api/v1/stations/rotate",
                            json=station.rotation(Ed25519PrivateKey.generate()))
    assert again.status_code == 403
    assert hub.client.post("/api/v1/progress", json=station.progress("rb1-x")).status_code == 403
    assert hub.client.post("/api/v1/progress", json=rotated.progress("rb1-x")).status_code == 202
    current = hub.store.station_by_name(station.name)
    assert current is not None and current.key_id == rotated.key_id


def test_rotation_needs_both_signatures(hub: Hub) -> None:
    station = hub.station()
    new_key = Ed25519PrivateKey.generate()
    for envelope in (station.rotation(new_key, sign_new=False),
                     station.rotation(new_key, sign_old=False)):
        response = hub.client.post("/api/v1/stations/rotate", json=envelope)
        assert response.status_code == 403, response.text
    forged = station.rotation(new_key)
    forged["signatures"][0]["sig"] = forged["signatures"][1]["sig"]
    assert hub.client.post("/api/v1/stations/rotate", json=forged).status_code == 403
    current = hub.store.station_by_name(station.name)
    assert current is not None and current.key_id == station.key_id


def test_malformed_rotation_gets_400(hub: Hub) -> None:
    station = hub.station()
    assert hub.client.post("/api/v1/stations/rotate", content=b"{").status_code == 400
    wrong_type = station.sign({"schema": "reeeboot.key-rotation/1"})
    assert hub.client.post("/api/v1/stations/rotate", json=wrong_type).status_code == 400
    bad_key = station.sign({"schema": "reeeboot.key-rotation/1", "station": station.name,
                            "old_key_id": station.key_id, "new_public_key": "AAAA",
                            "created_at": "x"},
                           payload_type="application/vnd.reeeboot.key-rotation+json")
    assert hub.client.post("/api/v1/stations/rotate", json=bad_key).status_code == 400


def test_revoked_station_is_refused_and_keeps_its_reports(hub: Hub) -> None:
    station = hub.station()
    before = station.report("SER-1")
    assert hub.client.post("/api/v1/reports", json=station.sign(before)).status_code == 201
    admin = hub.admin_headers()
    response = hub.client.post(f"/api/v1/stations/{station.name}/revoke", headers=admin)
    assert response.status_code == 200, response.text
    after = hub.client.post("/api/v1/reports", json=station.sign(station.report("SER-2")))
    assert after.status_code == 403 and after.json()["detail"] == "station key revoked"
    assert hub.client.post("/api/v1/progress", json=station.progress("rb1-x")).status_code == 403
    assert hub.client.post("/api/v1/stations/rotate", json=station.rotation(
        Ed25519PrivateKey.generate())).status_code == 403
    assert hub.stored_ids() == [before["report_id"]]
    assert hub.client.post("/api/v1/stations/nowhere/revoke", headers=admin).status_code == 404
    # A new token lets the station enroll a fresh key; the old one stays refused.
    import base64

    token = hub.store.new_station_token(station.name)
    fresh = Ed25519PrivateKey.generate()
    enrolled = hub.client.post("/api/v1/stations/enroll", json={
        "token": token, "public_key": base64.b64encode(
            dsse.public_key_bytes(fresh.public_key())).decode()})
    assert enrolled.status_code == 201
    renewed = Station(station.name, fresh)
    assert hub.client.post("/api/v1/reports",
                           json=renewed.sign(renewed.report("SER-3"))).status_code == 201
    assert hub.client.post("/api/v1/reports",
                           json=station.sign(station.report("SER-4"))).status_code == 403


def test_revocation_needs_an_administrator(hub: Hub) -> None:
    station = hub.station(workshop="Lyon")
    anonymous = hub.client.post(f"/api/v1/stations/{station.name}/revoke")
    assert anonymous.status_code == 401
    worker = hub.api_token(hub.person("atelier@example.org", "workshop", "Lyon"))
    assert hub.client.post(f"/api/v1/stations/{station.name}/revoke",
                           headers=worker).status_code == 403
    current = hub.store.station_by_name(station.name)
    assert current is not None and not current.revoked


def test_session_revocation_needs_the_csrf_token(hub: Hub) -> None:
    station = hub.station()
    browser = TestClient(hub.client.app)
    csrf = hub.login(browser, hub.person("admin@example.org"))
    refused = browser.post(f"/api/v1/stations/{station.name}/revoke")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = browser.post(f"/api/v1/stations/{station.name}/revoke",
                         headers={"x-csrf-token": "guess"})
    assert wrong.status_code == 403
    assert not hub.store.station_by_name(station.name).revoked  # type: ignore[union-attr]
    accepted = browser.post(f"/api/v1/stations/{station.name}/revoke",
                            headers={"x-csrf-token": csrf})
    assert accepted.status_code == 200
    assert hub.store.station_by_name(station.name).revoked  # type: ignore[union-attr]


def test_progress_keeps_the_latest_state_per_machine(hub: Hub) -> None:
    station = hub.station(workshop="Lyon")
    for done in (10, 60):
        response = hub.client.post("/api/v1/progress",
                                   json=station.progress("rb1-live", done=done))
        assert response.status_code == 202 and response.json() == {
            "status": "accepted", "orders": {"unattended": None, "power_off_at_end": False}}
    hub.client.post("/api/v1/progress", json=station.progress("rb1-other", step="install"))
    live = hub.client.get("/api/v1/live", headers=hub.admin_headers()).json()
    states = {state["machine_id"]: state for state in live}
    assert set(states) == {"rb1-live", "rb1-other"}
    assert states["rb1-live"]["progress"]["disks"][0]["bytes_done"] == 60
    assert states["rb1-other"]["step"] == "install"
    assert states["rb1-live"]["workshop"] == "Lyon"


def test_bad_progress_is_refused_and_not_kept(hub: Hub) -> None:
    station = hub.station()
    bad_step = station.progress("rb1-live", step="dancing")
    assert hub.client.post("/api/v1/progress", json=bad_step).status_code == 422
    other_schema = station.sign({"schema": "reeeboot.progress/9", "machine_id": "rb1-x",
                                 "step": "erase"},
                                payload_type="application/vnd.reeeboot.progress+json")
    assert hub.client.post("/api/v1/progress", json=other_schema).status_code == 422
    assert hub.client.post("/api/v1/progress", content=b"nope").status_code == 400
    stranger = Station("nobody", Ed25519PrivateKey.generate())
    assert hub.client.post("/api/v1/progress",
                           json=stranger.progress("rb1-live")).status_code == 403
    assert hub.store.live_states() == []


def test_rotation_to_a_key_already_enrolled_gets_409_and_changes_nothing(hub: Hub) -> None:
    station, other = hub.station("lyon-3"), hub.station("grenoble-1")
    response = hub.client.post("/api/v1/stations/rotate", json=station.rotation(other.key))
    assert response.status_code == 409 and "already" in response.json()["detail"]
    for kept in (station, other):
        row = hub.store.station_by_name(kept.name)
        assert row is not None and row.key_id == kept.key_id


def test_an_enrollment_body_is_bounded_before_it_is_parsed(hub: Hub) -> None:
    token = hub.store.add_station("lyon-9")
    huge = b'{"token": "' + token.encode() + b'", "name": "' + b"x" * (50 << 20) + b'"}'
    response = hub.client.post("/api/v1/stations/enroll", content=huge,
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    for body in (b"not json", b'{"name": "lyon-9"}', b'{"token": 5, "public_key": []}'):
        answer = hub.client.post("/api/v1/stations/enroll", content=body,
                                 headers={"content-type": "application/json"})
        assert answer.status_code == 422, body
    row = hub.store.station_by_token(token)
    assert row is not None and row.key_id is None  # the token is still unused

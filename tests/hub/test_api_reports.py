"""Reports: each is verified, stored once, and anything wrong gets a clear 4xx and no row."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.report import dsse
from hub.ingest import MAX_BODY_BYTES
from tests.hub.helpers import Hub, erased


def test_valid_report_is_stored_listed_and_makes_a_machine(hub: Hub) -> None:
    station = hub.station()
    report = station.report("SER-1")
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 201, response.text
    assert response.json() == {"report_id": report["report_id"], "status": "stored"}
    admin = hub.admin_headers()
    listing = hub.client.get("/api/v1/reports", headers=admin).json()
    assert [row["report_id"] for row in listing] == [report["report_id"]]
    assert listing[0]["system_serial"] == "SER-1" and listing[0]["asset_id"] == "RB-SER-1"
    stored = hub.client.get(f"/api/v1/reports/{report['report_id']}", headers=admin).json()
    assert stored["report"] == report and stored["key_id"] == station.key_id
    assert dsse.verify(stored["envelope"], station.key.public_key())
    machines = hub.client.get("/api/v1/machines", headers=admin).json()
    assert [(m["machine_id"], m["latest_report_id"]) for m in machines] == [
        (report["machine"]["identity"]["id"], report["report_id"])]


def test_same_report_twice_is_stored_once(hub: Hub) -> None:
    station = hub.station()
    envelope = station.sign(station.report())
    assert hub.client.post("/api/v1/reports", json=envelope).status_code == 201
    again = hub.client.post("/api/v1/reports", json=envelope)
    assert again.status_code == 200 and again.json()["status"] == "already stored"
    assert len(hub.stored_ids()) == 1


def test_replayed_id_with_other_content_is_refused(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    changed = {**copy.deepcopy(report), "created_at": "2026-12-01T00:00:00+00:00"}
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    response = hub.client.post("/api/v1/reports", json=station.sign(changed))
    assert response.status_code == 409 and "different report" in response.json()["detail"]
    stored = hub.store.report(report["report_id"])
    assert stored is not None and json.loads(stored["payload"]) == report


def test_forged_payload_is_refused_and_not_stored(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    forged = station.sign(report)
    report["machine"]["system"]["serial"] = "SOMEONE-ELSE"
    forged["payload"] = base64.b64encode(dsse.canonical_json(report)).decode()
    response = hub.client.post("/api/v1/reports", json=forged)
    assert response.status_code == 403 and "verif" in response.json()["detail"]
    assert hub.stored_ids() == []


def test_unenrolled_key_is_refused(hub: Hub) -> None:
    station = hub.station()
    station.key = Ed25519PrivateKey.generate()
    response = hub.client.post("/api/v1/reports", json=station.sign(station.report()))
    assert response.status_code == 403 and "no station" in response.json()["detail"]
    assert hub.stored_ids() == []


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"payloadType": 1}', b"{",
    b'{"payloadType": "x", "payload": "!!", "signatures": [{"keyid": "a", "sig": "AA=="}]}',
    b'{"payloadType": "x", "payload": "", "signatures": []}',
])
def test_malformed_bodies_get_400_and_store_nothing(hub: Hub, body: bytes) -> None:
    hub.station()
    response = hub.client.post("/api/v1/reports", content=body,
                               headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
    assert hub.stored_ids() == []


def test_oversized_body_gets_413_and_stores_nothing(hub: Hub) -> None:
    station = hub.station()
    report = station.report(padding="x" * (MAX_BODY_BYTES))
    response = hub.client.post("/api/v1/reports", content=json.dumps(station.sign(report)),
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert hub.stored_ids() == []


def test_unknown_schema_version_gets_422(hub: Hub) -> None:
    station = hub.station()
    response = hub.client.post("/api/v1/reports",
                               json=station.sign(station.report(schema="reeeboot.report/99")))
    assert response.status_code == 422
    assert "schema" in response.json()["detail"]
    assert hub.stored_ids() == []


def test_report_naming_another_key_gets_422(hub: Hub) -> None:
    station = hub.station()
    report = station.report(station={"name": station.name, "key_id": "0" * 64})
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 422 and "another station key" in response.json()["detail"]
    assert hub.stored_ids() == []


def test_other_payload_type_gets_422(hub: Hub) -> None:
    station = hub.station()
    envelope = station.sign(station.report(), payload_type="text/plain")
    assert hub.client.post("/api/v1/reports", json=envelope).status_code == 422
    assert hub.stored_ids() == []


def test_token_is_one_time_and_a_new_token_enrolls_a_new_key(hub: Hub) -> None:
    token = hub.store.add_station("lyon-4")
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    bodies = [{"token": token, "public_key": base64.b64encode(
        dsse.public_key_bytes(key.public_key())).decode()} for key in keys]
    assert hub.client.post("/api/v1/stations/enroll", json=bodies[0]).status_code == 201
    assert hub.client.post("/api/v1/stations/enroll", json=bodies[0]).status_code == 200
    assert hub.client.post("/api/v1/stations/enroll", json=bodies[1]).status_code == 409
    assert hub.client.post("/api/v1/stations/enroll", json={
        "token": "nope", "public_key": bodies[1]["public_key"]}).status_code == 403
    assert hub.client.post("/api/v1/stations/enroll", json={
        "token": token, "public_key": "AAAA"}).status_code == 422
    fresh = hub.store.new_station_token("lyon-4")
    body = {**bodies[2], "token": fresh}
    assert hub.client.post("/api/v1/stations/enroll", json=body).status_code == 201
    station = hub.store.station_by_name("lyon-4")
    assert station is not None and station.key_id == dsse.key_id(keys[2].public_key())


def test_filters_by_serial_asset_machine_station_and_date(hub: Hub) -> None:
    lyon, nantes = hub.station("lyon-3"), hub.station("nantes-1")
    first = lyon.report("SER-A", created_at="2026-10-03T10:00:00+00:00")
    second = lyon.report("SER-B", created_at="2026-11-20T10:00:00+00:00")
    third = nantes.report("SER-A", created_at="2026-11-21T10:00:00+00:00")
    for station, report in ((lyon, first), (lyon, second), (nantes, third)):
        assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    admin = hub.admin_headers()

    def ids(**query: str) -> set[str]:
        response = hub.client.get("/api/v1/reports", params=query, headers=admin)
        assert response.status_code == 200, response.text
        return {row["report_id"] for row in response.json()}

    assert ids(serial="SER-A") == {first["report_id"], third["report_id"]}
    assert ids(asset_id="RB-SER-B") == {second["report_id"]}
    assert ids(station="nantes-1") == {third["report_id"]}
    assert ids(date="2026-11-20") == {second["report_id"]}
    assert ids(since="2026-11-01") == {second["report_id"], third["report_id"]}
    assert ids(until="2026-10-31") == {first["report_id"]}
    assert ids(machine_id=first["machine"]["identity"]["id"]) == {
        first["report_id"], third["report_id"]}
    assert ids(serial="NOPE") == set()
    assert hub.client.get("/api/v1/reports", params={"date": "yesterday"},
                          headers=admin).status_code == 422


def test_csv_export_has_a_row_per_report_and_no_formulas(hub: Hub) -> None:
    station = hub.station()
    plain = station.report("SER-C", erasures=[erased("D1"), erased("D2", "/dev/sdb",
                                                                  method="nvme-sanitize-crypto",
                                                                  level="purge")])
    sneaky = station.report("=HYPERLINK(1)")
    for report in (plain, sneaky):
        hub.client.post("/api/v1/reports", json=station.sign(report))
    response = hub.client.get("/api/v1/export/reports.csv", headers=hub.admin_headers())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_id = {row["report_id"]: row for row in rows}
    assert set(by_id) == {plain["report_id"], sneaky["report_id"]}
    assert by_id[plain["report_id"]]["methods"] == "random nvme-sanitize-crypto"
    assert by_id[plain["report_id"]]["disks_erased"] == "2"
    assert by_id[sneaky["report_id"]]["system_serial"] == "'=HYPERLINK(1)"


def test_retired_and_revoked_reports_are_marked(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    assert hub.store.revoke_station(station.name)
    stored = hub.client.get(f"/api/v1/reports/{report['report_id']}",
                            headers=hub.admin_headers()).json()
    assert stored["signed_by_revoked_key"] is True and stored["key_status"] == "revoked"


def test_a_model_only_identity_never_merges_two_machines(hub: Hub) -> None:
    station = hub.station()
    reports = [station.report(f"SER-{n}") for n in range(2)]
    for report in reports:
        # Both units of the model share an identity that does not tell them apart.
        report["machine"]["identity"] = {"id": "rb1-" + "ab" * 32, "basis": ["vendor", "product"],
                                         "placeholder_fields": ["system_serial"],
                                         "ereuse_hid": "x", "distinguishes_units": False}
        hub.store_directly(station, report)
    machines = hub.client.get("/api/v1/machines", headers=hub.admin_headers()).json()
    assert len(machines) == 2
    assert all(not machine["machine_id"].startswith("rb1-") for machine in machines)
    twice = station.report("SER-SAME")
    again = {**station.report("SER-SAME")}
    for report in (twice, again):
        assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    ids = {row["machine_id"] for row in hub.client.get(
        "/api/v1/reports", params={"serial": "SER-SAME"}, headers=hub.admin_headers()).json()}
    assert ids == {twice["machine"]["identity"]["id"]}  # a real identity: one machine


def test_many_signatures_are_refused_before_any_key_is_looked_up(
        hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    station = hub.station()
    envelope = station.sign(station.report())
    made_up = [{"keyid": f"{n:064x}", "sig": envelope["signatures"][0]["sig"]}
               for n in range(3000)]
    envelope["signatures"] = made_up + envelope["signatures"]
    looked_up: list[str] = []
    real_lookup = hub.store.signing_key

    def counting_lookup(key_id: str) -> object:
        looked_up.append(key_id)
        return real_lookup(key_id)

    monkeypatch.setattr(hub.store, "signing_key", counting_lookup)
    response = hub.client.post("/api/v1/reports", json=envelope)
    assert response.status_code == 400 and "at most 2 signatures" in response.json()["detail"]
    assert looked_up == [] and hub.stored_ids() == []


def test_unsigned_extra_fields_are_neither_stored_nor_served(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    envelope = station.sign(report)
    envelope["unsigned_note"] = "x" * (1 << 20)
    envelope["signatures"][0]["unsigned_too"] = "y" * 1000
    assert hub.client.post("/api/v1/reports", json=envelope).status_code == 201
    served = hub.client.get(f"/api/v1/reports/{report['report_id']}/envelope",
                            headers=hub.admin_headers())
    assert served.status_code == 200 and len(served.content) < 64 << 10
    document = served.json()
    assert set(document) == {"payloadType", "payload", "signatures"}
    assert document["signatures"] == [{"keyid": station.key_id,
                                       "sig": envelope["signatures"][0]["sig"]}]
    assert dsse.verify(document, station.key.public_key())


def nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"deeper": value}
    return value


def test_deep_nesting_anywhere_gets_a_4xx_and_stores_nothing(hub: Hub) -> None:
    station = hub.station()
    report = station.report()
    # 1,000 levels, written out: Python's own JSON encoder would give up first.
    body = json.dumps(station.sign(report))[:-1] + ', "extra": ' + '{"d": ' * 1000 + "1" + \
        "}" * 1000 + "}"
    assert hub.client.post("/api/v1/reports", content=body.encode(),
                           headers={"content-type": "application/json"}).status_code == 400
    report["erasure"][0]["evidence"]["deep"] = nested(400)  # the signing side nests no deeper
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 422 and "nested deeper" in response.json()["detail"]
    assert hub.stored_ids() == []


@pytest.mark.parametrize("where", ["serial", "vendor", "asset_id", "machine_id"])
def test_nul_characters_are_refused_alike_on_every_database(hub: Hub, where: str) -> None:
    station = hub.station()
    report = station.report("SER-NUL")
    if where == "asset_id":
        report["asset_id"] = "RB-\x00-1"
    elif where == "machine_id":
        report["machine"]["identity"]["id"] = "rb1-\x00"
    else:
        report["machine"]["system"][where] = "ab\x00cd"
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 422 and "NUL" in response.json()["detail"]
    assert hub.stored_ids() == []


def test_a_report_naming_another_station_of_the_hub_is_refused(hub: Hub) -> None:
    mine, other = hub.station("lyon-3"), hub.station("grenoble-1")
    report = mine.report(station={"name": other.name, "key_id": mine.key_id})
    response = hub.client.post("/api/v1/reports", json=mine.sign(report))
    assert response.status_code == 422 and "another station" in response.json()["detail"]
    # A name the hub does not know is the station's own label, and stays allowed.
    labelled = mine.report(station={"name": "atelier du bas", "key_id": mine.key_id})
    assert hub.client.post("/api/v1/reports", json=mine.sign(labelled)).status_code == 201
    assert hub.stored_ids() == [labelled["report_id"]]


def test_every_csv_cell_is_kept_as_text(hub: Hub) -> None:
    station = hub.station()
    reports = [
        station.report("SER-M", erasures=[erased("D1", method="=HYPERLINK(\"http://x\")"),
                                          erased("D2", "/dev/sdb", method="@SUM(1)")]),
        station.report(" =1+1"),
        station.report("SER-N", asset_id="\n=cmd|' /C calc'!A0"),
    ]
    for report in reports:
        assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201
    response = hub.client.get("/api/v1/export/reports.csv", headers=hub.admin_headers())
    import csv
    import io

    rows = {row["report_id"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert rows[reports[0]["report_id"]]["methods"] == "'=HYPERLINK(\"http://x\") @SUM(1)"
    assert rows[reports[1]["report_id"]]["system_serial"] == "' =1+1"
    assert rows[reports[2]["report_id"]]["asset_id"] == "'\n=cmd|' /C calc'!A0"


@pytest.mark.parametrize("claimed", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00"])
def test_an_absurd_claimed_time_is_refused(hub: Hub, claimed: str) -> None:
    station = hub.station()
    response = hub.client.post("/api/v1/reports",
                               json=station.sign(station.report(created_at=claimed)))
    assert response.status_code == 422 and "plausible" in response.json()["detail"]
    assert hub.stored_ids() == []


def test_a_claimed_time_is_kept_in_utc_and_never_orders_a_report_ahead_of_later_ones(
        hub: Hub) -> None:
    import datetime

    station = hub.station()
    admin = hub.admin_headers()
    offset = station.report("SER-T", created_at="2026-11-30T23:30:00-02:00")
    assert hub.client.post("/api/v1/reports", json=station.sign(offset)).status_code == 201
    [listed] = hub.client.get("/api/v1/reports", headers=admin).json()
    assert datetime.datetime.fromisoformat(listed["created_at"]) == datetime.datetime(
        2026, 12, 1, 1, 30, tzinfo=datetime.UTC)
    # A clock a day ahead is a claim, not a way to stay the machine's latest report.
    tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    ahead = station.report("SER-U", created_at=tomorrow.isoformat())
    assert hub.client.post("/api/v1/reports", json=station.sign(ahead)).status_code == 201
    later = station.report("SER-U", created_at=datetime.datetime.now(datetime.UTC).isoformat())
    assert hub.client.post("/api/v1/reports", json=station.sign(later)).status_code == 201
    machine = hub.client.get(f"/api/v1/machines/{later['machine']['identity']['id']}",
                             headers=admin).json()
    assert machine["latest_report_id"] == later["report_id"]


def test_the_text_backslash_u0000_is_not_taken_for_a_nul(hub: Hub) -> None:
    station = hub.station()
    report = station.report("SER-BS", asset_id="C:\\u0000\\temp")  # a backslash, not a NUL
    assert hub.client.post("/api/v1/reports", json=station.sign(report)).status_code == 201

"""Network-booted machines enroll with the boot credential their workshop's boot service gave
them (hub/api/netboot.py), and then report like any station; each test on every test database.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agent.report import dsse
from agent.report.bootcredential import BootClaims, mint, new_claims
from hub.cli import main
from hub.models import STATION_KIND_BOOT_SERVICE, BootEnrollment
from hub.store import StoreForbidden
from tests.hub.helpers import Hub, Station

MAC = "52:54:00:12:34:56"
UUID = "4c4c4544-0042-3510-8052-b4c04f4d4d32"
ENROLL = "/api/v1/netboot/enroll"


def public_key(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(dsse.public_key_bytes(key.public_key())).decode()


def boot_service(hub: Hub, name: str = "boot-lyon", workshop: str = "Lyon") -> Station:
    """A boot service station, its key enrolled with its one-time token as any station's."""
    if hub.store.workshop_id(workshop) is None:
        hub.store.add_workshop(workshop)
    token = hub.store.add_station(name, workshop, kind=STATION_KIND_BOOT_SERVICE)
    key = Ed25519PrivateKey.generate()
    response = hub.client.post("/api/v1/stations/enroll",
                               json={"token": token, "public_key": public_key(key)})
    assert response.status_code == 201, response.text
    return Station(name, key)


def claims_of(service: Station, station: str = "lyon-pc-1", **changes: Any) -> BootClaims:
    return replace(new_claims(boot_service=service.name, key_id=service.key_id, station=station,
                              mac=MAC, uuid=UUID, ip="10.0.0.50"), **changes)


def credential(service: Station, station: str = "lyon-pc-1", **changes: Any) -> str:
    return mint(claims_of(service, station, **changes), service.key)


@dataclass
class Machine:
    """A machine as it enrolls: its new key, its network cards (with the loopback's, as
    /sys/class/net lists it), its firmware UUID as the kernel shows it (upper case)."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    macs: list[str] = field(default_factory=lambda: ["00:00:00:00:00:00", MAC.upper()])
    uuid: str = UUID.upper()

    def enroll(self, hub: Hub, token: str) -> httpx.Response:
        return hub.client.post(ENROLL, json={"credential": token,
                                             "public_key": public_key(self.key),
                                             "macs": self.macs, "uuid": self.uuid})

    def station(self, name: str = "lyon-pc-1") -> Station:
        return Station(name, self.key)


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in response.json()["detail"], response.text


def listed(hub: Hub, name: str) -> dict[str, Any]:
    return next(station for station in hub.store.stations() if station["name"] == name)


def enrollments(hub: Hub) -> list[BootEnrollment]:
    with hub.store.session() as session:
        return list(session.scalars(select(BootEnrollment).order_by(BootEnrollment.id)))


def test_a_good_credential_enrolls_the_machine_in_the_boot_services_workshop(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reeeboot.hub.audit")
    service = boot_service(hub)
    machine = Machine()
    token = credential(service)
    response = machine.enroll(hub, token)
    assert response.status_code == 201, response.text
    key_id = dsse.key_id(machine.key.public_key())
    assert response.json() == {"station": "lyon-pc-1", "key_id": key_id, "workshop": "Lyon"}
    row = hub.store.station_by_name("lyon-pc-1")
    assert row is not None and row.key_id == key_id
    assert row.workshop_id == hub.store.workshop_id("Lyon") is not None
    assert listed(hub, "lyon-pc-1")["kind"] == "netbooted"
    assert listed(hub, "boot-lyon")["kind"] == "boot_service"
    [used] = enrollments(hub)
    assert (used.mac, used.uuid, used.key_id, used.ip, used.ip_seen) == (
        MAC, UUID, key_id, "10.0.0.50", "testclient")  # both addresses kept, neither refused
    logged = [json.loads(record.getMessage()) for record in caplog.records
              if record.name == "reeeboot.hub.audit"]
    assert [(line["event"], line["station"], line["boot_service"]) for line in logged
            if line["event"] == "station_enrolled_by_boot"] == [
        ("station_enrolled_by_boot", "lyon-pc-1", "boot-lyon")]
    assert token not in caplog.text


def test_the_same_key_presenting_the_credential_again_is_answered_200(hub: Hub) -> None:
    service, machine = boot_service(hub), Machine()
    token = credential(service)
    first = machine.enroll(hub, token)
    assert first.status_code == 201, first.text
    again = machine.enroll(hub, token)  # its first answer was lost on the way
    assert again.status_code == 200 and again.json() == first.json()
    assert len(enrollments(hub)) == 1


def test_a_used_credential_is_refused_to_another_key(hub: Hub) -> None:
    service, machine = boot_service(hub), Machine()
    token = credential(service)
    assert machine.enroll(hub, token).status_code == 201
    refused(Machine().enroll(hub, token), 403, "already used")
    row = hub.store.station_by_name("lyon-pc-1")
    assert row is not None and row.key_id == machine.station().key_id


def test_an_expired_credential_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=31)
    old = mint(new_claims(boot_service=service.name, key_id=service.key_id,
                          station="lyon-pc-1", mac=MAC, uuid=UUID, ip="10.0.0.50", now=issued),
               service.key)
    refused(Machine().enroll(hub, old), 403, "expired")
    assert hub.store.station_by_name("lyon-pc-1") is None


def test_a_credential_signed_by_a_stick_is_refused(hub: Hub) -> None:
    stick = hub.station("lyon-3", "Lyon")
    refused(Machine().enroll(hub, credential(stick)), 403, "not signed by a boot service")
    assert hub.store.station_by_name("lyon-pc-1") is None


def test_a_credential_signed_by_an_unknown_key_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    stranger = Station(service.name, Ed25519PrivateKey.generate())  # same name, not its key
    refused(Machine().enroll(hub, credential(stranger)), 403, "does not know")
    assert hub.store.station_by_name("lyon-pc-1") is None


def test_a_credential_naming_another_boot_service_is_refused(hub: Hub) -> None:
    lyon, _grenoble = boot_service(hub), boot_service(hub, "boot-grenoble", "Grenoble")
    token = credential(lyon, boot_service="boot-grenoble")
    refused(Machine().enroll(hub, token), 403, "another boot service")


def test_a_tampered_credential_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    payload, signature = credential(service).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["station"] = "lyon-admin"
    forged = base64.urlsafe_b64encode(dsse.canonical_json(claims)).rstrip(b"=").decode()
    refused(Machine().enroll(hub, f"{forged}.{signature}"), 403, "signature does not verify")
    refused(Machine().enroll(hub, "not a credential"), 403, "not a boot credential")
    assert hub.store.station_by_name("lyon-admin") is None


def test_a_credential_given_to_another_network_card_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    other = Machine(macs=["52:54:00:99:99:99", "not a mac"])
    refused(other.enroll(hub, credential(service)), 403, "another machine")
    assert hub.store.station_by_name("lyon-pc-1") is None


def test_a_credential_given_to_another_firmware_uuid_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    other = Machine(uuid="4c4c4544-0000-0000-0000-000000000000")
    refused(other.enroll(hub, credential(service)), 403, "UUID differs")
    assert hub.store.station_by_name("lyon-pc-1") is None
    # When the boot service read no UUID (iPXE found none), the network card alone binds it.
    assert other.enroll(hub, credential(service, uuid="")).status_code == 201


def test_revoking_a_boot_service_refuses_every_credential_it_gave(
        hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    hub.store.add_workshop("Lyon")
    assert main(["--database", database_url, "station", "add", "boot-lyon", "--workshop",
                 "Lyon", "--boot-service"]) == 0
    token = capsys.readouterr().out.strip()
    key = Ed25519PrivateKey.generate()
    assert hub.client.post("/api/v1/stations/enroll", json={
        "token": token, "public_key": public_key(key)}).status_code == 201
    service = Station("boot-lyon", key)
    first, second = credential(service, "lyon-pc-1"), credential(service, "lyon-pc-2")
    assert Machine().enroll(hub, first).status_code == 201
    assert main(["--database", database_url, "station", "revoke", "boot-lyon"]) == 0
    refused(Machine().enroll(hub, second), 403, "revoked")
    refused(Machine().enroll(hub, credential(service, "lyon-pc-3")), 403, "revoked")
    assert hub.store.station_by_name("lyon-pc-2") is None


def test_a_boot_service_needs_a_workshop(database_url: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database", database_url, "station", "add", "boot-x",
                 "--boot-service"]) == 2
    assert "--workshop" in capsys.readouterr().err
    assert main(["--database", database_url, "workshop", "add", "Lyon"]) == 0
    assert main(["--database", database_url, "station", "add", "lyon-3", "--workshop",
                 "Lyon"]) == 0  # a stick, as before
    assert main(["--database", database_url, "station", "add", "boot-x", "--workshop",
                 "Lyon", "--boot-service"]) == 0
    from hub.store import Store

    store = Store(database_url)
    try:
        kinds = {station["name"]: station["kind"] for station in store.stations()}
        assert kinds == {"lyon-3": "station", "boot-x": "boot_service"}
    finally:
        store.close()


def test_a_credential_signed_by_a_retired_key_is_refused(hub: Hub) -> None:
    service = boot_service(hub)
    before = credential(service)
    new_key = Ed25519PrivateKey.generate()
    assert hub.client.post("/api/v1/stations/rotate",
                           json=service.rotation(new_key)).status_code == 200
    refused(Machine().enroll(hub, before), 403, "retired")
    rotated = Station(service.name, new_key)
    assert Machine().enroll(hub, credential(rotated)).status_code == 201


def test_a_machine_booted_twice_keeps_its_station_and_retires_its_old_key(hub: Hub) -> None:
    service = boot_service(hub)
    first_boot, second_boot = Machine(), Machine()
    first_token = credential(service)
    assert first_boot.enroll(hub, first_token).status_code == 201
    earlier = first_boot.station().report("SER-1")
    assert hub.client.post("/api/v1/reports",
                           json=first_boot.station().sign(earlier)).status_code == 201
    again = second_boot.enroll(hub, credential(service))
    assert again.status_code == 201, again.text
    assert [(key["key_id"], key["status"]) for key in listed(hub, "lyon-pc-1")["keys"]] == [
        (first_boot.station().key_id, "retired"), (second_boot.station().key_id, "current")]
    stored = hub.store.report(earlier["report_id"])
    assert stored is not None and stored["key_status"] == "retired"  # still verifiable
    # The first boot's key is no longer the station's: its credential is not answered again.
    refused(first_boot.enroll(hub, first_token), 403, "already used")


def test_an_enrolled_netbooted_station_reports_and_sends_progress(hub: Hub) -> None:
    service, machine = boot_service(hub), Machine()
    assert machine.enroll(hub, credential(service)).status_code == 201
    station = machine.station()
    report = station.report("SER-NET")
    response = hub.client.post("/api/v1/reports", json=station.sign(report))
    assert response.status_code == 201, response.text
    assert hub.stored_ids() == [report["report_id"]]
    [found] = hub.store.machines()
    assert found["workshop"] == "Lyon"
    assert hub.client.post("/api/v1/progress",
                           json=station.progress("rb1-net")).status_code == 202


def test_a_credential_cannot_take_a_station_that_is_not_its_workshops_machine(
        hub: Hub) -> None:
    service = boot_service(hub)
    hub.station("lyon-3", "Lyon")  # a stick
    refused(Machine().enroll(hub, credential(service, "lyon-3")), 409,
            "not a network-booted station")
    grenoble = boot_service(hub, "boot-grenoble", "Grenoble")
    assert Machine().enroll(hub, credential(grenoble, "grenoble-pc-1")).status_code == 201
    refused(Machine().enroll(hub, credential(service, "grenoble-pc-1")), 409,
            "another workshop")
    refused(Machine().enroll(hub, credential(service, "boot-lyon")), 409,
            "not a network-booted station")
    assert Machine().enroll(hub, credential(service, "lyon-pc-1")).status_code == 201
    assert hub.store.revoke_station("lyon-pc-1")
    refused(Machine().enroll(hub, credential(service, "lyon-pc-1")), 403, "revoked")


def test_malformed_enrollments_are_refused_before_anything_is_stored(hub: Hub) -> None:
    service = boot_service(hub)
    token = credential(service)
    bad_key = hub.client.post(ENROLL, json={"credential": token, "public_key": "AAAA",
                                            "macs": [MAC]})
    assert bad_key.status_code == 422
    assert hub.client.post(ENROLL, json={"credential": token}).status_code == 422
    huge = b'{"credential": "' + b"x" * (1 << 20) + b'"}'
    assert hub.client.post(ENROLL, content=huge,
                           headers={"content-type": "application/json"}).status_code == 413
    refused(Machine().enroll(hub, credential(service, nonce="not hex")), 403, "nonce")
    refused(Machine().enroll(hub, credential(service, ip="1" * 65)), 403, "longer than")
    no_zone = credential(service, expires_at="2999-01-01T00:00:00")
    refused(Machine().enroll(hub, no_zone), 403, "time zone")
    assert enrollments(hub) == []
    assert Machine().enroll(hub, token).status_code == 201  # still unused


def test_two_keys_presenting_one_credential_at_once_one_wins(hub: Hub) -> None:
    service = boot_service(hub)
    claims = claims_of(service)
    keys = [Ed25519PrivateKey.generate() for _ in range(6)]
    outcomes: list[object] = []
    start = threading.Barrier(len(keys))

    def enroll(key: Ed25519PrivateKey) -> None:
        start.wait()
        try:
            outcomes.append(hub.store.enroll_booted(
                claims, dsse.public_key_bytes(key.public_key()), dsse.key_id(key.public_key()),
                "10.0.0.50"))
        except StoreForbidden as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=enroll, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == sorted(
        [str(("lyon-pc-1", True))] + ["this boot credential was already used"] * 5)
    assert len(enrollments(hub)) == 1


def test_the_database_itself_refuses_a_nonce_twice(hub: Hub) -> None:
    service, machine = boot_service(hub), Machine()
    claims = claims_of(service)
    assert machine.enroll(hub, mint(claims, service.key)).status_code == 201
    [used] = enrollments(hub)
    with pytest.raises(IntegrityError), hub.store.session() as session:
        session.add(BootEnrollment(nonce=claims.nonce, boot_service_id=used.boot_service_id,
                                   station_id=used.station_id, key_id="0" * 64, mac=MAC,
                                   uuid="", ip="", ip_seen=""))

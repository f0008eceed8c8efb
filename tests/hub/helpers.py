"""Builders for hub tests: stations that enroll, reports signed by real agent code, people."""

from __future__ import annotations

import base64
import datetime
import functools
import re
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from agent.inventory.identity import Identity
from agent.report import dsse
from agent.report.model import build_report
from agent.wipe.jobs import WipeResult
from hub.accounts import hash_password
from hub.ingest import PROGRESS_PAYLOAD_TYPE, ROTATION_PAYLOAD_TYPE
from hub.store import Store
from tests.helpers import sample_disk, sample_machine

START = datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.UTC)
PASSWORD = "correct horse battery"


def erased(serial: str, path: str = "/dev/sda", *, method: str = "random",
           level: str = "clear", bad_ranges: list[list[int]] | None = None) -> WipeResult:
    disk = sample_disk(path=path, serial=serial)
    return WipeResult(disk.path, disk.serial, disk.model, disk.bus, disk.size_bytes,
                      method=method, level=level,
                      result="erased_with_exceptions" if bad_ranges else "erased",
                      bytes_written=disk.size_bytes, verified=True,
                      bad_ranges=bad_ranges or [],
                      evidence={"engine": "overwrite", "commands": [
                          {"argv": ["hdparm", "-I", path], "exit_code": 0,
                           "stdout_sha256": "ab" * 32}]})


def machine_with(serial: str, identity: str | None = None) -> Any:
    import dataclasses

    machine = sample_machine(disks=(sample_disk(serial=f"{serial}-D1"),))
    system = dataclasses.replace(machine.system, serial=serial)
    ident = Identity(identity or f"rb1-{uuid.uuid5(uuid.NAMESPACE_DNS, serial).hex}",
                     ("system_serial",), (), f"desktop-dell-optiplex-{serial}")
    return dataclasses.replace(machine, system=system, identity=ident)


@dataclass
class Station:
    name: str
    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return dsse.key_id(self.key.public_key())

    def report(self, serial: str = "5XK2L3J", erasures: list[WipeResult] | None = None,
               health: dict[str, Any] | None = None, machine: Any = None,
               **changes: Any) -> dict[str, Any]:
        """`health`: the report's health section (`HealthPass.to_json`), graded with the rest;
        `machine`: the machine the report is about (machine_with(serial) by default)."""
        report = build_report(
            machine or machine_with(serial),
            erasures if erasures is not None else [erased(f"{serial}-D1")],
            station_name=self.name, station_key_id=self.key_id, started_at=START, health=health)
        report["asset_id"] = f"RB-{serial}"
        report.update(changes)
        return report

    def old_report(self, serial: str) -> dict[str, Any]:
        """A report as agents wrote them before the optional sections and the identity:
        store it with Hub.store_directly (today's schema would refuse it)."""
        report = self.report(serial, erasures=[])
        for key in ("asset_id", "benchmarks", "health", "install", "grade", "outcome",
                    "operator"):
            report.pop(key, None)
        report["machine"]["identity"] = None
        report["machine"]["system"] = {}
        return report

    def sign(self, document: dict[str, Any], payload_type: str = dsse.REPORT_PAYLOAD_TYPE,
             key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        return dsse.sign(dsse.canonical_json(document), key or self.key, payload_type)

    def progress(self, machine_id: str, step: str = "erase", done: int = 50) -> dict[str, Any]:
        return self.sign({
            "schema": "reeeboot.progress/1", "machine_id": machine_id, "asset_id": "RB-LIVE1",
            "station": {"name": self.name, "key_id": self.key_id},
            "sent_at": START.isoformat(), "step": step,
            "machine": {"vendor": "Dell Inc.", "product": "OptiPlex 7010", "serial": "LIVE1"},
            "disks": [{"path": "/dev/sda", "serial": "WD-LIVE", "model": "WDC WD5000AAKX",
                       "size_bytes": 100, "phase": "overwrite", "method": "random",
                       "bytes_done": done, "bytes_total": 100, "rate_bytes_per_s": 150e6,
                       "result": None}],
        }, PROGRESS_PAYLOAD_TYPE)

    def rotation(self, new_key: Ed25519PrivateKey, *, sign_old: bool = True,
                 sign_new: bool = True) -> dict[str, Any]:
        payload = dsse.canonical_json({
            "schema": "reeeboot.key-rotation/1", "station": self.name,
            "old_key_id": self.key_id,
            "new_public_key": base64.b64encode(
                dsse.public_key_bytes(new_key.public_key())).decode(),
            "created_at": START.isoformat()})
        signatures = []
        for wanted, key in ((sign_old, self.key), (sign_new, new_key)):
            if wanted:
                signed = dsse.sign(payload, key, ROTATION_PAYLOAD_TYPE)
                signatures.extend(signed["signatures"])
        return {"payloadType": ROTATION_PAYLOAD_TYPE,
                "payload": base64.b64encode(payload).decode(), "signatures": signatures}


@dataclass
class Hub:
    store: Store
    client: TestClient

    def station(self, name: str = "lyon-3", workshop: str | None = None) -> Station:
        if workshop is not None and self.store.workshop_id(workshop) is None:
            self.store.add_workshop(workshop)
        token = self.store.add_station(name, workshop)
        key = Ed25519PrivateKey.generate()
        response = self.client.post("/api/v1/stations/enroll", json={
            "token": token, "name": name,
            "public_key": base64.b64encode(dsse.public_key_bytes(key.public_key())).decode()})
        assert response.status_code == 201, response.text
        return Station(name, key)

    def person(self, email: str, role: str = "admin", workshop: str | None = None) -> str:
        if workshop is not None and self.store.workshop_id(workshop) is None:
            self.store.add_workshop(workshop)
        self.store.add_person(email, hash_password(PASSWORD), role, workshop)
        return email

    def api_token(self, email: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.store.add_api_token(email)}"}

    def admin_headers(self) -> dict[str, str]:
        return self.api_token(self.person(f"admin-{uuid.uuid4().hex[:6]}@example.org"))

    def login(self, client: TestClient, email: str, password: str = PASSWORD) -> str:
        """Sign in through the form; returns the CSRF token the pages carry."""
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        response = client.post("/login", data={"email": email, "password": password,
                                               "csrf_token": csrf.group(1), "next": "/live"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        page = client.get("/live").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found is not None
        return found.group(1)

    def store_directly(self, station: Station, report: dict[str, Any]) -> None:
        """Store a signed report the way the hub does, without today's schema check: a report
        stored by an earlier version, or one whose optional parts a test shapes freely."""
        from hub.ingest import report_columns
        from hub.store import sha256_hex

        signer = self.store.signing_key(station.key_id)
        assert signer is not None
        envelope = dsse.canonical_json(station.sign(report)).decode()
        assert self.store.add_report(signer, report_columns(report), envelope,
                                     sha256_hex(envelope)) == ("stored", None)

    def stored_ids(self) -> list[str]:
        return [str(row["report_id"]) for row in self.store.reports()]


# The cookie the sign-in answer sets: a browser holding it is signed in.
SESSION_COOKIE = "reeeboot_session"


@functools.cache
def password_hash() -> str:
    """PASSWORD's argon2 hash, made once: tests that open many accounts need not pay the
    deliberately slow hashing for each."""
    return hash_password(PASSWORD)


def account(hub: Hub, email: str, role: str = "workshop",
            workshop: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """An account's API token headers, and the headers of a browser signed in as it (its
    session cookie). The session is opened in the store, as the sign-in form does, without the
    form's slow password check."""
    if workshop is not None and hub.store.workshop_id(workshop) is None:
        hub.store.add_workshop(workshop)
    person_id = hub.store.add_person(email, password_hash(), role, workshop)
    session, _csrf = hub.store.open_session(person_id)
    return hub.api_token(email), {"cookie": f"{SESSION_COOKIE}={session}"}

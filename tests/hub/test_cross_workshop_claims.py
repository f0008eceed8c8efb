"""Generated claims of one workshop's station about another workshop's machines change nothing
that the other workshop sees.

Each scenario opens, on an empty database, two workshops, "alpha" (A) and "bravo" (B), each
with one enrolled station and one workshop account. Hypothesis draws sequences of B's own
submissions and of A's claims about B: reports naming B's machine identity, serial or asset id
with any created_at (inside the bounds the hub accepts and beyond them), progress naming B's
machines, reports and progress that say they come from B's station or key, rotations to B's key
or of B's station, replays of B's envelopes. After every step, what B reads (machine list and
details, reports list, CSV export, live view, and the pages: machines, reports, live,
passports) is compared with a model of B's own submissions; A reads its own claims and nothing
of B's; no answer is a server error.
test_workshop_isolation.py holds the hand-written cases; these are drawn.
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from agent.report import dsse
from hub.app import create_app
from hub.ingest import PROGRESS_PAYLOAD_TYPE, ROTATION_PAYLOAD_TYPE
from hub.store import Store
from tests.hub.helpers import START, Hub, Station, account

# Bounded: at most 64 steps a database (about ten seconds), each followed by a score of reads.
SCENARIOS = 8
STEPS_PER_SCENARIO = 8

# The claimed times the hub accepts (hub/ingest.py): from 1970 to two days ahead of its clock.
ACCEPTED_FROM = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ACCEPTED_AHEAD = datetime.timedelta(days=2)
UTC = datetime.UTC
OFFSETS = [datetime.timezone(datetime.timedelta(hours=hours, minutes=minutes))
           for hours, minutes in ((0, 0), (14, 0), (-12, 0), (5, 45))]
PROGRESS_STEPS = ("inventory", "erase", "install", "report", "done")
REPORT_LINK = re.compile(r"/reports/([0-9a-fA-F-]{36})/certificate")
MACHINE_LINK = re.compile(r'href="/machines/([^"?#]+)"')
LIVE_SECTION = '<section class="machine">'

# A claimed time: a fixed instant, or an offset from the clock at sending.
Claim = datetime.datetime | datetime.timedelta
claimed_times: st.SearchStrategy[Claim] = st.one_of(
    st.datetimes(min_value=datetime.datetime(1900, 1, 2),
                 max_value=datetime.datetime(9999, 12, 30), timezones=st.just(UTC)),
    # Close to the earliest accepted instant, and to now and two days ahead.
    st.timedeltas(min_value=-datetime.timedelta(days=1), max_value=datetime.timedelta(days=1))
    .map(lambda delta: ACCEPTED_FROM + delta),
    st.timedeltas(min_value=-datetime.timedelta(days=3), max_value=datetime.timedelta(days=3)),
    # Accepted and ahead of all B sent: the claims that would take the latest place.
    st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=1)),
)


@dataclass
class Sent:
    """A stored report as the model keeps it."""

    report_id: str
    machine_id: str
    serial: str
    asset_id: str
    created_at: datetime.datetime
    envelope: dict[str, Any]


@dataclass
class Workshop:
    """One workshop: its station, its account, and the model of what it stored."""

    name: str
    station: Station
    headers: dict[str, str]
    pages: dict[str, str]  # the headers of a browser signed in as its account
    keys: list[str] = field(default_factory=list)  # key ids, the last one current
    reports: list[Sent] = field(default_factory=list)  # in the order received
    latest: dict[str, Sent] = field(default_factory=dict)  # machine id -> its latest report
    changed: dict[str, int] = field(default_factory=dict)  # machine id -> when its row changed
    live: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # (step, done, asset)

    def stored(self, sent: Sent, when: int, *, exact: bool = True) -> None:
        """A report the hub accepted from this workshop's station. The machine's row follows the
        latest claim (a report that waited in an outbox does not replace a newer one); `exact`
        is False when the claim may be capped at the hub's receive time, and the model does not
        say which report is latest."""
        self.reports.append(sent)
        current = self.latest.get(sent.machine_id)
        if current is None or not exact or current.created_at <= sent.created_at:
            self.latest[sent.machine_id] = sent
            self.changed[sent.machine_id] = when

    def of_machine(self, machine_id: str) -> list[str]:
        """The machine's reports, newest received first, as the hub lists them."""
        return [sent.report_id for sent in reversed(self.reports)
                if sent.machine_id == machine_id]


def fetch(client: TestClient, url: str, headers: dict[str, str],
          expected: int = 200) -> httpx.Response:
    """A GET as one account (API token or session), never a server error."""
    response = client.get(url, headers=headers)
    assert response.status_code < 500, (url, response.status_code, response.text[:400])
    assert response.status_code == expected, (url, response.status_code, response.text[:400])
    return response


def send(client: TestClient, path: str, body: dict[str, Any], *expected: int) -> int:
    """A station's POST, answered with one of the expected statuses (never a server error)."""
    response = client.post(path, json=body)
    assert response.status_code < 500, (path, response.status_code, response.text[:400])
    assert response.status_code in expected, (path, response.status_code, response.text[:400])
    return response.status_code


def progress(station: Station, machine_id: str, step: str, done: int,
             asset: str) -> dict[str, Any]:
    """A progress message as the station's agent sends it."""
    return {
        "schema": "reeeboot.progress/1", "machine_id": machine_id, "asset_id": asset,
        "station": {"name": station.name, "key_id": station.key_id},
        "sent_at": START.isoformat(), "step": step,
        "machine": {"vendor": "Dell Inc.", "product": "OptiPlex 7010", "serial": asset},
        "disks": [{"path": "/dev/sda", "serial": "WD-LIVE", "model": "WDC WD5000AAKX",
                   "size_bytes": 100, "phase": "overwrite", "method": "random",
                   "bytes_done": done, "bytes_total": 100, "rate_bytes_per_s": 150e6,
                   "result": None}],
    }


def rotation(station_name: str, old_key_id: str, new_key: Ed25519PrivateKey,
             signers: list[Ed25519PrivateKey]) -> dict[str, Any]:
    """A key rotation naming any station and old key, signed by whichever keys are given."""
    payload = dsse.canonical_json({
        "schema": "reeeboot.key-rotation/1", "station": station_name, "old_key_id": old_key_id,
        "new_public_key": base64.b64encode(dsse.public_key_bytes(new_key.public_key())).decode(),
        "created_at": START.isoformat()})
    signatures = [signature for key in signers
                  for signature in dsse.sign(payload, key, ROTATION_PAYLOAD_TYPE)["signatures"]]
    return {"payloadType": ROTATION_PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": signatures}


def open_workshop(hub: Hub, name: str) -> Workshop:
    station = hub.station(f"{name}-station", name)
    headers, pages = account(hub, f"{name}@example.org", "workshop", name)
    return Workshop(name, station, headers, pages, keys=[station.key_id])


@pytest.fixture
def empty_hubs(database_url: str) -> Iterator[Callable[[], Hub]]:
    """Empty hubs on the test's kind of database, one a scenario: a scenario that failed is run
    again to report it, and must find the database as it first did."""
    opened: list[tuple[Store, TestClient, str | None]] = []

    def empty_hub() -> Hub:
        number = len(opened)
        schema = None
        if database_url.startswith("sqlite"):
            url = database_url.removesuffix(".sqlite3") + f"-{number}.sqlite3"
        else:
            found = re.search(r"search_path%3D(\w+)", database_url)
            assert found is not None, database_url
            schema = f"{found.group(1)}_{number}"
            url = database_url.replace(found.group(0), f"search_path%3D{schema}")
            import psycopg  # only when PostgreSQL is asked for, as in conftest.py

            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {schema}")
        store = Store(url)
        client = TestClient(create_app(store))
        client.__enter__()
        opened.append((store, client, schema))
        return Hub(store, client)

    yield empty_hub
    for store, client, schema in opened:
        client.__exit__(None, None, None)
        store.close()
        if schema is not None:
            import psycopg

            with psycopg.connect(database_url.replace("+psycopg", ""),
                                 autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_claims_about_another_workshops_machines_change_nothing_it_sees(
        empty_hubs: Callable[[], Hub]) -> None:

    class Claims(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            hub = empty_hubs()
            self.client = hub.client
            self.admin, _ = account(hub, "admin@example.org", "admin")
            # Names found in no page unless leaked: neither is part of the other.
            tag = uuid.uuid4().hex[:8]
            self.a = open_workshop(hub, f"alpha-{tag}")
            self.b = open_workshop(hub, f"bravo-{tag}")
            self.tag = tag
            self.step = 0
            self.touched: set[str] = set()  # machine ids named since the last check
            self.checks = 0
            # B has a machine from the start: A's claims always have one to name.
            self.b_reports(0, 0)

        def b_machine(self, pick: int) -> str:
            machines = sorted(self.b.latest)
            return machines[pick % len(machines)]

        def report_of_a(self, serial: str, **changes: Any) -> dict[str, Any]:
            self.step += 1
            return self.a.station.report(serial, **changes)

        # -- what B's own station sends ---------------------------------------------------

        @rule(unit=st.integers(0, 2),
              age=st.sampled_from([0, 60, 3600, 3 * 86400, 400 * 86400]))
        def b_reports(self, unit: int, age: int) -> None:
            # Some reports waited in the station's outbox: older than what B already sent.
            self.step += 1
            serial = f"{self.tag}-B{unit}"
            created = datetime.datetime.now(UTC) - datetime.timedelta(seconds=age)
            report = self.b.station.report(serial, created_at=created.isoformat())
            envelope = self.b.station.sign(report)
            send(self.client, "/api/v1/reports", envelope, 201)
            machine_id = report["machine"]["identity"]["id"]
            self.b.stored(Sent(report["report_id"], machine_id, serial, report["asset_id"],
                               created, envelope), self.step)
            self.touched.add(machine_id)

        @rule(pick=st.integers(0, 9), step=st.sampled_from(PROGRESS_STEPS),
              done=st.integers(0, 100), not_yet_reported=st.booleans())
        def b_progress(self, pick: int, step: str, done: int, not_yet_reported: bool) -> None:
            machine_id = f"{self.tag}-live-{pick % 2}" if not_yet_reported \
                else self.b_machine(pick)
            asset = f"B-LIVE-{pick}"
            envelope = self.b.station.sign(progress(self.b.station, machine_id, step, done, asset),
                                           PROGRESS_PAYLOAD_TYPE)
            send(self.client, "/api/v1/progress", envelope, 202)
            self.b.live[machine_id] = (step, done, asset)

        # -- what A's station claims about B ----------------------------------------------

        # Three rules for A's reports on B's machines, so that they are a good part of every
        # scenario: naming B's machine identity, its serial (from which the identity follows),
        # and its identity with its asset id.
        @rule(pick=st.integers(0, 9), claim=claimed_times, offset=st.sampled_from(OFFSETS))
        def a_names_bs_machine_id(self, pick: int, claim: Claim, offset: datetime.tzinfo) -> None:
            self.a_reports_on_bs_machine(pick, claim, offset, same_serial=False, same_asset=False)

        @rule(pick=st.integers(0, 9), claim=claimed_times, offset=st.sampled_from(OFFSETS))
        def a_names_bs_serial(self, pick: int, claim: Claim, offset: datetime.tzinfo) -> None:
            self.a_reports_on_bs_machine(pick, claim, offset, same_serial=True, same_asset=False)

        @rule(pick=st.integers(0, 9), claim=claimed_times, offset=st.sampled_from(OFFSETS),
              same_serial=st.booleans())
        def a_names_bs_asset_id(self, pick: int, claim: Claim, offset: datetime.tzinfo,
                                same_serial: bool) -> None:
            self.a_reports_on_bs_machine(pick, claim, offset, same_serial=same_serial,
                                         same_asset=True)

        def a_reports_on_bs_machine(self, pick: int, claim: Claim, offset: datetime.tzinfo, *,
                                    same_serial: bool, same_asset: bool) -> None:
            machine_id = self.b_machine(pick)
            theirs = self.b.latest[machine_id]
            serial = theirs.serial if same_serial else f"{self.tag}-A-{self.step}"
            asset = theirs.asset_id if same_asset else f"A-{serial}"
            before = datetime.datetime.now(UTC)
            claimed = claim if isinstance(claim, datetime.datetime) else before + claim
            report = self.report_of_a(serial, asset_id=asset,
                                      created_at=claimed.astimezone(offset).isoformat())
            report["machine"]["identity"]["id"] = machine_id
            envelope = self.a.station.sign(report)
            response = self.client.post("/api/v1/reports", json=envelope)
            after = datetime.datetime.now(UTC)
            assert response.status_code in (201, 422), response.text
            # Accepted exactly when inside the bounds; at the upper bound, the hub's clock
            # (read between `before` and `after`) decides.
            if ACCEPTED_FROM <= claimed <= before + ACCEPTED_AHEAD:
                assert response.status_code == 201, (claimed, response.text)
            elif claimed < ACCEPTED_FROM or claimed > after + ACCEPTED_AHEAD:
                assert response.status_code == 422, (claimed, response.text)
            if response.status_code == 201:
                self.a.stored(Sent(report["report_id"], machine_id, serial, asset, claimed,
                                   envelope), self.step, exact=False)
            self.touched.add(machine_id)

        @rule(unit=st.integers(0, 1))
        def a_reports_its_own_machine(self, unit: int) -> None:
            report = self.report_of_a(f"{self.tag}-A{unit}")
            envelope = self.a.station.sign(report)
            send(self.client, "/api/v1/reports", envelope, 201)
            self.a.stored(Sent(report["report_id"], report["machine"]["identity"]["id"],
                               f"{self.tag}-A{unit}", report["asset_id"],
                               datetime.datetime.now(UTC), envelope), self.step, exact=False)

        @rule(pick=st.integers(0, 9), step=st.sampled_from(PROGRESS_STEPS),
              done=st.integers(0, 100))
        def a_progress_on_bs_machine(self, pick: int, step: str, done: int) -> None:
            named = sorted(set(self.b.live) | set(self.b.latest))
            machine_id = named[pick % len(named)]
            asset = self.b.live[machine_id][2] if machine_id in self.b.live else f"A-LIVE-{pick}"
            envelope = self.a.station.sign(progress(self.a.station, machine_id, step, done, asset),
                                           PROGRESS_PAYLOAD_TYPE)
            send(self.client, "/api/v1/progress", envelope, 202)
            self.a.live[machine_id] = (step, done, asset)
            self.touched.add(machine_id)

        @rule(pick=st.integers(0, 9), message=st.sampled_from(["report", "progress"]))
        def a_signs_as_bs_station(self, pick: int, message: str) -> None:
            # Each way of saying that the message comes from B's station, one after the other.
            machine_id = self.b_machine(pick)
            b = self.b.station
            for how in ("station name", "station key id", "name and key id", "envelope key id"):
                if message == "report":
                    theirs = self.b.latest[machine_id]
                    document = self.report_of_a(theirs.serial, asset_id=theirs.asset_id)
                    path, payload_type = "/api/v1/reports", dsse.REPORT_PAYLOAD_TYPE
                else:
                    document = progress(self.a.station, machine_id, "erase", 1, "A-AS-B")
                    path, payload_type = "/api/v1/progress", PROGRESS_PAYLOAD_TYPE
                if how in ("station name", "name and key id"):
                    document["station"]["name"] = b.name
                if how in ("station key id", "name and key id"):
                    document["station"]["key_id"] = b.key_id
                envelope = self.a.station.sign(document, payload_type)
                if how == "envelope key id":
                    # A's signature under B's key id does not verify.
                    envelope["signatures"][0]["keyid"] = b.key_id
                    send(self.client, path, envelope, 403)
                else:
                    # A message naming another station or key than its signer's is refused.
                    send(self.client, path, envelope, 422)
            self.touched.add(machine_id)

        @rule()
        def a_rotates_into_b(self) -> None:
            # Each way of taking B's key or rotating B's station, one after the other.
            a, b = self.a.station, self.b.station
            fresh = Ed25519PrivateKey.generate()
            rotate = "/api/v1/stations/rotate"
            # Even holding both keys, a key another station enrolled is not taken over.
            send(self.client, rotate, a.rotation(b.key), 409)
            send(self.client, rotate, a.rotation(b.key, sign_new=False), 403)
            send(self.client, rotate, rotation(b.name, a.key_id, fresh, [a.key, fresh]), 403)
            send(self.client, rotate, rotation(b.name, b.key_id, fresh, [a.key, fresh]), 403)
            send(self.client, rotate, rotation(a.name, b.key_id, fresh, [a.key, fresh]), 403)

        @rule(whose=st.sampled_from(["A", "B"]))
        def station_rotates_its_own_key(self, whose: str) -> None:
            workshop, fresh = (self.a if whose == "A" else self.b), Ed25519PrivateKey.generate()
            send(self.client, "/api/v1/stations/rotate", workshop.station.rotation(fresh), 200)
            workshop.station = Station(workshop.station.name, fresh)
            workshop.keys.append(workshop.station.key_id)

        @rule(pick=st.integers(0, 99))
        def bs_envelope_sent_again(self, pick: int) -> None:
            # Anyone may send a stored envelope again: it is already stored, nothing moves.
            sent = self.b.reports[pick % len(self.b.reports)]
            send(self.client, "/api/v1/reports", sent.envelope, 200)
            self.touched.add(sent.machine_id)

        # -- what each workshop reads --------------------------------------------------------

        @invariant()
        def each_sees_its_own_and_no_more(self) -> None:
            # After every step: the lists, and everything about the machines the step named;
            # every fourth step, every page and every machine besides.
            self.b_reads_its_own()
            self.b_reads_its_machines(self.touched)
            self.a_reads_nothing_of_bs()
            self.a_reads_no_machine_of_bs(self.touched)
            self.keys_stay_with_their_stations()
            self.touched.clear()
            self.checks += 1
            if self.checks % 4 == 0:
                self.everyone_reads_every_page()

        def everyone_reads_every_page(self) -> None:
            b, a = self.b, self.a
            page = fetch(self.client, "/machines", b.pages).text
            assert MACHINE_LINK.findall(page) == self.b_order()
            page = fetch(self.client, "/reports", b.pages).text
            assert REPORT_LINK.findall(page) == [sent.report_id for sent in reversed(b.reports)]
            page = fetch(self.client, "/live", b.pages).text
            running = [asset for step, _done, asset in b.live.values() if step != "done"]
            assert page.count(LIVE_SECTION) == len(running)
            assert all(asset in page for asset in running)
            assert a.station.name not in page and a.name not in page
            page = fetch(self.client, "/machines", a.pages).text
            assert set(MACHINE_LINK.findall(page)) == set(a.latest)
            page = fetch(self.client, "/reports", a.pages).text
            assert set(REPORT_LINK.findall(page)) == {sent.report_id for sent in a.reports}
            page = fetch(self.client, "/live", a.pages).text
            assert page.count(LIVE_SECTION) == sum(step != "done" for step, _d, _a in
                                                   a.live.values())
            assert b.station.name not in page and b.name not in page
            for sent in b.reports:
                fetch(self.client, f"/api/v1/reports/{sent.report_id}", a.headers, 404)
                fetch(self.client, f"/api/v1/reports/{sent.report_id}/envelope", a.headers, 404)
            everything = set(b.latest) | set(a.latest) | set(b.live) | set(a.live)
            self.b_reads_its_machines(everything)
            self.a_reads_no_machine_of_bs(everything)

        def b_order(self) -> list[str]:
            """B's machines as listed: the row changed last first."""
            return sorted(self.b.latest, key=lambda machine: -self.b.changed[machine])

        def b_reads_its_own(self) -> None:
            b = self.b
            rows = fetch(self.client, "/api/v1/machines", b.headers).json()
            assert [(m["machine_id"], m["latest_report_id"], m["asset_id"], m["system_serial"],
                     m["workshop"]) for m in rows] == [
                (machine, b.latest[machine].report_id, b.latest[machine].asset_id,
                 b.latest[machine].serial, b.name) for machine in self.b_order()]
            expected = [(sent.report_id, sent.machine_id, sent.asset_id, sent.serial,
                         b.station.name, b.name) for sent in reversed(b.reports)]
            listed = fetch(self.client, "/api/v1/reports", b.headers).json()
            assert [(r["report_id"], r["machine_id"], r["asset_id"], r["system_serial"],
                     r["station"], r["workshop"]) for r in listed] == expected
            exported = csv.DictReader(io.StringIO(
                fetch(self.client, "/api/v1/export/reports.csv", b.headers).text))
            assert [(r["report_id"], r["machine_id"], r["asset_id"], r["system_serial"],
                     r["station"], r["workshop"]) for r in exported] == expected
            live = fetch(self.client, "/api/v1/live", b.headers).json()
            assert sorted((s["machine_id"], s["station"], s["step"],
                           s["progress"]["disks"][0]["bytes_done"]) for s in live) == [
                (machine, b.station.name, step, done)
                for machine, (step, done, _asset) in sorted(b.live.items())]

        def b_reads_its_machines(self, machines: set[str]) -> None:
            b, a = self.b, self.a
            for machine in machines & set(b.latest):
                detail = fetch(self.client, f"/api/v1/machines/{machine}", b.headers).json()
                assert detail["latest_report_id"] == b.latest[machine].report_id
                assert [r["report_id"] for r in detail["reports"]] == b.of_machine(machine)
                page = fetch(self.client, f"/machines/{machine}", b.pages).text
                assert set(REPORT_LINK.findall(page)) == set(b.of_machine(machine))
                assert a.station.name not in page and a.name not in page
            for machine in machines - set(b.latest):
                fetch(self.client, f"/api/v1/machines/{machine}", b.headers, 404)

        def a_reads_nothing_of_bs(self) -> None:
            a = self.a
            ours = {sent.report_id for sent in a.reports}
            listed = fetch(self.client, "/api/v1/reports", a.headers).json()
            assert {r["report_id"] for r in listed} == ours
            assert {(r["station"], r["workshop"]) for r in listed} <= {(a.station.name, a.name)}
            exported = csv.DictReader(io.StringIO(
                fetch(self.client, "/api/v1/export/reports.csv", a.headers).text))
            assert {r["report_id"] for r in exported} == ours
            rows = fetch(self.client, "/api/v1/machines", a.headers).json()
            assert {m["machine_id"] for m in rows} == set(a.latest)
            for row in rows:
                assert row["latest_report_id"] in a.of_machine(row["machine_id"])
                assert row["workshop"] == a.name
            live = fetch(self.client, "/api/v1/live", a.headers).json()
            assert sorted((s["machine_id"], s["station"], s["step"],
                           s["progress"]["disks"][0]["bytes_done"]) for s in live) == [
                (machine, a.station.name, step, done)
                for machine, (step, done, _asset) in sorted(a.live.items())]

        def a_reads_no_machine_of_bs(self, machines: set[str]) -> None:
            a, b = self.a, self.b
            for machine in machines:
                if machine in a.latest:
                    detail = fetch(self.client, f"/api/v1/machines/{machine}", a.headers).json()
                    assert [r["report_id"] for r in detail["reports"]] == a.of_machine(machine)
                    page = fetch(self.client, f"/machines/{machine}", a.pages).text
                    assert set(REPORT_LINK.findall(page)) == set(a.of_machine(machine))
                    assert b.station.name not in page and b.name not in page
                else:
                    fetch(self.client, f"/api/v1/machines/{machine}", a.headers, 404)
                    fetch(self.client, f"/machines/{machine}", a.pages, 404)
                if machine in b.latest:
                    theirs = b.latest[machine].report_id
                    fetch(self.client, f"/api/v1/reports/{theirs}", a.headers, 404)
                    fetch(self.client, f"/reports/{theirs}/certificate", a.pages, 404)

        def keys_stay_with_their_stations(self) -> None:
            listed = fetch(self.client, "/api/v1/stations", self.admin).json()
            stations = {station["name"]: station for station in listed}
            for workshop in (self.a, self.b):
                found = stations[workshop.station.name]
                assert found["workshop"] == workshop.name and not found["revoked"]
                assert [(k["key_id"], k["status"]) for k in found["keys"]] == [
                    (key, "retired") for key in workshop.keys[:-1]] + [
                    (workshop.keys[-1], "current")]

    # No shrinking: each attempt replays a scenario against the database (a failure would take
    # minutes to shrink), and a failing scenario of a few steps reads well as it is.
    run_state_machine_as_test(Claims, settings=settings(
        max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO, deadline=None,
        database=None, phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck)))

"""The API fuzzed in sequences (schemathesis's stateful run): what one call answers feeds the next.

The published description has no OpenAPI links, so the test adds them to its own copy: a
listing leads to the report or machine it names, a report's envelope is sent back to the ingest
endpoints. The calls take turns between an administrator and the two workshops' accounts, so
that an id one person found is asked for by another. Besides never answering with a server
error, each answer is checked against what the test stored first: a workshop's account reads
its own workshop's reports, machines and live states and nothing else, and no generated or
replayed message changes what is stored (nothing generated carries a valid signature).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from tests.hub.helpers import Hub, Station, account

# A few seconds a database: about 180 calls, each checked.
SCENARIOS = 30
STEPS_PER_SCENARIO = 6

ADMIN, WORKSHOP_A, WORKSHOP_B = "admin", "Atelier A", "Atelier B"
# The account of step n is VIEWERS[n % 3]: who asks changes along a scenario, and a replayed
# scenario asks with the same accounts (the turns do not depend on chance).
VIEWERS = (ADMIN, WORKSHOP_A, WORKSHOP_B)

REPORTS, REPORT, ENVELOPE = ("/api/v1/reports", "/api/v1/reports/{report_id}",
                             "/api/v1/reports/{report_id}/envelope")
MACHINES, MACHINE = "/api/v1/machines", "/api/v1/machines/{machine_id}"
LIVE, CSV_EXPORT = "/api/v1/live", "/api/v1/export/reports.csv"
STATIONS, REVOKE = "/api/v1/stations", "/api/v1/stations/{name}/revoke"
PROGRESS, ROTATE, ENROLL = "/api/v1/progress", "/api/v1/stations/rotate", "/api/v1/stations/enroll"
INGEST = {REPORTS, PROGRESS, ROTATE, ENROLL}


def _target(path: str, method: str) -> str:
    """An operationRef (JSON pointer): stays right whatever the handlers' names become."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _link(path: str, method: str = "get", *, body: str | None = None,
          **parameters: str) -> dict[str, Any]:
    link: dict[str, Any] = {"operationRef": _target(path, method),
                            "parameters": {name.replace("__", "."): expression
                                           for name, expression in parameters.items()}}
    if body is not None:
        # The envelope goes as it was read, not merged into a generated body.
        link["requestBody"] = body
        link["x-schemathesis"] = {"merge_body": False}
    return link


# (path, method, status) -> links of that answer. `query__x` is the query parameter x.
LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    (REPORTS, "get", "200"): {
        "ReportRead": _link(REPORT, report_id="$response.body#/0/report_id"),
        "EnvelopeRead": _link(ENVELOPE, report_id="$response.body#/0/report_id"),
        "MachineOfReport": _link(MACHINE, machine_id="$response.body#/0/machine_id"),
        "ReportsOfMachine": _link(REPORTS, query__machine_id="$response.body#/0/machine_id"),
        "ExportOfSerial": _link(CSV_EXPORT, query__serial="$response.body#/0/system_serial"),
    },
    (MACHINES, "get", "200"): {
        "MachineRead": _link(MACHINE, machine_id="$response.body#/0/machine_id"),
        "LatestReport": _link(REPORT, report_id="$response.body#/0/latest_report_id"),
        "ReportsOfAsset": _link(REPORTS, query__asset_id="$response.body#/0/asset_id"),
    },
    (MACHINE, "get", "200"): {
        "LatestReport": _link(REPORT, report_id="$response.body#/latest_report_id"),
        "HistoryEnvelope": _link(ENVELOPE, report_id="$response.body#/reports/0/report_id"),
    },
    (LIVE, "get", "200"): {
        "LiveMachine": _link(MACHINE, machine_id="$response.body#/0/machine_id"),
        "ReportsOfLiveMachine": _link(REPORTS,
                                      query__machine_id="$response.body#/0/machine_id"),
    },
    (REPORT, "get", "200"): {
        "Resubmitted": _link(REPORTS, "post", body="$response.body#/envelope"),
        "SentAsProgress": _link(PROGRESS, "post", body="$response.body#/envelope"),
        "SentAsRotation": _link(ROTATE, "post", body="$response.body#/envelope"),
    },
    (ENVELOPE, "get", "200"): {
        "Resubmitted": _link(REPORTS, "post", body="$response.body"),
    },
    (STATIONS, "get", "200"): {
        "Revoked": _link(REVOKE, "post", name="$response.body#/0/name"),
    },
}


@dataclass
class Stored:
    """What the test stored before the run, per workshop: the answers are checked against it."""

    reports: dict[str, dict[str, str]] = field(default_factory=dict)  # workshop -> id -> machine
    live: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # (machine, station)
    stations: dict[str, str] = field(default_factory=dict)  # name -> current key id
    envelopes: list[dict[str, Any]] = field(default_factory=list)

    def visible_reports(self, viewer: str) -> dict[str, str]:
        return {report: machine for workshop, reports in self.reports.items()
                if viewer in (ADMIN, workshop) for report, machine in reports.items()}

    def visible_machines(self, viewer: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for report, machine in self.visible_reports(viewer).items():
            found.setdefault(machine, set()).add(report)
        return found

    def visible_live(self, viewer: str) -> set[tuple[str, str]]:
        return {state for workshop, states in self.live.items()
                if viewer in (ADMIN, workshop) for state in states}


def seed(hub: Hub) -> tuple[Stored, dict[str, dict[str, str]]]:
    """Two workshops, each with a station, reports and live machines; one PC known to both.

    Returns what was stored and each account's headers."""
    stored = Stored()
    a = hub.station("station-a", WORKSHOP_A)
    b = hub.station("station-b", WORKSHOP_B)
    shared = b.report("SHARED-1")
    plan: list[tuple[str, Station, dict[str, Any]]] = [
        (WORKSHOP_B, b, shared), (WORKSHOP_B, b, b.report("SHARED-1")),
        (WORKSHOP_B, b, b.report("B-ONLY-1")),
        # Workshop A's station names the same PC: each workshop has its own row for it.
        (WORKSHOP_A, a, a.report("SHARED-1")),
        (WORKSHOP_A, a, a.report("A-ONLY-1")),
    ]
    for workshop, station, report in plan:
        envelope = station.sign(report)
        response = hub.client.post(REPORTS, json=envelope)
        assert response.status_code == 201, response.text
        stored.reports.setdefault(workshop, {})[report["report_id"]] = \
            report["machine"]["identity"]["id"]
        stored.envelopes.append(envelope)
    shared_id = shared["machine"]["identity"]["id"]
    for workshop, station, machine_id in ((WORKSHOP_B, b, shared_id), (WORKSHOP_B, b, "rb1-b-live"),
                                          (WORKSHOP_A, a, shared_id)):
        assert hub.client.post(PROGRESS, json=station.progress(machine_id)).status_code == 202
        stored.live.setdefault(workshop, set()).add((machine_id, station.name))
    stored.stations = {a.name: a.key_id, b.name: b.key_id}
    headers = {
        ADMIN: account(hub, "admin@example.org", "admin")[0],
        WORKSHOP_A: account(hub, "a@example.org", "workshop", WORKSHOP_A)[0],
        WORKSHOP_B: account(hub, "b@example.org", "workshop", WORKSHOP_B)[0],
    }
    return stored, headers


def linked_schema(hub: Hub) -> Any:
    """The hub's own description with the links above, served by the test's application."""
    raw = hub.client.get("/openapi.json").json()
    for (path, method, status), links in LINKS.items():
        response = raw["paths"][path][method]["responses"][status]
        response["links"] = links
    # Only these links: the ones schemathesis would infer besides lead to the same reads.
    config = SchemathesisConfig.from_dict({"phases": {"stateful": {"inference": {
        "algorithms": []}}}})
    schema = schemathesis.openapi.from_dict(raw, config=config)
    schema.app = hub.client.app
    return schema


Check = Callable[[str, Any, Any], None]


def checks_for(stored: Stored, read: Callable[[str, str], Any]) -> dict[tuple[str, str], Check]:
    """One check per operation: given the viewer, the case and the response."""

    def report_list(viewer: str, _case: Any, response: Any) -> None:
        if response.status_code == 200:
            rows = response.json()
            visible = stored.visible_reports(viewer)
            assert {row["report_id"] for row in rows} <= set(visible), (viewer, rows)
            for row in rows:
                assert row["machine_id"] == visible[row["report_id"]]
                assert viewer in (ADMIN, row["workshop"]), (viewer, row)

    def export(viewer: str, _case: Any, response: Any) -> None:
        if response.status_code == 200:
            rows = list(csv.DictReader(io.StringIO(response.text)))
            visible = stored.visible_reports(viewer)
            assert {row["report_id"] for row in rows} <= set(visible), (viewer, rows)
            assert all(viewer in (ADMIN, row["workshop"]) for row in rows), (viewer, rows)

    def one_report(viewer: str, case: Any, response: Any) -> None:
        report_id = case.path_parameters["report_id"]
        if report_id in stored.visible_reports(viewer):
            assert response.status_code == 200, (viewer, report_id, response.text)
        else:
            assert response.status_code == 404, (viewer, report_id, response.text)

    def machine_list(viewer: str, _case: Any, response: Any) -> None:
        if response.status_code == 200:
            visible = stored.visible_machines(viewer)
            for row in response.json():
                assert row["machine_id"] in visible, (viewer, row)
                assert row["latest_report_id"] in visible[row["machine_id"]], (viewer, row)
                assert viewer in (ADMIN, row["workshop"]), (viewer, row)

    def one_machine(viewer: str, case: Any, response: Any) -> None:
        machine_id = case.path_parameters["machine_id"]
        visible = stored.visible_machines(viewer)
        if machine_id not in visible:
            assert response.status_code == 404, (viewer, machine_id, response.text)
            return
        assert response.status_code == 200, (viewer, machine_id, response.text)
        body = response.json()
        assert {row["report_id"] for row in body["reports"]} == visible[machine_id], body
        assert body["latest_report_id"] in visible[machine_id], body

    def live(viewer: str, _case: Any, response: Any) -> None:
        if response.status_code == 200:
            states = {(state["machine_id"], state["station"]) for state in response.json()}
            assert states == stored.visible_live(viewer), (viewer, states)

    def station_list(viewer: str, _case: Any, response: Any) -> None:
        assert response.status_code == (200 if viewer == ADMIN else 403), (viewer, response.text)

    def revoke(viewer: str, _case: Any, response: Any) -> None:
        # Only workshop accounts are sent here (see get_call_kwargs): never allowed to.
        assert response.status_code == 403, (viewer, response.text)

    def ingest(_viewer: str, case: Any, response: Any) -> None:
        # Nothing generated is signed by a station's key, so nothing is accepted as new; a
        # stored envelope sent again (with whatever unsigned additions) is at most "already
        # stored". Either way, what is stored is as before.
        if case.path == REPORTS and signed_part(case.body) in map(signed_part, stored.envelopes):
            assert response.status_code != 201, response.text
        else:
            assert response.status_code not in (200, 201, 202), (case.path, response.text)
        assert_unchanged(stored, read)

    return {
        (REPORTS, "GET"): report_list, (CSV_EXPORT, "GET"): export,
        (REPORT, "GET"): one_report, (ENVELOPE, "GET"): one_report,
        (MACHINES, "GET"): machine_list, (MACHINE, "GET"): one_machine, (LIVE, "GET"): live,
        (STATIONS, "GET"): station_list, (REVOKE, "POST"): revoke,
        **{(path, "POST"): ingest for path in INGEST},
    }


def signed_part(body: Any) -> Any:
    """An envelope's DSSE fields, which alone the hub verifies and keeps."""
    if not isinstance(body, dict) or not isinstance(body.get("signatures"), list):
        return None
    return (body.get("payloadType"), body.get("payload"),
            [(entry.get("keyid"), entry.get("sig")) if isinstance(entry, dict) else entry
             for entry in body["signatures"]])


def assert_unchanged(stored: Stored, read: Callable[[str, str], Any]) -> None:
    """Every report, live state and station key as stored before the run (read as admin)."""
    reports = {row["report_id"] for row in read(ADMIN, f"{REPORTS}?limit=10000")}
    assert reports == set(stored.visible_reports(ADMIN))
    live = {(state["machine_id"], state["station"]) for state in read(ADMIN, LIVE)}
    assert live == stored.visible_live(ADMIN)
    keys = {station["name"]: [(key["key_id"], key["status"]) for key in station["keys"]]
            for station in read(ADMIN, STATIONS) if not station["revoked"]}
    assert keys == {name: [(key, "current")] for name, key in stored.stations.items()}


def test_api_sequences_stay_within_each_workshop(hub: Hub) -> None:
    stored, headers = seed(hub)
    schema = linked_schema(hub)

    def read(viewer: str, url: str) -> Any:
        response = hub.client.get(url, headers=headers[viewer])
        assert response.status_code == 200, (url, response.text)
        return response.json()

    checks = checks_for(stored, read)
    seen: dict[tuple[str, str, int], int] = {}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.step_number = 0
            self.viewer = ADMIN

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            self.viewer = VIEWERS[self.step_number % len(VIEWERS)]
            self.step_number += 1
            if case.path == REVOKE and self.viewer == ADMIN:
                # An administrator may revoke; the run keeps every station, so a workshop asks.
                self.viewer = WORKSHOP_A
            return {"headers": headers[self.viewer]}

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=(not_a_server_error,))
            key = (case.path, case.method.upper())
            seen[(*key, response.status_code)] = seen.get((*key, response.status_code), 0) + 1
            check = checks.get(key)
            if check is not None:
                check(self.viewer, case, response)

    # Without shrinking, as schemathesis's own stateful phase: a scenario is a few calls.
    Workflow.run(settings=settings(
        max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO, deadline=None,
        database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    # The links were followed: ids that one account found were read by id, some answered
    # (the reader's own) and some refused (another workshop's).
    by_id = [(path, "GET", status) for path in (REPORT, ENVELOPE, MACHINE) for status in (200, 404)]
    assert sum(seen.get(key, 0) for key in by_id if key[2] == 200) >= 1, seen
    assert sum(seen.get(key, 0) for key in by_id if key[2] == 404) >= 1, seen
    assert_unchanged(stored, read)

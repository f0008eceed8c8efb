"""The report: one versioned JSON document per machine, the same schema on agent and hub.

The schema is `schema/report-1.schema.json` (JSON Schema draft 2020-12, documented field by
field in docs/report.md). The agent validates every report before signing it and the hub
validates every report it receives, with the same compiled validator.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from agent.inventory.model import KEPT_BY_CHOICE, Machine
from agent.report.asset import asset_id_for
from agent.report.grade import decide_outcome, grade_machine
from agent.report.limits import fit_to_schema
from agent.report.software import software_versions
from agent.report.validation import SCHEMA, validate_report
from agent.wipe.jobs import WipeResult


class InvalidReport(ValueError):
    """A report the agent built does not match its own schema: a bug, never signed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def build_report(
    machine: Machine,
    erasures: Sequence[WipeResult],
    *,
    station_name: str,
    station_key_id: str,
    started_at: datetime.datetime,
    report_id: str | None = None,
    finished_at: datetime.datetime | None = None,
    operator: str | None = None,
    asset_id: str | None = None,
    benchmarks: dict[str, Any] | None = None,
    health: dict[str, Any] | None = None,
    install: dict[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    software: dict[str, Any] | None = None,
) -> dict[str, Any]:
    machine_json = machine.to_json()
    exclusions = machine_json.pop("exclusions")
    grade = grade_machine(machine, benchmarks, health)
    now = _now()
    # The one place text from outside (firmware, drives, tools, what a volunteer typed) is cut
    # to the schema's bounds: no machine's strings can make its report one the hub refuses.
    report: dict[str, Any] = fit_to_schema({
        "schema": SCHEMA,
        "report_id": report_id or str(uuid.uuid4()),
        "created_at": now.isoformat(),
        "started_at": started_at.isoformat(),
        "finished_at": (finished_at or now).isoformat(),
        "station": {"name": station_name, "key_id": station_key_id,
                    "stick": _stick(machine)},
        "software": software if software is not None else software_versions(),
        "operator": operator.strip() if operator and operator.strip() else None,
        "asset_id": asset_id_for(machine, asset_id),
        "grade": grade.to_json(),
        "outcome": decide_outcome(grade, erasures, kept_by_choice(machine)).to_json(),
        "machine": machine_json,
        "excluded": exclusions,
        "erasure": [result.to_json() for result in erasures],
        "benchmarks": benchmarks,
        "health": health,
        "install": install,
        "timings": {step: round(seconds, 3) for step, seconds in (timings or {}).items()},
    })
    return report


def kept_by_choice(machine: Machine) -> list[str]:
    """The disks a person chose to keep as they are: not erased, still in the machine."""
    return [exclusion.path for exclusion in machine.exclusions
            if exclusion.code == KEPT_BY_CHOICE]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def check_report(document: dict[str, Any]) -> dict[str, Any]:
    """The document itself when valid; InvalidReport (a bug in the agent) otherwise."""
    problems = validate_report(document)
    if problems:
        raise InvalidReport(problems)
    return document


def _stick(machine: Machine) -> dict[str, Any] | None:
    """The stick this system ran from (its root file system's disk), as the workshop can find it
    among its sticks: with two plugged in, the report says which one held the station's key."""
    for disk in machine.disks:
        if disk.path == machine.stick:
            return {"device": disk.path, "model": disk.model, "serial": disk.serial,
                    "size_bytes": disk.size_bytes}
    return None if machine.stick is None else {"device": machine.stick, "model": None,
                                               "serial": None, "size_bytes": None}

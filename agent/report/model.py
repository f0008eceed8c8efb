"""The report: one versioned JSON document per machine, the same schema on agent and hub.

The schema is `schema/report-1.schema.json` (JSON Schema draft 2020-12, documented field by
field in docs/report.md). The agent validates every report before signing it and the hub
validates every report it receives, with the same compiled validator.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import fastjsonschema

from agent.inventory.model import KEPT_BY_CHOICE, Machine
from agent.report.asset import asset_id_for
from agent.report.grade import decide_outcome, grade_machine
from agent.report.software import software_versions
from agent.wipe.jobs import WipeResult

SCHEMA = "reeeboot.report/1"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report-1.schema.json"


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
    install: dict[str, Any] | None = None,
    timings: Mapping[str, float] | None = None,
    software: dict[str, Any] | None = None,
) -> dict[str, Any]:
    machine_json = machine.to_json()
    exclusions = machine_json.pop("exclusions")
    grade = grade_machine(machine, benchmarks)
    now = _now()
    return {
        "schema": SCHEMA,
        "report_id": report_id or str(uuid.uuid4()),
        "created_at": now.isoformat(),
        "started_at": started_at.isoformat(),
        "finished_at": (finished_at or now).isoformat(),
        "station": {"name": station_name, "key_id": station_key_id},
        "software": software if software is not None else software_versions(),
        "operator": operator.strip() if operator and operator.strip() else None,
        "asset_id": asset_id_for(machine, asset_id),
        "grade": grade.to_json(),
        "outcome": decide_outcome(grade, erasures, kept_by_choice(machine)).to_json(),
        "machine": machine_json,
        "excluded": exclusions,
        "erasure": [result.to_json() for result in erasures],
        "benchmarks": benchmarks,
        "install": install,
        "timings": {step: round(seconds, 3) for step, seconds in (timings or {}).items()},
    }


def kept_by_choice(machine: Machine) -> list[str]:
    """The disks a person chose to keep as they are: not erased, still in the machine."""
    return [exclusion.path for exclusion in machine.exclusions
            if exclusion.code == KEPT_BY_CHOICE]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _CompiledSchema:
    """The schema compiled to Python once per process (about 50 ms), then plain calls: the
    whole report at once (the fast path), and each top-level section on its own, used only
    for a report that failed, to name one problem per section instead of the first alone."""

    def __init__(self) -> None:
        schema = json.loads(SCHEMA_PATH.read_text())
        self.whole = fastjsonschema.compile(schema)
        self.required: list[str] = schema["required"]
        definitions = {"$defs": schema["$defs"]}
        self.sections = {name: fastjsonschema.compile({**definitions, **part})
                         for name, part in schema["properties"].items()}


_compiled: _CompiledSchema | None = None
_compile_lock = threading.Lock()


def _schema() -> _CompiledSchema:
    global _compiled
    with _compile_lock:
        if _compiled is None:
            _compiled = _CompiledSchema()
        return _compiled


def validate_report(document: Any) -> list[str]:
    """The problems that make a document not a report of this schema (empty list: fine)."""
    if isinstance(document, dict) and document.get("schema") != SCHEMA:
        # Said first and alone: a newer agent's report is not a pile of small mistakes.
        return [f"unknown schema {document.get('schema')!r}, expected {SCHEMA!r}"]
    compiled = _schema()
    try:
        compiled.whole(document)
    except fastjsonschema.JsonSchemaValueException as error:
        if not isinstance(document, dict):
            return [_readable(error, "report")]
    else:
        return []
    problems = [f"report must contain {name!r}" for name in compiled.required
                if name not in document]
    problems += [f"report must not contain {name!r}" for name in document
                 if name not in compiled.sections]
    for name, validate in compiled.sections.items():
        if name not in document:
            continue
        try:
            validate(document[name])
        except fastjsonschema.JsonSchemaValueException as error:
            problems.append(_readable(error, f"report.{name}"))
    return problems


def _readable(error: fastjsonschema.JsonSchemaValueException, where: str) -> str:
    message = str(error.message)
    return where + message.removeprefix("data") if message.startswith("data") else message


def check_report(document: dict[str, Any]) -> dict[str, Any]:
    """The document itself when valid; InvalidReport (a bug in the agent) otherwise."""
    problems = validate_report(document)
    if problems:
        raise InvalidReport(problems)
    return document

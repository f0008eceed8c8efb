"""The report: one versioned JSON document per machine, the same schema on agent and hub."""

from __future__ import annotations

import datetime
import platform
import uuid
from collections.abc import Sequence
from typing import Any

from agent import __version__
from agent.inventory.model import Machine
from agent.wipe.jobs import WipeResult

SCHEMA = "reeeboot.report/1"


def build_report(
    machine: Machine,
    erasures: Sequence[WipeResult],
    *,
    station_name: str,
    station_key_id: str,
    started_at: datetime.datetime,
    report_id: str | None = None,
    install: dict[str, Any] | None = None,
) -> dict[str, Any]:
    machine_json = machine.to_json()
    exclusions = machine_json.pop("exclusions")
    return {
        "schema": SCHEMA,
        "report_id": report_id or str(uuid.uuid4()),
        "created_at": _now().isoformat(),
        "started_at": started_at.isoformat(),
        "station": {"name": station_name, "key_id": station_key_id},
        "software": {"reeeboot": __version__, "kernel": platform.release()},
        "machine": machine_json,
        "excluded": exclusions,
        "erasure": [result.to_json() for result in erasures],
        "install": install,
    }


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def validate_report(document: Any) -> list[str]:
    """The problems that make a document not a report of this schema (empty list: fine)."""
    if not isinstance(document, dict):
        return ["report must be a JSON object"]
    problems = []
    if document.get("schema") != SCHEMA:
        problems.append(f"unknown schema {document.get('schema')!r}, expected {SCHEMA!r}")
    report_id = document.get("report_id")
    try:
        uuid.UUID(str(report_id))
    except ValueError:
        problems.append("report_id must be a UUID")
    for key, kind in (("station", dict), ("machine", dict), ("erasure", list), ("excluded", list)):
        if not isinstance(document.get(key), kind):
            problems.append(f"{key} must be a {'object' if kind is dict else 'list'}")
    return problems

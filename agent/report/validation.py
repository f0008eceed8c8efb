"""The report's schema check, shared by the agent (before signing) and the hub (on receipt).

It needs nothing but fastjsonschema: the hub imports it without the agent's other packages.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMA = "reeeboot.report/1"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report-1.schema.json"


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

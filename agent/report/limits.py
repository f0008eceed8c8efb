"""Text from outside the agent, cut to the report schema's bounds before it enters a report.

Firmware strings (DMI), what drives, monitors and other devices say about themselves, the words
of the tools the agent runs, and what a volunteer typed can be of any length: a firmware that
fills a field with garbage gives a disk model of thousands of characters. The schema bounds
every text (`maxLength`) and the hub refuses a report over a bound (422), so the agent cuts each
text to its field's bound, ending in "...": such a machine still gets a report the hub accepts.

The bounds are read from the schema itself, so what the agent cuts to and what the hub checks
cannot disagree. docs/report.md lists them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from agent.report.validation import SCHEMA_PATH

# Three ASCII dots, as the hub's PDF cuts: every font and every terminal has them.
ELLIPSIS = "..."


def bounded_text(value: str, limit: int) -> str:
    """`value` when it has at most `limit` characters; otherwise its start and "...", `limit`
    characters in all (characters as JSON Schema counts them: code points)."""
    if len(value) <= limit:
        return value
    return value[:max(limit - len(ELLIPSIS), 0)] + ELLIPSIS[:limit]


def fit_to_schema(document: Any) -> Any:
    """The report `document` with every text longer than its field's `maxLength` cut by
    `bounded_text`; the given document is left as it was.

    A text of a fixed form (`pattern` or `format`: ids, hashes, times) is never cut: the agent
    makes those, one over its bound is a bug for the schema check to name, and cutting would
    not make it valid. What the schema leaves free-form (an erasure's `evidence`) is taken as
    it is, and lists are never shortened: dropping a disk would make an incomplete record.
    """
    schema = _schema()
    return _fit(document, schema, schema["$defs"])


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def _fit(value: Any, node: Mapping[str, Any], definitions: Mapping[str, Any]) -> Any:
    reference = node.get("$ref")
    if isinstance(reference, str):  # "#/$defs/<name>", the only kind the schema uses
        node = definitions[reference.rsplit("/", 1)[-1]]
    for branch in node.get("anyOf", ()):
        value = _fit(value, branch, definitions)
    if isinstance(value, str):
        limit = node.get("maxLength")
        if isinstance(limit, int) and "pattern" not in node and "format" not in node:
            return bounded_text(value, limit)
        return value
    if isinstance(value, dict):
        properties: Mapping[str, Any] = node.get("properties", {})
        others = node.get("additionalProperties")
        if not properties and not isinstance(others, dict):
            return value
        fitted: dict[str, Any] = {}
        for key, child in value.items():
            child_node = properties.get(key, others)
            fitted[key] = _fit(child, child_node, definitions) \
                if isinstance(child_node, dict) else child
        return fitted
    if isinstance(value, list):
        items = node.get("items")
        return [_fit(item, items, definitions) for item in value] \
            if isinstance(items, dict) else value
    return value

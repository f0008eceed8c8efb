"""The report a machine of the QEMU suite sent to the test hub, its signature checked."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.report import dsse
from tests.hubserver import RunningHub


def stored_report(hub: RunningHub, token: str, system_serial: str) -> dict[str, Any]:
    """The one report the hub holds for the machine with `system_serial`, verified with the
    key of the station enrolled with `token`."""
    rows = [row for row in hub.database.reports() if row["system_serial"] == system_serial]
    assert len(rows) == 1, rows
    stored = hub.database.report(str(rows[0]["report_id"]))
    station = hub.database.station_by_token(token)
    assert stored is not None and station is not None and station.public_key is not None
    payload = dsse.verify(json.loads(str(stored["envelope"])),
                          Ed25519PublicKey.from_public_bytes(station.public_key))
    return dict(json.loads(payload))

"""Live progress: stations post signed progress, people read each machine's newest state."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from hub import ingest
from hub.api.openapi import ENVELOPE_BODY, REFUSALS
from hub.deps import HubDep, Person, read_body, workshop_scope

router = APIRouter(prefix="/api/v1", tags=["live"])


@router.post("/progress", status_code=202, openapi_extra=ENVELOPE_BODY, responses=REFUSALS)
async def progress(request: Request, hub: HubDep) -> JSONResponse:
    """Stores a station's signed progress. The answer carries the hub's orders for it:
    `{"status": "accepted", "orders": {"unattended": null | {"arming": <id>,
    "expires_in_seconds": <n>}, "power_off_at_end": <bool>}}` (docs/netboot.md, "Arming
    unattended erasure")."""
    body = await read_body(request)
    orders = await run_in_threadpool(ingest.record_progress, hub.store, body)
    return JSONResponse({"status": "accepted", "orders": orders}, 202)


@router.get("/live")
def live(hub: HubDep, person: Person) -> list[dict[str, Any]]:
    """The latest progress of each machine (one entry per machine, newest state)."""
    return [{**{key: value for key, value in state.items() if key != "payload"},
             "progress": orjson.loads(state["payload"])}
            for state in hub.store.live_states(workshop_scope(person))]

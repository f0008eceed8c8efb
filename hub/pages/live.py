"""The live view: the machines of the workshop being worked on now, disk by disk."""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import views
from hub.deps import HubDep, Session, workshop_scope
from hub.pages.render import page

LIVE_WINDOW = datetime.timedelta(minutes=15)  # a machine silent longer is no longer "running"

router = APIRouter(include_in_schema=False)


@router.get("/live", response_class=HTMLResponse)
def live_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    since = datetime.datetime.now(datetime.UTC) - LIVE_WINDOW
    machines = []
    for state in hub.store.live_states(workshop_scope(session.person), since=since):
        if state["step"] == "done":
            continue
        progress = orjson.loads(state["payload"])
        machines.append({**state, "progress": progress,
                         "disks": [disk_progress(disk) for disk in
                                   progress.get("disks") or [] if isinstance(disk, dict)]})
    return page(request, "live.html", session, machines=machines)


def disk_progress(disk: dict[str, Any]) -> dict[str, Any]:
    done, total = disk.get("bytes_done"), disk.get("bytes_total")
    percent = None
    if isinstance(done, int | float) and isinstance(total, int | float) and total > 0:
        percent = max(0, min(100, round(100 * done / total)))
    rate = disk.get("rate_bytes_per_s")
    return {**disk, "percent": percent,
            "rate_text": views.size_text(rate) + "/s" if isinstance(rate, int | float) else "",
            "size_text": views.size_text(disk.get("size_bytes"))}

"""The reports list, searched by serial, asset id, station or day."""

from __future__ import annotations

import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import views
from hub.deps import HubDep, Session, clean, workshop_scope
from hub.pages.render import page
from hub.store import ReportFilter

router = APIRouter(include_in_schema=False)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, hub: HubDep, session: Session, serial: str = "",
                 asset_id: str = "", station: str = "", date: str = "") -> HTMLResponse:
    try:
        day = datetime.date.fromisoformat(date) if date else None
    except ValueError:
        day = None  # the form's date field sends ISO dates; anything else filters nothing
    start = views.day_start(day) if day else None
    rows = hub.store.find_reports(ReportFilter(
        serial=clean(serial) or None, asset_id=clean(asset_id) or None,
        station=clean(station) or None,
        since=start, until=start + datetime.timedelta(days=1) if start else None,
        workshop_id=workshop_scope(session.person), limit=200))
    return page(request, "reports.html", session, rows=rows, serial=serial, asset_id=asset_id,
                station=station, date=day.isoformat() if day else "")

"""The machines list and each machine's passport, with its QR code."""

from __future__ import annotations

from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import views
from hub.deps import HubDep, Session, visible_machine, workshop_scope
from hub.pages.render import not_found, page
from hub.store import ReportFilter

router = APIRouter(include_in_schema=False)


@router.get("/machines", response_class=HTMLResponse)
def machines_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    return page(request, "machines.html", session,
                machines=hub.store.machines(workshop_scope(session.person)))


@router.get("/machines/{machine_id}", response_class=HTMLResponse, name="passport")
def passport(request: Request, machine_id: str, hub: HubDep, session: Session) -> HTMLResponse:
    machine = visible_machine(hub, session.person, machine_id)
    row = hub.store.report(machine["latest_report_id"]) if machine else None
    if machine is None or row is None:
        return not_found(request, session)
    report = orjson.loads(row["payload"])
    history = hub.store.find_reports(ReportFilter(
        machine_id=machine["machine_id"], workshop_id=workshop_scope(session.person)))
    url = hub.link(request, f"/machines/{quote(machine['machine_id'], safe='')}")
    return page(request, "passport.html", session, machine=machine, row=row, report=report,
                disks=views.erasures(report), history=history, qr=views.qr_svg(url),
                passport_url=url, **views.report_sections(report))

"""The machines list and each machine's passport, with the QR code of its public link (the new
owner's passport, hub/pages/public.py), which the workshop can withdraw."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import audit, views
from hub.deps import CheckedForm, HubDep, Session, clean, visible_machine, workshop_scope
from hub.grade_view import grade_section
from hub.health_view import health_section
from hub.pages.render import language, not_found, page
from hub.store import ReportFilter
from hub.web import page_gettext

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
    # The QR code leads to the public link, made the first time anyone needs it: a new owner
    # who scans the sticker has no account here.
    token = hub.store.public_link(machine["workshop_id"], machine["machine_id"])
    url = hub.link(request, f"/p/{token}")
    address = quote(machine["machine_id"], safe="")
    chosen = language(request)
    gettext = page_gettext(chosen)
    return page(request, "passport.html", session, machine=machine, row=row, report=report,
                disks=views.erasures(report), history=history, qr=views.qr_svg(url),
                passport_url=url, public_token=token,
                withdraw_action=f"/machines/{address}/public-link/withdraw",
                health=health_section(report, gettext, chosen),
                grading=grade_section(report, gettext, chosen),
                **views.report_sections(report))


@router.post("/machines/{machine_id}/public-link/withdraw")
def withdraw_public_link(request: Request, machine_id: str, hub: HubDep, session: CheckedForm,
                         token: Annotated[str, Form()] = "") -> Response:
    """The link the form showed stops working and a new one replaces it (a sticker lost, a
    link passed on too far). The form names the link, so that sending it twice, or after
    someone else withdrew it, withdraws nothing more."""
    machine = visible_machine(hub, session.person, machine_id)
    if machine is None:
        raise HTTPException(404, "no such machine")
    if hub.store.renew_public_link(machine["workshop_id"], machine["machine_id"],
                                   clean(token) or ""):
        audit.record("public_link_withdrawn", request, machine=machine["machine_id"],
                     by=session.person.email)
    return RedirectResponse(f"/machines/{quote(machine['machine_id'], safe='')}", 303)

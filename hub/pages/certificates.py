"""A report's erasure certificate, as a page and as a PDF, with the recipe to verify it."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from hub import views
from hub.deps import HubDep, Session, visible_report
from hub.pages.render import language, not_found, page
from hub.pdf import certificate_pdf

router = APIRouter(include_in_schema=False)


@router.get("/reports/{report_id}/certificate", response_class=HTMLResponse, name="certificate")
def certificate(request: Request, report_id: str, hub: HubDep,
                session: Session) -> HTMLResponse:
    row = visible_report(hub, session.person, report_id)
    if row is None:
        return not_found(request, session)
    report = orjson.loads(row["payload"])
    return page(request, "certificate.html", session, row=row, report=report,
                disks=views.erasures(report), pem=views.public_key_pem(row["public_key"]),
                payload_length=len(row["payload"].encode()),
                fingerprint_commands=views.fingerprint_commands(row["key_id"]),
                signature_commands=views.SIGNATURE_COMMANDS, **views.report_sections(report))


@router.get("/reports/{report_id}/certificate.pdf")
def certificate_file(request: Request, report_id: str, hub: HubDep,
                     session: Session) -> Response:
    row = visible_report(hub, session.person, report_id)
    if row is None:
        raise HTTPException(404, "no such report")
    report = orjson.loads(row["payload"])
    data = certificate_pdf(row, report, views.public_key_pem(row["public_key"]),
                           language(request), hub.link(request, ""))
    return Response(data, media_type="application/pdf", headers={
        "content-disposition": f'inline; filename="certificate-{row["report_id"]}.pdf"'})

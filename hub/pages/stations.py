"""The stations page (administrators): keys, last report, revocation."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import audit
from hub.deps import CheckedForm, HubDep, Session, clean, require_admin
from hub.models import ROLE_ADMIN
from hub.pages.render import not_found, page

router = APIRouter(include_in_schema=False)


@router.get("/stations", response_class=HTMLResponse)
def stations_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    if session.person.role != ROLE_ADMIN:
        return not_found(request, session)
    return page(request, "stations.html", session, stations=hub.store.stations())


@router.post("/stations/{name}/revoke")
def revoke_from_page(request: Request, name: str, hub: HubDep,
                     session: CheckedForm) -> Response:
    require_admin(session.person, request)
    if not hub.store.revoke_station(clean(name) or ""):
        raise HTTPException(404, "no such station")
    audit.record("station_revoked", request, station=name, by=session.person.email)
    return RedirectResponse("/stations", 303)

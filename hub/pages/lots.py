"""Donors' lots: the machines a company or a family gave, entered as the asset ids the workshop
stuck on them, listed, opened, and certified (hub/pages/donor.py).

A person sees and changes their own workshop's lots, an administrator every workshop's
(hub/deps.py's rule); another workshop's lot answers 404, as if there were none. An asset id
no report names yet is kept in the lot and shown as not found: the machine may be erased
later, and the certificate must not leave it out meanwhile.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import views
from hub.deps import CheckedForm, HubDep, Session, SignedIn, clean, workshop_scope
from hub.models import ROLE_ADMIN
from hub.pages.donor import (
    LONGEST_ASSET_ID,
    MAX_MACHINES,
    TooMany,
    asset_id_lines,
    lot_machines,
    visible_lot,
)
from hub.pages.render import language, not_found, page
from hub.web import page_gettext

router = APIRouter(include_in_schema=False)

# As the table keeps them (hub/models.py: Lot).
LONGEST_NAME = 200
LONGEST_NOTE = 2000

Text = Annotated[str, Form()]


def _asset_id_problem(asset_ids: list[str], gettext: Any) -> str | None:
    _ = gettext
    too_long = [asset_id for asset_id in asset_ids if len(asset_id) > LONGEST_ASSET_ID]
    if too_long:
        return _("An asset id has at most %(count)s characters: %(asset_ids)s") % {
            "count": LONGEST_ASSET_ID, "asset_ids": ", ".join(too_long)}
    if len(asset_ids) > MAX_MACHINES:
        return _("At most %(count)s asset ids at a time.") % {"count": MAX_MACHINES}
    return None


def _lots_page(request: Request, hub: HubDep, session: SignedIn, status: int = 200,
               error: str | None = None, typed: dict[str, str] | None = None) -> HTMLResponse:
    admin = session.person.role == ROLE_ADMIN
    return page(request, "lots.html", session, status,
                lots=hub.store.lots(workshop_scope(session.person)),
                workshops=hub.store.workshops() if admin else None, error=error,
                typed=typed or {"name": "", "donor": "", "note": "", "asset_ids": "",
                                "workshop": ""})


@router.get("/lots", response_class=HTMLResponse)
def lots_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    return _lots_page(request, hub, session)


@router.post("/lots", response_class=HTMLResponse)
def create_lot(request: Request, hub: HubDep, session: CheckedForm, name: Text = "",
               donor: Text = "", note: Text = "", asset_ids: Text = "",
               workshop: Text = "") -> Response:
    _ = page_gettext(language(request))
    typed = {"name": clean(name) or "", "donor": clean(donor) or "",
             "note": clean(note) or "", "asset_ids": clean(asset_ids) or "",
             "workshop": clean(workshop) or ""}
    chosen = asset_id_lines(asset_ids)
    workshop_id = _workshop_for(session, hub, typed["workshop"])
    error = None
    if workshop_id is None:
        error = _("Choose the lot's workshop.") if session.person.role == ROLE_ADMIN \
            else _("Your account belongs to no workshop.")
    elif not typed["name"].strip():
        error = _("Give the lot a name.")
    elif not typed["donor"].strip():
        error = _("Name the donor.")
    elif max(len(typed["name"]), len(typed["donor"])) > LONGEST_NAME:
        error = _("A name has at most %(count)s characters.") % {"count": LONGEST_NAME}
    elif len(typed["note"]) > LONGEST_NOTE:
        error = _("A note has at most %(count)s characters.") % {"count": LONGEST_NOTE}
    else:
        error = _asset_id_problem(chosen, _)
    if error is not None or workshop_id is None:
        # Refused as a whole, with everything typed still in the form: nothing is lost.
        return _lots_page(request, hub, session, 422, error, typed)
    lot_id = hub.store.add_lot(workshop_id, typed["name"].strip(), typed["donor"].strip(),
                               typed["note"].strip() or None, session.person.email)
    hub.store.add_lot_members(lot_id, chosen)
    return RedirectResponse(f"/lots/{lot_id}", 303)


def _workshop_for(session: SignedIn, hub: HubDep, chosen: str) -> int | None:
    """A workshop account's lots are its workshop's; an administrator names the workshop."""
    if session.person.role != ROLE_ADMIN:
        return session.person.workshop_id
    known = dict(hub.store.workshops())
    return int(chosen) if chosen.isdigit() and int(chosen) in known else None


def _lot_page(request: Request, hub: HubDep, session: SignedIn, lot: dict[str, Any],
              status: int = 200, error: str | None = None, typed: str = "") -> HTMLResponse:
    _ = page_gettext(language(request))
    try:
        members = lot_machines(hub, lot)
    except TooMany:
        members = [(member, []) for member in lot["members"]]
        error = error or _("At most %(count)s machines fit on one certificate: choose fewer.") \
            % {"count": MAX_MACHINES}
    not_found_text = _("not found in your workshop's reports") \
        if session.person.role != ROLE_ADMIN else _("not found in the workshop's reports")
    return page(request, "lot.html", session, status, lot=lot, members=members, error=error,
                typed_asset_ids=typed, not_found_text=not_found_text,
                status_label=lambda code: views.label(views.MACHINE_STATUS_LABELS, code, _))


@router.get("/lots/{lot_id}", response_class=HTMLResponse)
def lot_page(request: Request, lot_id: int, hub: HubDep, session: Session) -> HTMLResponse:
    lot = visible_lot(hub, session, lot_id)
    if lot is None:
        return not_found(request, session)
    return _lot_page(request, hub, session, lot)


@router.post("/lots/{lot_id}/members", response_class=HTMLResponse)
def add_members(request: Request, lot_id: int, hub: HubDep, session: CheckedForm,
                asset_ids: Text = "") -> Response:
    lot = visible_lot(hub, session, lot_id)
    if lot is None:
        return not_found(request, session)
    chosen = asset_id_lines(asset_ids)
    error = _asset_id_problem(chosen, page_gettext(language(request)))
    if error is not None:
        return _lot_page(request, hub, session, lot, 422, error, clean(asset_ids) or "")
    hub.store.add_lot_members(lot["id"], chosen)
    return RedirectResponse(f"/lots/{lot['id']}", 303)


@router.post("/lots/{lot_id}/members/{member_id}/remove")
def remove_member(request: Request, lot_id: int, member_id: int, hub: HubDep,
                  session: CheckedForm) -> Response:
    lot = visible_lot(hub, session, lot_id)
    if lot is None:
        return not_found(request, session)
    if not hub.store.remove_lot_member(lot["id"], member_id):
        raise HTTPException(404, "no such machine in this lot")
    return RedirectResponse(f"/lots/{lot['id']}", 303)

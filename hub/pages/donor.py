"""The donor's certificate: the machines a company or a family gave, chosen by asset ids, by a
date range or by a lot entered on the hub (hub/pages/lots.py), each with every disk's erasure
and traced to its signed report, the station keys and the recipe to verify them; as a page and
as a PDF.

What a person may certify is what they may see (hub/deps.py's rule): their own workshop's
reports, or every workshop's for an administrator. A lot is certified within its workshop.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from hub import views
from hub.deps import Hub, HubDep, Session, SignedIn, clean, may_see, workshop_scope
from hub.pages.render import language, not_found, page
from hub.pdf import donor_certificate_pdf
from hub.store import ReportFilter
from hub.web import page_gettext

router = APIRouter(include_in_schema=False)

# Machines on one certificate, at most: a donation is tens of PCs; a bigger choice is refused
# (a narrower range, several lots) rather than cut, since a certificate must not leave out a PC
# without saying so. The PDF's table costs about 7 ms a disk (fpdf2's line breaking): 60
# machines of 4 disks take under 2 s, 500 of 2 disks about 15 s on the 2-core test machine.
MAX_MACHINES = 500
# An asset id is kept as the reports keep it (hub/models.py: Report.asset_id).
LONGEST_ASSET_ID = 200
# A disk's bad ranges shown on the page, at most (the PDF cuts its cell at LONGEST_CELL): a
# failing disk can list thousands; the signed report keeps them all.
SHOWN_RANGES = 50


class Unclear(Exception):
    """A choice of machines the certificate cannot honour; the message says why."""


@dataclass(frozen=True)
class Choice:
    """Which machines: asset ids (each one's latest report), or every report created in a
    range of days (inclusive); with both, each asset id's latest report within the range."""

    asset_ids: list[str]
    since: datetime.date | None
    until: datetime.date | None

    @property
    def empty(self) -> bool:
        return not self.asset_ids and self.since is None and self.until is None

    @property
    def starts(self) -> datetime.datetime | None:
        return views.day_start(self.since) if self.since else None

    @property
    def ends(self) -> datetime.datetime | None:
        return views.day_start(self.until) + datetime.timedelta(days=1) if self.until else None


def asset_id_lines(text: str) -> list[str]:
    """Asset ids typed one a line: spaces around them and empty lines dropped, each once, in
    the order typed."""
    return list(dict.fromkeys(line.strip() for line in (clean(text) or "").splitlines()
                              if line.strip()))


def choice_of(asset_id: Sequence[str], asset_ids: str, since: str, until: str,
              gettext: Callable[[str], str]) -> Choice:
    _ = gettext
    chosen = list(dict.fromkeys(
        [value for value in ((clean(item) or "").strip() for item in asset_id) if value]
        + asset_id_lines(asset_ids)))
    days: list[datetime.date | None] = []
    for text in (since, until):
        try:
            days.append(datetime.date.fromisoformat(text.strip()) if text.strip() else None)
        except ValueError as error:
            raise Unclear(_("A date is written YYYY-MM-DD.")) from error
    first, last = days
    if first and last and last < first:
        raise Unclear(_("The range ends before it starts."))
    if len(chosen) > MAX_MACHINES:
        raise Unclear(too_many(_))
    return Choice(chosen, first, last)


def too_many(gettext: Callable[[str], str]) -> str:
    return gettext("At most %(count)s machines fit on one certificate: choose fewer.") % {
        "count": MAX_MACHINES}


class TooMany(Exception):
    """More machines than one certificate takes (MAX_MACHINES)."""


def _certified(asked: str | None, row: dict[str, Any]) -> views.CertifiedMachine:
    return views.certified_machine(asked, row, orjson.loads(row["payload"]))


def chosen_machines(hub: Hub, workshop_id: int | None,
                    choice: Choice) -> tuple[list[views.CertifiedMachine], list[str]]:
    """The certificate's lines and the asset ids asked for that no report names, within the
    workshop (None: every workshop)."""
    if choice.asset_ids:
        found = hub.store.latest_reports(workshop_id, "asset_id", choice.asset_ids,
                                         since=choice.starts, until=choice.ends)
        lines: list[tuple[str | None, str]] = [
            (asset_id, report_id) for asset_id in choice.asset_ids
            for report_id in found.get(asset_id, [])]
        missing = [asset_id for asset_id in choice.asset_ids if asset_id not in found]
    else:
        listed = hub.store.find_reports(ReportFilter(
            since=choice.starts, until=choice.ends, workshop_id=workshop_id,
            limit=MAX_MACHINES + 1))
        listed.sort(key=lambda row: (row["created_at"] or row["received_at"], row["report_id"]))
        lines, missing = [(None, row["report_id"]) for row in listed], []
    if len(lines) > MAX_MACHINES:
        raise TooMany()
    rows = hub.store.reports_by_id(list(dict.fromkeys(report_id for _asked, report_id in lines)))
    return [_certified(asked, rows[report_id]) for asked, report_id in lines], missing


def lot_machines(hub: Hub, lot: dict[str, Any]) -> list[tuple[dict[str, Any],
                                                                list[views.CertifiedMachine]]]:
    """Each member of a lot with what certifies it, within the lot's workshop: the latest
    report of the machine it was tied to when entered, else of its asset id (an empty list:
    not found)."""
    members = lot["members"]
    pinned = hub.store.latest_reports(
        lot["workshop_id"], "machine_id",
        list(dict.fromkeys(member["machine_id"] for member in members if member["machine_id"])))
    loose = hub.store.latest_reports(
        lot["workshop_id"], "asset_id",
        list(dict.fromkeys(member["asset_id"] for member in members
                           if not member["machine_id"])))
    found = [pinned.get(member["machine_id"], []) if member["machine_id"]
             else loose.get(member["asset_id"], []) for member in members]
    if sum(len(reports) for reports in found) > MAX_MACHINES:
        raise TooMany()
    rows = hub.store.reports_by_id(list(dict.fromkeys(
        report_id for reports in found for report_id in reports)))
    return [(member, [_certified(member["asset_id"], rows[report_id]) for report_id in reports])
            for member, reports in zip(members, found, strict=True)]


def _workshop_named(session: SignedIn, machines: Sequence[views.CertifiedMachine]) -> str | None:
    if session.person.workshop_name:
        return session.person.workshop_name
    names = dict.fromkeys(machine.row["workshop"] for machine in machines
                          if machine.row["workshop"])
    return ", ".join(names) or None


def _context(request: Request, hub: Hub, certificate: views.DonorCertificate,
             pdf_link: str) -> dict[str, Any]:
    _ = page_gettext(language(request))
    return {
        "certificate": certificate, "pdf_link": pdf_link,
        "status_label": lambda code: views.label(views.MACHINE_STATUS_LABELS, code, _),
        "method_text": lambda code: views.method_label(code, _),
        "level_text": lambda code: views.level_label(code, _),
        "range_text": lambda bad: views.bad_range_text(bad, _),
        "size_text": views.size_text,
        "envelope_address": hub.link(request, "/api/v1/reports/"),
        "fingerprint_commands": views.fingerprint_commands,
        "signature_commands": views.SIGNATURE_COMMANDS,
        "shown_ranges": SHOWN_RANGES,
    }


def _pdf(request: Request, hub: Hub, certificate: views.DonorCertificate,
         name: str) -> Response:
    data = donor_certificate_pdf(certificate, language(request), hub.link(request, ""))
    return Response(data, media_type="application/pdf", headers={
        "content-disposition": f'inline; filename="{name}.pdf"'})


AssetIds = Annotated[list[str] | None, Query()]


def _asked(request: Request, hub: Hub, session: SignedIn, asset_id: list[str] | None,
           asset_ids: str, since: str, until: str) -> views.DonorCertificate | Choice:
    """The certificate of what the query asks for; the Choice itself when it asks nothing
    yet (the page then shows the form); Unclear when it cannot be honoured."""
    _ = page_gettext(language(request))
    choice = choice_of(asset_id or [], asset_ids, since, until, _)
    if choice.empty:
        return choice
    try:
        machines, missing = chosen_machines(hub, workshop_scope(session.person), choice)
    except TooMany as error:
        raise Unclear(too_many(_)) from error
    return views.DonorCertificate(
        machines, missing, datetime.datetime.now(datetime.UTC),
        workshop=_workshop_named(session, machines), since=choice.since, until=choice.until)


@router.get("/certificates/donor", response_class=HTMLResponse)
def donor_certificate(request: Request, hub: HubDep, session: Session,
                      asset_id: AssetIds = None, asset_ids: str = "", since: str = "",
                      until: str = "") -> HTMLResponse:
    try:
        found = _asked(request, hub, session, asset_id, asset_ids, since, until)
    except Unclear as error:
        _ = page_gettext(language(request))
        return page(request, "message.html", session, 422,
                    title=_("Donor's erasure certificate"), message=str(error))
    form = {"asset_ids_text": "\n".join([*(asset_id or []), asset_ids]).strip(),
            "since": since, "until": until}
    if isinstance(found, Choice):
        return page(request, "donor.html", session, certificate=None, form=form)
    query = request.url.query
    return page(request, "donor.html", session, form=form,
                **_context(request, hub, found, f"/certificates/donor.pdf?{query}"))


@router.get("/certificates/donor.pdf")
def donor_certificate_file(request: Request, hub: HubDep, session: Session,
                           asset_id: AssetIds = None, asset_ids: str = "", since: str = "",
                           until: str = "") -> Response:
    try:
        found = _asked(request, hub, session, asset_id, asset_ids, since, until)
    except Unclear as error:
        raise HTTPException(422, str(error)) from error
    if isinstance(found, Choice):
        raise HTTPException(422, "choose machines: asset_id, or since and until")
    return _pdf(request, hub, found, "donor-certificate")


def visible_lot(hub: Hub, session: SignedIn, lot_id: int) -> dict[str, Any] | None:
    """The lot when this person may see it; None both when it does not exist and when it is
    another workshop's (the answer does not tell which)."""
    lot = hub.store.lot(lot_id)
    return lot if lot is not None and may_see(session.person, lot["workshop_id"]) else None


def lot_certificate(hub: Hub, lot: dict[str, Any]) -> views.DonorCertificate:
    answered = lot_machines(hub, lot)
    machines = [machine for _member, found in answered for machine in found]
    missing = list(dict.fromkeys(member["asset_id"] for member, found in answered
                                 if not found))
    return views.DonorCertificate(machines, missing, datetime.datetime.now(datetime.UTC),
                                  donor=lot["donor"], lot_name=lot["name"], note=lot["note"],
                                  workshop=lot["workshop"])


@router.get("/lots/{lot_id}/certificate", response_class=HTMLResponse)
def lot_certificate_page(request: Request, lot_id: int, hub: HubDep,
                         session: Session) -> HTMLResponse:
    lot = visible_lot(hub, session, lot_id)
    if lot is None:
        return not_found(request, session)
    _ = page_gettext(language(request))
    try:
        certificate = lot_certificate(hub, lot)
    except TooMany:
        return page(request, "message.html", session, 422,
                    title=_("Donor's erasure certificate"), message=too_many(_))
    return page(request, "donor.html", session, form=None, lot=lot,
                **_context(request, hub, certificate, f"/lots/{lot['id']}/certificate.pdf"))


@router.get("/lots/{lot_id}/certificate.pdf")
def lot_certificate_file(request: Request, lot_id: int, hub: HubDep,
                         session: Session) -> Response:
    lot = visible_lot(hub, session, lot_id)
    if lot is None:
        raise HTTPException(404, "no such lot")
    try:
        certificate = lot_certificate(hub, lot)
    except TooMany as error:
        raise HTTPException(422, too_many(page_gettext(language(request)))) from error
    return _pdf(request, hub, certificate, f"donor-certificate-lot-{lot['id']}")

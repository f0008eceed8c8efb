"""The hub's pages for people: sign-in, live view, passports, certificates, totals, stations.

Server-rendered (jinja2), usable without JavaScript; French by default, English on request.
Every form that changes something carries the session's CSRF token.
"""

from __future__ import annotations

import datetime
import math
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import views
from hub.accounts import check_login, workshop_scope
from hub.models import ROLE_ADMIN
from hub.pdf import certificate_pdf
from hub.store import PersonRow, ReportFilter
from hub.web import page_gettext, preferred_language, render

if TYPE_CHECKING:
    from hub.app import Hub

SESSION_COOKIE = "reeeboot_session"
LOGIN_CSRF_COOKIE = "reeeboot_login_csrf"
LANGUAGE_COOKIE = "reeeboot_language"
LIVE_WINDOW = datetime.timedelta(minutes=15)  # a machine silent longer is no longer "running"


class SignInFirst(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def add_pages(app: FastAPI, hub: Hub) -> None:
    store = hub.store

    @app.exception_handler(SignInFirst)
    async def sign_in_first(_request: Request, error: SignInFirst) -> Response:
        return RedirectResponse(f"/login?next={quote(error.path)}", 303)

    def language(request: Request) -> str:
        return preferred_language(request.query_params.get("lang"),
                                  request.cookies.get(LANGUAGE_COOKIE),
                                  request.headers.get("accept-language", ""))

    def person_and_csrf(request: Request) -> tuple[PersonRow, str]:
        token = request.cookies.get(SESSION_COOKIE)
        found = store.person_for_session(token.replace("\x00", "")) if token else None
        if found is None:
            raise SignInFirst(request.url.path)
        return found

    def page(request: Request, template: str, person: PersonRow | None, csrf: str | None,
             status: int = 200, **context: Any) -> HTMLResponse:
        chosen = language(request)
        html = render(template, chosen, person=person, csrf_token=csrf,
                      path=request.url.path, **context)
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") == chosen:
            response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
        return response

    def not_found(request: Request, person: PersonRow, csrf: str) -> HTMLResponse:
        _ = page_gettext(language(request))
        return page(request, "message.html", person, csrf, 404,
                    title=_("Not found"), message=_("Nothing here, or not for your workshop."))

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/live") -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, token, next=_local(next), error=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=_secure(request))
        return response

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(request: Request, email: str = Form(""), password: str = Form(""),
              csrf_token: str = Form(""), next: str = Form("/live")) -> Response:
        _ = page_gettext(language(request))
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not expected or not secrets.compare_digest(expected, csrf_token):
            return page(request, "login.html", None, None, 403, next=_local(next),
                        error=_("The form expired; please sign in again."))
        account = email.replace("\x00", "").strip().lower()
        address = request.client.host if request.client is not None else ""
        wait = hub.login_throttle.wait_seconds(account, address)
        person_id = check_login(store, account, password) if not wait else None
        if person_id is None:
            if not wait:
                hub.login_throttle.failed(account, address)
            fresh = secrets.token_urlsafe(24)
            seconds = math.ceil(wait)
            response = page(
                request, "login.html", None, fresh, 429 if wait else 401, next=_local(next),
                error=_("Too many attempts: wait {seconds} s, then sign in again.").format(
                    seconds=seconds) if wait else _("Wrong e-mail address or password."))
            if wait:
                response.headers["Retry-After"] = str(seconds)
            response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                                secure=_secure(request))
            return response
        hub.login_throttle.succeeded(account)
        token, _csrf = store.open_session(person_id)
        redirect = RedirectResponse(_local(next), 303)
        redirect.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                            secure=_secure(request), max_age=12 * 3600)
        redirect.delete_cookie(LOGIN_CSRF_COOKIE)
        return redirect

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        _person, csrf = person_and_csrf(request)
        if not secrets.compare_digest(csrf, csrf_token):
            raise HTTPException(403, "missing or wrong CSRF token")
        store.close_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/live", 303)

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    def live_page(request: Request) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        since = datetime.datetime.now(datetime.UTC) - LIVE_WINDOW
        machines = []
        for state in store.live_states(workshop_scope(person), since=since):
            if state["step"] == "done":
                continue
            progress = orjson.loads(state["payload"])
            machines.append({**state, "progress": progress,
                             "disks": [_disk_progress(disk) for disk in
                                       progress.get("disks") or [] if isinstance(disk, dict)]})
        return page(request, "live.html", person, csrf, machines=machines)

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request, serial: str = "", asset_id: str = "",
                     station: str = "", date: str = "") -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        try:
            day = datetime.date.fromisoformat(date) if date else None
        except ValueError:
            day = None  # the form's date field sends ISO dates; anything else filters nothing
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC) \
            if day else None
        rows = store.find_reports(ReportFilter(
            serial=serial.replace("\x00", "") or None,
            asset_id=asset_id.replace("\x00", "") or None,
            station=station.replace("\x00", "") or None,
            since=start, until=start + datetime.timedelta(days=1) if start else None,
            workshop_id=workshop_scope(person), limit=200))
        return page(request, "reports.html", person, csrf, rows=rows, serial=serial,
                    asset_id=asset_id, station=station, date=day.isoformat() if day else "")

    @app.get("/machines", response_class=HTMLResponse, include_in_schema=False)
    def machines_page(request: Request) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        return page(request, "machines.html", person, csrf,
                    machines=store.machines(workshop_scope(person)))

    @app.get("/machines/{machine_id}", response_class=HTMLResponse, include_in_schema=False,
             name="passport")
    def passport(request: Request, machine_id: str) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        found = store.machines(workshop_scope(person), machine_id.replace("\x00", ""))
        if not found:
            return not_found(request, person, csrf)
        machine = found[0]
        row = store.report(machine["latest_report_id"])
        if row is None:
            return not_found(request, person, csrf)
        report = orjson.loads(row["payload"])
        history = store.find_reports(ReportFilter(machine_id=machine["machine_id"],
                                                  workshop_id=workshop_scope(person)))
        url = hub.link(request, f"/machines/{quote(machine['machine_id'], safe='')}")
        return page(request, "passport.html", person, csrf, machine=machine, row=row,
                    report=report, disks=views.erasures(report), history=history,
                    qr=views.qr_svg(url), passport_url=url, **_sections(report))

    @app.get("/reports/{report_id}/certificate", response_class=HTMLResponse,
             include_in_schema=False, name="certificate")
    def certificate(request: Request, report_id: str) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        row = _visible(report_id, person)
        if row is None:
            return not_found(request, person, csrf)
        report = orjson.loads(row["payload"])
        return page(request, "certificate.html", person, csrf, row=row, report=report,
                    disks=views.erasures(report), pem=views.public_key_pem(row["public_key"]),
                    payload_length=len(row["payload"].encode()),
                    fingerprint_commands=views.fingerprint_commands(row["key_id"]),
                    signature_commands=views.SIGNATURE_COMMANDS, **_sections(report))

    @app.get("/reports/{report_id}/certificate.pdf", include_in_schema=False)
    def certificate_file(request: Request, report_id: str) -> Response:
        person, _csrf = person_and_csrf(request)
        row = _visible(report_id, person)
        if row is None:
            raise HTTPException(404, "no such report")
        report = orjson.loads(row["payload"])
        data = certificate_pdf(row, report, views.public_key_pem(row["public_key"]),
                               language(request), hub.link(request, ""))
        return Response(data, media_type="application/pdf", headers={
            "content-disposition": f'inline; filename="certificate-{row["report_id"]}.pdf"'})

    def _visible(report_id: str, person: PersonRow) -> dict[str, Any] | None:
        row = store.report(report_id.replace("\x00", ""))
        scope = workshop_scope(person)
        if row is None or (scope is not None and row["workshop_id"] != scope):
            return None
        return row

    @app.get("/totals", response_class=HTMLResponse, include_in_schema=False)
    def totals_page(request: Request) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        _ = page_gettext(language(request))
        totals = views.totals(store.report_summaries(workshop_scope(person)))
        return page(request, "totals.html", person, csrf, totals=totals,
                    month_chart=views.bar_chart(totals.per_month, _("Machines per month")),
                    method_chart=views.bar_chart(totals.methods, _("Erasure methods")),
                    co2=views.CO2_KG_PER_MACHINE, water=views.WATER_L_PER_MACHINE,
                    ore=views.ORE_KG_PER_MACHINE)

    @app.get("/stations", response_class=HTMLResponse, include_in_schema=False)
    def stations_page(request: Request) -> HTMLResponse:
        person, csrf = person_and_csrf(request)
        if person.role != ROLE_ADMIN:
            return not_found(request, person, csrf)
        return page(request, "stations.html", person, csrf, stations=store.stations())

    @app.post("/stations/{name}/revoke", include_in_schema=False)
    def revoke_from_page(request: Request, name: str, csrf_token: str = Form("")) -> Response:
        person, csrf = person_and_csrf(request)
        if not secrets.compare_digest(csrf, csrf_token):
            raise HTTPException(403, "missing or wrong CSRF token")
        if person.role != ROLE_ADMIN:
            raise HTTPException(403, "administrators only")
        if not store.revoke_station(name.replace("\x00", "")):
            raise HTTPException(404, "no such station")
        return RedirectResponse("/stations", 303)


def _local(target: str) -> str:
    """Only a path on this hub may follow the sign-in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/live"


def _disk_progress(disk: dict[str, Any]) -> dict[str, Any]:
    done, total = disk.get("bytes_done"), disk.get("bytes_total")
    percent = None
    if isinstance(done, int | float) and isinstance(total, int | float) and total > 0:
        percent = max(0, min(100, round(100 * done / total)))
    rate = disk.get("rate_bytes_per_s")
    return {**disk, "percent": percent,
            "rate_text": views.size_text(rate) + "/s" if isinstance(rate, int | float) else "",
            "size_text": views.size_text(disk.get("size_bytes"))}


def _sections(report: dict[str, Any]) -> dict[str, Any]:
    """The report's optional parts, each None when an older report does not have it."""
    install = report.get("install") if isinstance(report.get("install"), dict) else None
    found = report.get("machine")
    machine: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "system": machine.get("system") or {},
        "inventory": [(name, views.flat_items(machine.get(name))) for name in
                      ("system", "board", "firmware", "cpu", "memory", "tpm", "identity")
                      if machine.get(name)],
        "inventory_disks": [disk for disk in machine.get("disks") or [] if isinstance(disk, dict)],
        "benchmarks": views.flat_items(report.get("benchmarks")) if report.get("benchmarks")
        else None,
        "install": install,
        "install_items": views.flat_items(install) if install else None,
        "grade": report.get("grade"), "outcome": report.get("outcome"),
        "operator": report.get("operator"),
        "size_text": views.size_text,
        "field": views.shown_field,
        "section_labels": views.SECTION_LABELS,
    }

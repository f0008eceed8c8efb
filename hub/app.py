"""The hub's HTTP API (FastAPI): stations, reports, machines, live progress, CSV, OS images."""

from __future__ import annotations

import base64
import binascii
import csv
import datetime
import io
from pathlib import Path
from typing import Annotated, Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError

from agent.report import dsse
from hub import ingest, pages
from hub.accounts import workshop_scope
from hub.headers import SecurityHeaders
from hub.images import ImageShelf
from hub.ingest import MAX_BODY_BYTES, Refused
from hub.models import ROLE_ADMIN
from hub.store import PersonRow, ReportFilter, Store, StoreError
from hub.throttle import LoginThrottle

SESSION_COOKIE = "reeeboot_session"
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["payloadType", "payload", "signatures"],
    "properties": {
        "payloadType": {"type": "string"},
        "payload": {"type": "string", "description": "base64 of the signed JSON"},
        "signatures": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["keyid", "sig"],
            "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}}}},
    },
}
ENVELOPE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ENVELOPE_SCHEMA}}}}
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed JSON or envelope"},
    403: {"description": "unknown, revoked or retired key, or a signature that does not verify"},
    413: {"description": "body over 16 MiB"},
    422: {"description": "not a document of the expected schema"},
}


ENROLL_MAX_BYTES = 16 << 10


class EnrollRequest(BaseModel):
    token: str
    public_key: str
    name: str = ""


def clean(value: str | None) -> str | None:
    """Query text as the database may hold it (PostgreSQL text has no NUL character)."""
    return None if value is None else value.replace("\x00", "")


class Hub:
    """What every request needs: the store and the OS images' folder."""

    def __init__(self, store: Store, images: ImageShelf | None,
                 public_url: str | None = None) -> None:
        self.store = store
        self.images = images
        self.public_url = public_url.rstrip("/") if public_url else None
        self.login_throttle = LoginThrottle()

    def link(self, request: Request, path: str) -> str:
        """An address of the hub for outside readers (a passport's QR code, a certificate's
        link): on the configured public URL, never on the request's own Host header, which
        whoever sends the request chooses. Without one (a development hub), the request's."""
        base = self.public_url or str(request.base_url).rstrip("/")
        return base + path

    def person(self, request: Request) -> PersonRow | None:
        """Who is asking: an API token (Authorization: Bearer) or a signed-in session."""
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return self.store.person_for_api_token(clean(authorization[7:].strip()) or "")
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        found = self.store.person_for_session(clean(token) or "")
        return found[0] if found else None

    def csrf_token(self, request: Request) -> str | None:
        token = request.cookies.get(SESSION_COOKIE)
        found = self.store.person_for_session(clean(token) or "") if token else None
        return found[1] if found else None


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (never held whole)."""
    too_big = HTTPException(413, f"body over {limit} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def api_person(request: Request) -> PersonRow:
    person = request.app.state.hub.person(request)
    if person is None:
        raise HTTPException(401, "sign in or send an API token (Authorization: Bearer)")
    return person


def api_admin(request: Request, person: Annotated[PersonRow, Depends(api_person)]) -> PersonRow:
    """An administrator; through a session (not a token) a POST also needs the CSRF token."""
    if person.role != ROLE_ADMIN:
        raise HTTPException(403, "administrators only")
    if not request.headers.get("authorization", "").lower().startswith("bearer ") \
            and request.method == "POST":
        sent = request.headers.get("x-csrf-token")
        if sent is None or sent != request.app.state.hub.csrf_token(request):
            raise HTTPException(403, "missing or wrong CSRF token")
    return person


Person = Annotated[PersonRow, Depends(api_person)]
Admin = Annotated[PersonRow, Depends(api_admin)]
Limit = Annotated[int, Query(ge=1, le=10000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def create_app(database: str | Path | Store, images: Path | None = None,
               public_url: str | None = None) -> FastAPI:
    store = database if isinstance(database, Store) else Store(database)
    hub = Hub(store, ImageShelf(images) if images is not None else None, public_url)
    # The OpenAPI description is served; the interactive viewers are not: they load their
    # scripts from a third-party CDN.
    app = FastAPI(title="reeeboot hub", version="1", docs_url=None, redoc_url=None,
                  description="The regional platform: signed reports from refurbishing "
                              "stations, machines, live progress, certificates.")
    app.state.hub = hub
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(Refused)
    async def refused(_request: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"detail": error.message}, error.status)

    # -- stations ---------------------------------------------------------------------------

    @app.post("/api/v1/stations/enroll", status_code=201, tags=["stations"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": EnrollRequest.model_json_schema()}}}},
              responses={403: {"description": "unknown token"},
                         409: {"description": "token used by another key"},
                         413: {"description": f"body over {ENROLL_MAX_BYTES} bytes"},
                         422: {"description": "not an Ed25519 key"}})
    async def enroll(http: Request) -> JSONResponse:
        # Read and bounded before it is parsed: an enrollment is a few hundred bytes.
        body = await read_body(http, ENROLL_MAX_BYTES)
        try:
            request = EnrollRequest.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(422, error.errors(
                include_url=False, include_context=False, include_input=False)) from error
        return await run_in_threadpool(enroll_station, request)

    def enroll_station(request: EnrollRequest) -> JSONResponse:
        try:
            raw_key = base64.b64decode(request.public_key, validate=True)
            public_key = Ed25519PublicKey.from_public_bytes(raw_key)
        except (ValueError, binascii.Error) as error:
            raise HTTPException(422, f"public_key is not a base64 Ed25519 key: {error}") from error
        key_id = dsse.key_id(public_key)
        try:
            name, created = store.enroll(clean(request.token) or "", raw_key, key_id)
        except LookupError as error:
            raise HTTPException(403, str(error)) from error
        except StoreError as error:
            raise HTTPException(409, str(error)) from error
        return JSONResponse({"station": name, "key_id": key_id}, 201 if created else 200)

    @app.post("/api/v1/stations/rotate", tags=["stations"], openapi_extra=ENVELOPE_BODY,
              responses=REFUSALS)
    async def rotate(request: Request) -> dict[str, str]:
        body = await read_body(request)
        return await run_in_threadpool(ingest.rotate_key, store, body)

    @app.post("/api/v1/stations/{name}/revoke", tags=["stations"],
              responses={404: {"description": "no such station"}})
    def revoke(name: str, _admin: Admin) -> dict[str, str]:
        if not store.revoke_station(clean(name) or ""):
            raise HTTPException(404, "no such station")
        return {"station": name, "status": "revoked"}

    @app.get("/api/v1/stations", tags=["stations"])
    def stations(person: Person) -> list[dict[str, Any]]:
        if person.role != ROLE_ADMIN:
            raise HTTPException(403, "administrators only")
        return store.stations()

    # -- reports ----------------------------------------------------------------------------

    @app.post("/api/v1/reports", status_code=201, tags=["reports"],
              openapi_extra=ENVELOPE_BODY,
              responses={**REFUSALS, 200: {"description": "already stored, same content"},
                         409: {"description": "same report id, other content"}})
    async def submit_report(request: Request) -> JSONResponse:
        body = await read_body(request)
        status, answer = await run_in_threadpool(ingest.submit_report, store, body)
        return JSONResponse(answer, status)

    def report_filter(person: PersonRow, serial: str | None, asset_id: str | None,
                      machine_id: str | None, station: str | None,
                      date: datetime.date | None, since: datetime.date | None,
                      until: datetime.date | None, limit: int, offset: int) -> ReportFilter:
        start = since or date
        end = until or date
        return ReportFilter(
            serial=clean(serial), asset_id=clean(asset_id), machine_id=clean(machine_id),
            station=clean(station),
            since=_day_start(start) if start else None,
            until=_day_start(end) + datetime.timedelta(days=1) if end else None,
            workshop_id=workshop_scope(person), limit=limit, offset=offset)

    @app.get("/api/v1/reports", tags=["reports"])
    def list_reports(person: Person, serial: str | None = None, asset_id: str | None = None,
                     machine_id: str | None = None, station: str | None = None,
                     date: datetime.date | None = None, since: datetime.date | None = None,
                     until: datetime.date | None = None, limit: Limit = 500,
                     offset: Offset = 0) -> list[dict[str, Any]]:
        """Reports, newest first; `date` or `since`/`until` (inclusive) filter on created_at."""
        return store.find_reports(report_filter(person, serial, asset_id, machine_id, station,
                                                date, since, until, limit, offset))

    @app.get("/api/v1/export/reports.csv", tags=["reports"],
             response_class=Response,
             responses={200: {"content": {"text/csv": {}}, "description": "CSV, one report a row"}})
    def export_reports(person: Person, serial: str | None = None, asset_id: str | None = None,
                       machine_id: str | None = None, station: str | None = None,
                       date: datetime.date | None = None, since: datetime.date | None = None,
                       until: datetime.date | None = None) -> Response:
        rows = store.find_reports(report_filter(person, serial, asset_id, machine_id, station,
                                                date, since, until, 10_000_000, 0))
        columns = ["report_id", "created_at", "received_at", "workshop", "station",
                   "machine_id", "asset_id", "system_serial", "outcome", "disks_total",
                   "disks_erased", "methods", "key_id"]
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(" ".join(row[column]) if column == "methods" else
                                       row[column]) for column in columns])
        return Response(text.getvalue(), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": 'attachment; filename="reeeboot-reports.csv"'})

    def visible_report(person: PersonRow, report_id: str) -> dict[str, Any]:
        row = store.report(clean(report_id) or "")
        scope = workshop_scope(person)
        if row is None or (scope is not None and row["workshop_id"] != scope):
            raise HTTPException(404, "no such report")
        return row

    app.state.visible_report = visible_report

    @app.get("/api/v1/reports/{report_id}", tags=["reports"],
             responses={404: {"description": "no such report"}})
    def get_report(report_id: str, person: Person) -> dict[str, Any]:
        row = visible_report(person, report_id)
        return {
            "report_id": row["report_id"], "station": row["station"],
            "workshop": row["workshop"], "received_at": row["received_at"],
            "key_id": row["key_id"], "key_status": row["key_status"],
            "signed_by_revoked_key": row["key_status"] == "revoked",
            "envelope": orjson.loads(row["envelope"]), "report": orjson.loads(row["payload"]),
        }

    @app.get("/api/v1/reports/{report_id}/envelope", tags=["reports"],
             responses={404: {"description": "no such report"}})
    def get_envelope(report_id: str, person: Person) -> Response:
        """The signed envelope exactly as stored, to verify with standard tools."""
        row = visible_report(person, report_id)
        return Response(row["envelope"], media_type="application/json", headers={
            "content-disposition": f'attachment; filename="{row["report_id"]}.dsse.json"'})

    # -- machines and live progress -----------------------------------------------------------

    @app.get("/api/v1/machines", tags=["machines"])
    def list_machines(person: Person) -> list[dict[str, Any]]:
        return store.machines(workshop_scope(person))

    @app.get("/api/v1/machines/{machine_id}", tags=["machines"],
             responses={404: {"description": "no such machine"}})
    def get_machine(machine_id: str, person: Person) -> dict[str, Any]:
        found = store.machines(workshop_scope(person), clean(machine_id))
        if not found:
            raise HTTPException(404, "no such machine")
        machine = found[0]
        machine["reports"] = store.find_reports(ReportFilter(
            machine_id=machine["machine_id"], workshop_id=workshop_scope(person)))
        return machine

    @app.post("/api/v1/progress", status_code=202, tags=["live"], openapi_extra=ENVELOPE_BODY,
              responses=REFUSALS)
    async def progress(request: Request) -> JSONResponse:
        body = await read_body(request)
        await run_in_threadpool(ingest.record_progress, store, body)
        return JSONResponse({"status": "accepted"}, 202)

    @app.get("/api/v1/live", tags=["live"])
    def live(person: Person) -> list[dict[str, Any]]:
        """The latest progress of each machine (one entry per machine, newest state)."""
        return [{**{key: value for key, value in state.items() if key != "payload"},
                 "progress": orjson.loads(state["payload"])}
                for state in store.live_states(workshop_scope(person))]

    # -- OS images for the install step --------------------------------------------------------

    @app.get("/api/v1/images", tags=["images"])
    def images_list() -> list[dict[str, Any]]:
        return hub.images.manifests() if hub.images else []

    @app.get("/api/v1/images/files/{file}", tags=["images"], response_class=FileResponse,
             responses={404: {"description": "no such file"}, 206: {"description": "a range"}})
    def image_file(file: str) -> FileResponse:
        path = hub.images.file(file) if hub.images else None
        if path is None:
            raise HTTPException(404, "no such image file")
        return FileResponse(path, media_type="application/octet-stream")

    pages.add_pages(app, hub)
    return app


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_cell(value: Any) -> str:
    """Every cell of an export, one rule (OWASP's CSV injection advice): a cell that a
    spreadsheet could read as a formula, even behind spaces or line breaks, which some strip,
    or starting with a tab or a line break, is kept as text by a leading apostrophe."""
    text = "" if value is None else str(value)
    if text[:1] in ("\t", "\r", "\n") or text.lstrip(" \t\r\n")[:1] in FORMULA_STARTS:
        return "'" + text
    return text

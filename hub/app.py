"""The hub's HTTP API and its one page (FastAPI)."""

from __future__ import annotations

import base64
import binascii
import html
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from agent.i18n import translator
from agent.report import dsse
from agent.report.model import validate_report
from hub.db import Database, sha256_hex

MAX_BODY_BYTES = 16 << 20


class EnrollRequest(BaseModel):
    token: str
    public_key: str
    name: str = ""


def create_app(database_path: Path) -> FastAPI:
    database = Database(database_path)
    app = FastAPI(title="reeeboot hub", version="1")

    @app.post("/api/v1/stations/enroll", status_code=201)
    def enroll(request: EnrollRequest) -> JSONResponse:
        station = database.station_by_token(request.token)
        if station is None:
            raise HTTPException(403, "unknown enrollment token")
        try:
            raw_key = base64.b64decode(request.public_key, validate=True)
            public_key = Ed25519PublicKey.from_public_bytes(raw_key)
        except (ValueError, binascii.Error) as error:
            raise HTTPException(422, f"public_key is not a base64 Ed25519 key: {error}") from error
        key_id = dsse.key_id(public_key)
        if station.public_key is not None:
            if station.key_id == key_id:
                return JSONResponse({"station": station.name, "key_id": key_id}, 200)
            raise HTTPException(409, "this enrollment token was already used")
        if not database.enroll(station.id, raw_key, key_id):
            raise HTTPException(409, "this enrollment token was already used")
        return JSONResponse({"station": station.name, "key_id": key_id}, 201)

    @app.post("/api/v1/reports", status_code=201)
    async def submit_report(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, "report too large")
        try:
            envelope = json.loads(body)
            payload_type, _payload, signatures = dsse.parse(envelope)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HTTPException(400, f"body is not JSON: {error}") from error
        except dsse.EnvelopeError as error:
            raise HTTPException(400, str(error)) from error
        station = next(
            (found for keyid, _sig in signatures if (found := database.station_by_key_id(keyid))),
            None,
        )
        if station is None or station.public_key is None:
            raise HTTPException(403, "signed by a key no station enrolled")
        try:
            payload = dsse.verify(envelope, Ed25519PublicKey.from_public_bytes(station.public_key))
        except dsse.EnvelopeError as error:
            raise HTTPException(403, str(error)) from error
        if payload_type != dsse.REPORT_PAYLOAD_TYPE:
            raise HTTPException(422, f"payloadType must be {dsse.REPORT_PAYLOAD_TYPE}")
        try:
            report = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HTTPException(422, f"payload is not JSON: {error}") from error
        problems = validate_report(report)
        if problems:
            raise HTTPException(422, "; ".join(problems))
        if report["station"].get("key_id") != station.key_id:
            raise HTTPException(422, "the report names another station key than its signature")
        canonical = dsse.canonical_json(envelope).decode()
        report_id = str(report["report_id"])
        stored = database.stored_envelope_sha256(report_id)
        if stored is not None:
            if stored != sha256_hex(canonical):
                raise HTTPException(409, "a different report with this id is already stored")
            return JSONResponse({"report_id": report_id, "status": "already stored"}, 200)
        serial = (report.get("machine", {}).get("system") or {}).get("serial")
        if not database.add_report(report_id, station.id, canonical, payload.decode(), serial):
            return JSONResponse({"report_id": report_id, "status": "already stored"}, 200)
        return JSONResponse({"report_id": report_id, "status": "stored"}, 201)

    @app.get("/api/v1/reports")
    def list_reports() -> list[dict[str, Any]]:
        return [
            {key: value for key, value in row.items() if key != "payload"}
            for row in database.reports()
        ]

    @app.get("/api/v1/reports/{report_id}")
    def get_report(report_id: str) -> dict[str, Any]:
        row = database.report(report_id)
        if row is None:
            raise HTTPException(404, "no such report")
        return {
            "report_id": row["report_id"],
            "station": row["station"],
            "received_at": row["received_at"],
            "envelope": json.loads(str(row["envelope"])),
            "report": json.loads(str(row["payload"])),
        }

    @app.get("/", response_class=HTMLResponse)
    def reports_page(request: Request, lang: str | None = None) -> str:
        language = lang or _preferred_language(request.headers.get("accept-language", ""))
        return _render_reports(database.reports(), language)

    return app


def _preferred_language(header: str) -> str:
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("fr", "en"):
            return code
    return "fr"


def _render_reports(rows: list[dict[str, Any]], language: str) -> str:
    _ = translator(language).gettext
    lines = []
    for row in rows:
        report = json.loads(str(row["payload"]))
        system = report.get("machine", {}).get("system", {})
        erasure = report.get("erasure", [])
        erased = sum(1 for disk in erasure if disk.get("result") == "erased")
        lines.append(
            "<tr>" + "".join(
                f"<td>{html.escape(str(cell))}</td>" for cell in (
                    row["received_at"], row["station"],
                    f"{system.get('vendor') or '?'} {system.get('product') or '?'}",
                    row["system_serial"] or "?", f"{erased}/{len(erasure)}",
                    len(report.get("excluded", [])), row["report_id"],
                )
            ) + "</tr>"
        )
    headers = (_("Received"), _("Station"), _("Machine"), _("Serial"), _("Disks erased"),
               _("Disks kept"), _("Report"))
    head = "".join(f"<th>{html.escape(title)}</th>" for title in headers)
    empty = html.escape(_("No report yet."))
    body = "\n".join(lines) or f"<tr><td colspan=7>{empty}</td></tr>"
    title = html.escape(_("Received reports"))
    return (
        f"<!doctype html><html lang={language}><head><meta charset=utf-8>"
        f"<title>reeeboot — {title}</title></head><body><h1>{title}</h1>"
        f"<table border=1><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>"
    )

"""Reports: submitted signed by a station; listed, exported as CSV and read back by people."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from hub import ingest
from hub.api.openapi import ENVELOPE_BODY, REFUSALS
from hub.deps import HubDep, Person, clean, read_body, visible_report, workshop_scope
from hub.store import ReportFilter
from hub.views import day_start

router = APIRouter(prefix="/api/v1", tags=["reports"])

Limit = Annotated[int, Query(ge=1, le=10000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
CSV_COLUMNS = ["report_id", "created_at", "received_at", "workshop", "station", "machine_id",
               "asset_id", "system_serial", "outcome", "disks_total", "disks_erased", "methods",
               "key_id"]


@router.post("/reports", status_code=201, openapi_extra=ENVELOPE_BODY,
             responses={**REFUSALS, 200: {"description": "already stored, same content"},
                        409: {"description": "same report id, other content"}})
async def submit_report(request: Request, hub: HubDep) -> JSONResponse:
    body = await read_body(request)
    status, answer = await run_in_threadpool(ingest.submit_report, hub.store, body,
                                             hub.public_url)
    return JSONResponse(answer, status)


class Search:
    """The filters the list and the CSV export share; `date` or `since`/`until` (inclusive)
    filter on the station's claimed creation time."""

    def __init__(self, serial: str | None = None, asset_id: str | None = None,
                 machine_id: str | None = None, station: str | None = None,
                 date: datetime.date | None = None, since: datetime.date | None = None,
                 until: datetime.date | None = None) -> None:
        start, end = since or date, until or date
        self.serial, self.asset_id = clean(serial), clean(asset_id)
        self.machine_id, self.station = clean(machine_id), clean(station)
        self.since = day_start(start) if start else None
        self.until = day_start(end) + datetime.timedelta(days=1) if end else None

    def filter(self, workshop_id: int | None, limit: int, offset: int) -> ReportFilter:
        return ReportFilter(serial=self.serial, asset_id=self.asset_id,
                            machine_id=self.machine_id, station=self.station, since=self.since,
                            until=self.until, workshop_id=workshop_id, limit=limit,
                            offset=offset)


SearchDep = Annotated[Search, Depends()]


@router.get("/reports")
def list_reports(hub: HubDep, person: Person, search: SearchDep, limit: Limit = 500,
                 offset: Offset = 0) -> list[dict[str, Any]]:
    """Reports, newest first; `date` or `since`/`until` (inclusive) filter on created_at."""
    return hub.store.find_reports(search.filter(workshop_scope(person), limit, offset))


@router.get("/export/reports.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV, one report a row"}})
def export_reports(hub: HubDep, person: Person, search: SearchDep) -> Response:
    rows = hub.store.find_reports(search.filter(workshop_scope(person), 10_000_000, 0))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(" ".join(row[column]) if column == "methods" else row[column])
                         for column in CSV_COLUMNS])
    return Response(text.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": 'attachment; filename="reeeboot-reports.csv"'})


def _report(hub: HubDep, person: Person, report_id: str) -> dict[str, Any]:
    row = visible_report(hub, person, report_id)
    if row is None:
        raise HTTPException(404, "no such report")
    return row


VisibleReport = Annotated[dict[str, Any], Depends(_report)]


@router.get("/reports/{report_id}", responses={404: {"description": "no such report"}})
def get_report(row: VisibleReport) -> dict[str, Any]:
    return {
        "report_id": row["report_id"], "station": row["station"],
        "workshop": row["workshop"], "received_at": row["received_at"],
        "key_id": row["key_id"], "key_status": row["key_status"],
        "signed_by_revoked_key": row["key_status"] == "revoked",
        "envelope": orjson.loads(row["envelope"]), "report": orjson.loads(row["payload"]),
    }


@router.get("/reports/{report_id}/envelope", responses={404: {"description": "no such report"}})
def get_envelope(row: VisibleReport) -> Response:
    """The signed envelope exactly as stored, to verify with standard tools."""
    return Response(row["envelope"], media_type="application/json", headers={
        "content-disposition": f'attachment; filename="{row["report_id"]}.dsse.json"'})


FORMULA_STARTS = ("=", "+", "-", "@")


def csv_cell(value: Any) -> str:
    """Every cell of an export, one rule (OWASP's CSV injection advice): a cell that a
    spreadsheet could read as a formula, even behind spaces or line breaks, which some strip,
    or starting with a tab or a line break, is kept as text by a leading apostrophe."""
    text = "" if value is None else str(value)
    if text[:1] in ("\t", "\r", "\n") or text.lstrip(" \t\r\n")[:1] in FORMULA_STARTS:
        return "'" + text
    return text

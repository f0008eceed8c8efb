"""Stations: enrollment with a one-time token, key rotation, revocation, the list."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from agent.report import dsse
from hub import audit, ingest
from hub.api.openapi import ENVELOPE_BODY, REFUSALS
from hub.deps import Admin, HubDep, Person, clean, read_body, require_admin
from hub.store import Store, StoreError

ENROLL_MAX_BYTES = 16 << 10

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


class EnrollRequest(BaseModel):
    token: str
    public_key: str
    name: str = ""


@router.post("/enroll", status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": EnrollRequest.model_json_schema()}}}},
             responses={403: {"description": "unknown token"},
                        409: {"description": "token used by another key"},
                        413: {"description": f"body over {ENROLL_MAX_BYTES} bytes"},
                        422: {"description": "not an Ed25519 key"}})
async def enroll(http: Request, hub: HubDep) -> JSONResponse:
    # Read and bounded before it is parsed: an enrollment is a few hundred bytes.
    body = await read_body(http, ENROLL_MAX_BYTES)
    try:
        request = EnrollRequest.model_validate_json(body)
    except ValidationError as error:
        raise HTTPException(422, error.errors(
            include_url=False, include_context=False, include_input=False)) from error
    name, key_id, created = await run_in_threadpool(_enroll_station, hub.store, request)
    if created:
        audit.record("station_enrolled", http, station=name, key_id=key_id)
    return JSONResponse({"station": name, "key_id": key_id}, 201 if created else 200)


def _enroll_station(store: Store, request: EnrollRequest) -> tuple[str, str, bool]:
    """The station's name, the key's id, and whether this enrolled it (not a repeat)."""
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
    return name, key_id, created


@router.post("/rotate", openapi_extra=ENVELOPE_BODY, responses=REFUSALS)
async def rotate(request: Request, hub: HubDep) -> dict[str, str]:
    body = await read_body(request)
    answer = await run_in_threadpool(ingest.rotate_key, hub.store, body)
    audit.record("station_key_rotated", request, station=answer["station"],
                 key_id=answer["key_id"])
    return answer


@router.post("/{name}/revoke", responses={404: {"description": "no such station"}})
def revoke(name: str, request: Request, hub: HubDep, admin: Admin) -> dict[str, str]:
    if not hub.store.revoke_station(clean(name) or ""):
        raise HTTPException(404, "no such station")
    audit.record("station_revoked", request, station=name, by=admin.email)
    return {"station": name, "status": "revoked"}


@router.get("")
def stations(request: Request, hub: HubDep, person: Person) -> list[dict[str, Any]]:
    require_admin(person, request)
    return hub.store.stations()

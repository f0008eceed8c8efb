"""Arming unattended erasure for a workshop's network-booted machines (docs/netboot.md, "Arming
unattended erasure"): listed machines by the MAC address of the network card they boot from, or
the next N machines that start, always for a limited time.

An administrator names the workshop; a workshop's account arms its own workshop's machines only.
Arming is written to the security log: it lets machines erase their disks without a person."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from hub import arming as bounds
from hub import audit
from hub.deps import HubDep, Writer, read_body
from hub.models import ROLE_ADMIN
from hub.store import PersonRow, Store, StoreError

ARM_MAX_BYTES = 64 << 10  # 500 MAC addresses take under 16 KiB

router = APIRouter(prefix="/api/v1/netboot", tags=["netboot"])


class ArmRequest(BaseModel):
    """`macs` or `next`, not both; `workshop` for an administrator."""

    model_config = ConfigDict(extra="forbid")
    workshop: str | None = None
    macs: list[str] | None = None
    next: StrictInt | None = None
    minutes: StrictInt = bounds.DEFAULT_MINUTES


@router.post("/arm", status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": ArmRequest.model_json_schema()}}}},
             responses={201: {"description": '{"arming": <id>, "expires_at": "<ISO 8601>"}'},
                        401: {"description": "not signed in, no API token"},
                        403: {"description": "another workshop than the account's, or a "
                                             "session without its CSRF token"},
                        413: {"description": f"body over {ARM_MAX_BYTES} bytes"},
                        422: {"description": "not an arming: the message says why"}})
async def arm(http: Request, hub: HubDep, person: Writer) -> JSONResponse:
    body = await read_body(http, ARM_MAX_BYTES)
    try:
        request = ArmRequest.model_validate_json(body)
    except ValidationError as error:
        raise HTTPException(422, "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors(include_url=False))) from error
    workshop_id, workshop = _workshop(http, hub.store, person, request.workshop)
    try:
        if (request.macs is None) == (request.next is None):
            raise HTTPException(422, 'give either "macs" (a list of MAC addresses) or '
                                     '"next" (a number of machines), not both')
        expires_at = bounds.expiry(request.minutes)
        if request.macs is not None:
            macs = bounds.checked_macs(request.macs)
            arming_id = await run_in_threadpool(hub.store.arm_machines, workshop_id, macs,
                                                expires_at, person.email)
        else:
            assert request.next is not None
            arming_id = await run_in_threadpool(
                hub.store.arm_next, workshop_id, bounds.checked_count(request.next),
                expires_at, person.email)
    except bounds.ArmingProblem as problem:
        raise HTTPException(422, problem.text()) from problem
    except StoreError as error:
        raise HTTPException(422, str(error)) from error
    audit.record("unattended_armed", http, person=person.email, workshop=workshop,
                 arming=arming_id, macs=request.macs, next=request.next,
                 minutes=request.minutes)
    return JSONResponse({"arming": arming_id,
                         "expires_at": expires_at.isoformat(timespec="seconds")}, 201)


def _workshop(http: Request, store: Store, person: PersonRow,
              named: str | None) -> tuple[int, str]:
    """The workshop the arming is for: the one an administrator names, a workshop account's
    own (naming another is refused)."""
    if person.role == ROLE_ADMIN:
        if not named:
            raise HTTPException(422, 'an administrator names the workshop ("workshop")')
        found = store.workshop_id(named)
        if found is None:
            raise HTTPException(422, f"no workshop named {named[:200]!r}")
        return found, named
    if person.workshop_id is None or person.workshop_name is None:
        raise HTTPException(403, "this account belongs to no workshop")
    if named is not None and named != person.workshop_name:
        audit.record("arming_refused", http, person=person.email, workshop=named)
        raise HTTPException(403, "a workshop's account arms its own workshop's machines only")
    return person.workshop_id, person.workshop_name

"""Network-booted machines enroll: the boot credential their workshop's boot service gave them,
with their own new key, makes them a station of that workshop (docs/hub.md, "Boot services and
network-booted stations"; the credential's format: agent/report/bootcredential.py).

Every check refuses with 403 and says why in English; the refusals go to the security log.
Once enrolled, the machine's station sends reports and progress like any station.

A boot service may ask for a person's approval (docs/netboot.md, "Enrollment on
approval"): a machine that passed every check is then answered 202 "pending" until a person
of the workshop accepts it on the live board; it asks again with the same credential and key,
and is enrolled (201) once accepted, or refused (403) once refused."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from agent.report import bootcredential as credential
from agent.report import dsse
from agent.report.bootcredential import BootClaims, CredentialError
from hub import audit
from hub.deps import HubDep, read_body
from hub.store import (
    UNKNOWN_BOOT_KEY,
    AwaitingApproval,
    Store,
    StoreError,
    StoreForbidden,
    boot_signer_problem,
)

ENROLL_MAX_BYTES = 16 << 10
_NONCE = re.compile(r"^[0-9a-f]{32}$")
# What the database's columns hold (hub/models.py): a longer claim is refused, not cut.
_LONGEST = {"station": 200, "uuid": 64, "ip": 64}

router = APIRouter(prefix="/api/v1/netboot", tags=["netboot"])


class NetbootEnrollRequest(BaseModel):
    credential: str
    public_key: str  # base64 of the machine's raw Ed25519 public key
    macs: list[str]  # the machine's network cards' addresses, as it reads them
    uuid: str = ""  # /sys/class/dmi/id/product_uuid, "" when it has none


@dataclass(frozen=True)
class Enrolled:
    claims: BootClaims
    station: str
    key_id: str
    workshop: str | None
    created: bool


@dataclass(frozen=True)
class Pending:
    """Every check passed; the boot service asks a person to accept the machine first."""

    claims: BootClaims
    station: str
    workshop: str | None
    first: bool  # this ask recorded the request


@router.post("/enroll", status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": NetbootEnrollRequest.model_json_schema()}}}},
             responses={200: {"description": "enrolled already, by this key (a repeat)"},
                        202: {"description": "waits for a person of the workshop to accept "
                                             "it on the live board: {\"status\": \"pending\", "
                                             "\"station\": name}; ask again with the same "
                                             "credential and key"},
                        403: {"description": "a credential unreadable, expired, already used, "
                                             "not signed by a boot service's current key, or "
                                             "given to another machine; a machine the workshop "
                                             "refused"},
                        409: {"description": "the station's name is taken by another kind of "
                                             "station or another workshop, or the key is "
                                             "enrolled already"},
                        413: {"description": f"body over {ENROLL_MAX_BYTES} bytes"},
                        422: {"description": "not an enrollment, or not an Ed25519 key"}})
async def enroll(http: Request, hub: HubDep) -> JSONResponse:
    # Read and bounded before it is parsed: an enrollment is well under a kilobyte.
    body = await read_body(http, ENROLL_MAX_BYTES)
    try:
        request = NetbootEnrollRequest.model_validate_json(body)
    except ValidationError as error:
        raise HTTPException(422, error.errors(
            include_url=False, include_context=False, include_input=False)) from error
    seen = http.client.host if http.client is not None else ""
    try:
        enrolled = await run_in_threadpool(_enroll_machine, hub.store, request, seen[:64])
    except HTTPException as refusal:
        if refusal.status_code in (403, 409):  # someone may be trying credentials
            audit.record("boot_credential_refused", http, reason=str(refusal.detail))
        raise
    if isinstance(enrolled, Pending):
        if enrolled.first:
            claims = enrolled.claims
            audit.record("boot_join_asked", http, station=enrolled.station,
                         boot_service=claims.boot_service, workshop=enrolled.workshop,
                         mac=claims.mac, ip_claimed=claims.ip, nonce=claims.nonce)
        return JSONResponse({"status": "pending", "station": enrolled.station}, 202)
    if enrolled.created:
        claims = enrolled.claims
        audit.record("station_enrolled_by_boot", http, station=enrolled.station,
                     key_id=enrolled.key_id, boot_service=claims.boot_service,
                     workshop=enrolled.workshop, mac=claims.mac, ip_claimed=claims.ip,
                     nonce=claims.nonce)
    return JSONResponse({"station": enrolled.station, "key_id": enrolled.key_id,
                         "workshop": enrolled.workshop}, 201 if enrolled.created else 200)


def _enroll_machine(store: Store, request: NetbootEnrollRequest,
                    ip_seen: str) -> Enrolled | Pending:
    try:
        raw_key = base64.b64decode(request.public_key, validate=True)
        key_id = dsse.key_id(Ed25519PublicKey.from_public_bytes(raw_key))
    except (ValueError, binascii.Error) as error:
        raise HTTPException(422, f"public_key is not a base64 Ed25519 key: {error}") from error
    try:
        claims = credential.read_claims(request.credential)
    except CredentialError as error:
        raise HTTPException(403, str(error)) from error
    problem = _claims_problem(claims)
    if problem is not None:
        raise HTTPException(403, problem)
    signer = store.signing_key(claims.key_id)
    if signer is None:
        raise HTTPException(403, UNKNOWN_BOOT_KEY)
    problem = boot_signer_problem(signer, claims.boot_service)
    if problem is not None:
        raise HTTPException(403, problem)
    try:
        credential.verify(request.credential,
                          Ed25519PublicKey.from_public_bytes(signer.public_key))
    except CredentialError as error:
        raise HTTPException(403, str(error)) from error
    problem = _machine_problem(claims, request)
    if problem is not None:
        raise HTTPException(403, problem)
    try:
        name, created = store.enroll_booted(claims, raw_key, key_id, ip_seen)
    except AwaitingApproval as waiting:
        return Pending(claims, waiting.station, store.workshop_name(signer.workshop_id),
                       waiting.first)
    except StoreForbidden as error:
        raise HTTPException(403, str(error)) from error
    except StoreError as error:
        raise HTTPException(409, str(error)) from error
    return Enrolled(claims, name, key_id, store.workshop_name(signer.workshop_id), created)


def _claims_problem(claims: BootClaims) -> str | None:
    """What the hub cannot keep of a (still unverified) credential's claims."""
    if not _NONCE.match(claims.nonce):
        return "the boot credential's nonce is not 32 hexadecimal digits"
    if not claims.station.strip():
        return "the boot credential names no station"
    for name, longest in _LONGEST.items():
        if len(getattr(claims, name)) > longest:
            return f"the boot credential's {name} is longer than {longest} characters"
    if any("\x00" in value for value in vars(claims).values()):
        return "the boot credential holds a NUL character"
    return None


def _machine_problem(claims: BootClaims, request: NetbootEnrollRequest) -> str | None:
    """Whether the machine that enrolls is the one the credential was given to: its network
    card among the machine's own, and the same firmware UUID when the boot service read one.

    The machine states its own addresses, so this catches a credential used on another
    machine (a kernel command line copied by mistake), not one taken by someone who copies
    the addresses too: against that, the credential's short life and single use."""
    macs = set()
    for text in request.macs:
        try:
            macs.add(credential.normal_mac(text))
        except ValueError:
            continue  # an interface that is not Ethernet (InfiniBand, a tunnel): not the one
    if credential.normal_mac(claims.mac) not in macs:
        return ("the boot credential was given to another machine: its network card "
                f"{claims.mac} is not among this machine's")
    if claims.uuid and claims.uuid.strip().lower() != request.uuid.strip().lower():
        return "the boot credential was given to another machine: its firmware UUID differs"
    return None

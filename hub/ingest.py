"""What arrives from stations: signed reports, key rotations and progress, checked in order.

Each check names its refusal (`Refused(status, message)`); nothing is written before the last
check passed, so a refused message leaves the database as it was.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.report import dsse
from agent.report.validation import validate_report
from hub.models import KEY_CURRENT, KEY_REVOKED
from hub.store import ReportColumns, SigningKey, Store, StoreError, sha256_hex

MAX_BODY_BYTES = 16 << 20
# A report is signed once, a key rotation twice (old and new key): more is refused before any
# key is looked up, so that a body of many made-up key ids costs nothing.
MAX_SIGNATURES = 2
# Deeper than any document the agent writes (a report nests about 8 levels): refused before
# anything walks it recursively (the schema check, the pages, the JSON answers).
MAX_DEPTH = 32
ROTATION_PAYLOAD_TYPE = "application/vnd.reeeboot.key-rotation+json"
PROGRESS_PAYLOAD_TYPE = "application/vnd.reeeboot.progress+json"
ROTATION_SCHEMA = "reeeboot.key-rotation/1"
PROGRESS_SCHEMA = "reeeboot.progress/1"
# "failed": a run that stopped on an error (its reason in the payload's "error", when given).
PROGRESS_STEPS = ("inventory", "erase", "install", "report", "done", "failed")
ERASED = ("erased", "erased_with_exceptions")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Envelope:
    document: dict[str, Any]
    payload_type: str
    payload: bytes
    signatures: list[tuple[str, bytes]]


def parse_envelope(body: bytes) -> Envelope:
    """The envelope's DSSE fields, and only those: anything else a sender adds is unsigned and
    is neither stored nor served."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Refused(400, f"body is not JSON: {error}") from error
    check_shape(document, 400)
    try:
        payload_type, payload, signatures = dsse.parse(document)
    except dsse.EnvelopeError as error:
        raise Refused(400, str(error)) from error
    if len(signatures) > MAX_SIGNATURES:
        raise Refused(400, f"at most {MAX_SIGNATURES} signatures per envelope")
    signed_only = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}
                       for keyid, signature in signatures],
    }
    return Envelope(signed_only, payload_type, payload, signatures)


def check_shape(value: Any, status: int) -> None:
    """Refuses a document nested deeper than MAX_DEPTH, or holding a NUL character in any text
    or key: PostgreSQL cannot store one, and SQLite would store text nobody can look up. Walks
    without recursion, so no depth can exhaust the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise Refused(status, "text must not contain NUL characters")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise Refused(status, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        else:
            pending.extend((child, depth + 1) for child in item)


def _verifies(key: bytes, envelope: Envelope, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            signature, dsse.pae(envelope.payload_type, envelope.payload))
    except (InvalidSignature, ValueError):
        return False
    return True


def find_signer(store: Store, envelope: Envelope, *, current_only: bool) -> SigningKey:
    """The station key that signed the envelope, refused when unknown, revoked or forged."""
    known = [(store.signing_key(keyid), signature) for keyid, signature in envelope.signatures
             if len(keyid) == 64]
    candidates = [(key, signature) for key, signature in known if key is not None]
    if not candidates:
        raise Refused(403, "signed by a key no station enrolled")
    for key, signature in candidates:
        if key.station_revoked or key.status == KEY_REVOKED:
            raise Refused(403, "station key revoked")
        if current_only and key.status != KEY_CURRENT:
            raise Refused(403, "this key was retired by a rotation; sign with the current key")
        if _verifies(key.public_key, envelope, signature):
            return key
    raise Refused(403, "no signature verifies against the station's key")


def _payload_json(envelope: Envelope, expected_type: str) -> Any:
    if envelope.payload_type != expected_type:
        raise Refused(422, f"payloadType must be {expected_type}")
    try:
        document = orjson.loads(envelope.payload)
    except orjson.JSONDecodeError as error:
        raise Refused(422, f"payload is not JSON: {error}") from error
    check_shape(document, 422)
    return document


def submit_report(store: Store, body: bytes,
                  public_url: str | None = None) -> tuple[int, dict[str, str]]:
    """The answer names the machine's public passport (`passport_url`) when the hub knows its
    public address: the station shows it as a QR code at the end of its run."""
    envelope = parse_envelope(body)
    signer = find_signer(store, envelope, current_only=False)
    report = _payload_json(envelope, dsse.REPORT_PAYLOAD_TYPE)
    problems = validate_report(report)
    if problems:
        raise Refused(422, "; ".join(problems))
    check_named_station(store, signer, report["station"], "report")
    canonical = dsse.canonical_json(envelope.document).decode()
    columns = report_columns(report)
    check_claimed_time(columns.created_at, datetime.datetime.now(datetime.UTC))
    status, public_token = store.add_report(signer, columns, canonical, sha256_hex(canonical),
                                            public_link=public_url is not None)
    if status == "conflict":
        raise Refused(409, "a different report with this id is already stored")
    answer = {"report_id": columns.report_id, "status": status}
    if public_token is not None:
        answer["passport_url"] = f"{public_url}/p/{public_token}"
    return 200 if status == "already stored" else 201, answer


def report_columns(report: dict[str, Any]) -> ReportColumns:
    machine = report.get("machine") or {}
    system = machine.get("system") or {}
    machine.get("identity") or {}
    erasure = [disk for disk in report.get("erasure") or [] if isinstance(disk, dict)]
    erased = sum(1 for disk in erasure if disk.get("result") in ERASED)
    outcome = report.get("outcome")  # {"value": "reuse"|"parts"|"recycle", "reason": ...}
    outcome_name = outcome.get("value") if isinstance(outcome, dict) else outcome
    outcome_text = str(outcome_name) if outcome_name is not None else None
    # Without an outcome (older reports), a machine whose every disk was erased counts as
    # going back into use.
    reused = outcome_text == "reuse" if outcome_text is not None else (
        bool(erasure) and erased == len(erasure))
    return ReportColumns(
        report_id=str(report["report_id"]),
        machine_id=machine_id_of(report),
        system_serial=_text(system.get("serial")),
        asset_id=_text(report.get("asset_id")),
        created_at=parse_time(report.get("created_at")),
        outcome=outcome_text[:40] if outcome_text else None,
        disks_total=len(erasure), disks_erased=erased, reused=reused,
        methods=" ".join(str(disk.get("method") or "?").replace(" ", "_")
                         for disk in erasure)[:400],
        vendor=_text(system.get("vendor")), product=_text(system.get("product")),
    )


def machine_id_of(report: dict[str, Any]) -> str:
    """The machine's identity id, when it tells units apart; otherwise one of the report's own.

    An identity made of vendor and product alone is shared by every unit of the model
    (`distinguishes_units` false): merging on it would make one passport of many computers.
    Older reports without an identity get an id from their serial, or from the report.
    """
    machine = report.get("machine") or {}
    identity = machine.get("identity") or {}
    if isinstance(identity, dict) and isinstance(identity.get("id"), str) \
            and identity.get("distinguishes_units") is not False:
        return identity["id"][:100]
    system = machine.get("system") or {}
    basis = "|".join(str(system.get(key) or "") for key in ("vendor", "product", "serial"))
    if not system.get("serial") or identity:
        basis += "|" + str(report.get("report_id"))
    return "hub-" + sha256_hex(basis)[:40]


def _text(value: Any) -> str | None:
    return str(value)[:200] if value not in (None, "") else None


def parse_time(value: Any) -> datetime.datetime | None:
    """A station's claimed time in UTC (an offset is converted, not dropped)."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.astimezone(datetime.UTC) if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)


# A claimed time outside these bounds is no clock's honest mistake. Before 1970 nothing ran
# reeeboot (a computer whose CMOS battery died says 1970, 1980 or 2000: accepted, as claims);
# more than two days ahead of the hub's own clock would put the report ahead of every report
# received after it.
EARLIEST_CLAIM = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
CLAIM_AHEAD = datetime.timedelta(days=2)


def check_claimed_time(claimed: datetime.datetime | None, now: datetime.datetime) -> None:
    if claimed is not None and not EARLIEST_CLAIM <= claimed <= now + CLAIM_AHEAD:
        raise Refused(422, f"created_at {claimed.isoformat()} is not a plausible time")


def rotate_key(store: Store, body: bytes) -> dict[str, str]:
    envelope = parse_envelope(body)
    if envelope.payload_type != ROTATION_PAYLOAD_TYPE:
        raise Refused(400, f"payloadType must be {ROTATION_PAYLOAD_TYPE}")
    try:
        rotation = orjson.loads(envelope.payload)
    except orjson.JSONDecodeError as error:
        raise Refused(400, f"payload is not JSON: {error}") from error
    check_shape(rotation, 400)
    if not isinstance(rotation, dict) or rotation.get("schema") != ROTATION_SCHEMA:
        raise Refused(400, f"payload must be a {ROTATION_SCHEMA} object")
    old_key_id, new_key_text = rotation.get("old_key_id"), rotation.get("new_public_key")
    if not isinstance(old_key_id, str) or not isinstance(new_key_text, str) \
            or not isinstance(rotation.get("station"), str):
        raise Refused(400, "station, old_key_id and new_public_key must be strings")
    try:
        new_key = base64.b64decode(new_key_text, validate=True)
        new_public = Ed25519PublicKey.from_public_bytes(new_key)
    except (ValueError, binascii.Error) as error:
        raise Refused(400, f"new_public_key is not a base64 Ed25519 key: {error}") from error
    new_key_id = dsse.key_id(new_public)
    old = store.signing_key(old_key_id)
    if old is None or old.station_name != rotation["station"]:
        raise Refused(403, "the old key is not this station's key")
    if old.station_revoked or old.status == KEY_REVOKED:
        raise Refused(403, "station key revoked")
    if old.status != KEY_CURRENT:
        raise Refused(403, "the old key is not the station's current key")
    signatures = dict(envelope.signatures)
    old_signature, new_signature = signatures.get(old_key_id), signatures.get(new_key_id)
    if old_signature is None or not _verifies(old.public_key, envelope, old_signature):
        raise Refused(403, "the rotation is not signed by the station's current key")
    if new_signature is None or not _verifies(new_key, envelope, new_signature):
        raise Refused(403, "the rotation is not signed by the new key")
    try:
        if not store.rotate(old.station_id, old_key_id, new_key, new_key_id):
            raise Refused(403, "the old key is not the station's current key")
    except LookupError as error:
        raise Refused(403, str(error)) from error
    except StoreError as error:  # the new key is already enrolled (this station's or another's)
        raise Refused(409, str(error)) from error
    return {"station": old.station_name, "key_id": new_key_id}


def check_named_station(store: Store, signer: SigningKey, named: dict[str, Any], what: str, *,
                        key_required: bool = True) -> None:
    """A document must name the station whose key signed it: anyone verifying the envelope
    would otherwise read that another station made it. A name the hub does not know is only the
    station's own label (reeeboot.toml) and stays allowed."""
    key_id = named.get("key_id")
    if key_id != signer.key_id and (key_required or key_id is not None):
        raise Refused(422, f"the {what} names another station key than its signature")
    name = named.get("name")
    if name is not None and name != signer.station_name \
            and store.station_by_name(str(name)) is not None:
        raise Refused(422, f"the {what} names another station than the one whose key signed it")


def record_progress(store: Store, body: bytes) -> dict[str, Any]:
    """Stores the station's progress and returns the hub's orders for it (the answer's
    "orders": `Store.orders_for`). What the machine says it did with an arming it was offered
    (the optional `"arming": {"id": <int>, "state": "countdown"|"stopped"|"started"}`) is
    recorded first, so that an arming the machine has answered is not offered again."""
    envelope = parse_envelope(body)
    signer = find_signer(store, envelope, current_only=True)
    progress = _payload_json(envelope, PROGRESS_PAYLOAD_TYPE)
    problems = progress_problems(progress)
    if problems:
        raise Refused(422, "; ".join(problems))
    named = progress.get("station")
    if isinstance(named, dict):
        check_named_station(store, signer, named, "progress", key_required=False)
    store.set_live_state(progress["machine_id"][:100], signer, progress["step"],
                         envelope.payload.decode())
    arming = progress.get("arming")
    if isinstance(arming, dict):
        arming_id, state = arming.get("id"), arming.get("state")
        # Lenient: a field this hub cannot read is ignored, the progress is still stored.
        if isinstance(arming_id, int) and not isinstance(arming_id, bool) \
                and isinstance(state, str):
            store.record_arming_state(signer, arming_id, state)
    return store.orders_for(signer)


def progress_problems(progress: Any) -> list[str]:
    if not isinstance(progress, dict):
        return ["progress must be a JSON object"]
    problems = []
    if progress.get("schema") != PROGRESS_SCHEMA:
        problems.append(f"unknown schema {progress.get('schema')!r}, expected {PROGRESS_SCHEMA!r}")
    if not isinstance(progress.get("machine_id"), str) or not progress["machine_id"]:
        problems.append("machine_id must be a non-empty string")
    if progress.get("step") not in PROGRESS_STEPS:
        problems.append(f"step must be one of {', '.join(PROGRESS_STEPS)}")
    disks = progress.get("disks", [])
    if not isinstance(disks, list) or not all(isinstance(disk, dict) for disk in disks):
        problems.append("disks must be a list of objects")
    return problems

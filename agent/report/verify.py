"""Checking a signed report file: envelope, signature, schema, and that the report names the key
that signed it. What `reeeboot report verify` runs; docs/report.md shows the same checks done
with standard tools."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.i18n import _
from agent.report import dsse
from agent.report.station import KEY_NAME, NEXT_KEY_NAME, RETIRED_PREFIX
from agent.report.validation import validate_report


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    key_id: str | None = None  # the key whose signature verified

    @property
    def valid(self) -> bool:
        return not self.problems and self.report is not None

    def to_json(self) -> dict[str, Any]:
        report = self.report or {}
        return {"valid": self.valid, "problems": self.problems, "key_id": self.key_id,
                "report_id": report.get("report_id")}


def station_public_keys(data_dir: Path) -> dict[str, Ed25519PublicKey]:
    """This station's keys by id: current, retired (still signing waiting reports), pending."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    keys: dict[str, Ed25519PublicKey] = {}
    paths = [data_dir / KEY_NAME, data_dir / NEXT_KEY_NAME,
             *sorted(data_dir.glob(f"{RETIRED_PREFIX}*"))]
    for path in paths:
        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError):
            continue
        if isinstance(private, Ed25519PrivateKey):
            public = private.public_key()
            keys[dsse.key_id(public)] = public
    return keys


def load_public_key(text_or_path: str) -> Ed25519PublicKey:
    """`--key`: a PEM or base64 key, given inline or as a file holding one."""
    candidate = Path(text_or_path)
    text = text_or_path
    if len(text_or_path) < 4096 and "\n" not in text_or_path and candidate.is_file():
        text = candidate.read_text()
    return dsse.public_key_from_text(text)


def verify_envelope(
    envelope: Any, *, key: Ed25519PublicKey | None = None,
    known_keys: dict[str, Ed25519PublicKey] | None = None,
) -> Verification:
    outcome = Verification()
    try:
        payload_type, _payload, signatures = dsse.parse(envelope)
    except dsse.EnvelopeError as error:
        outcome.problems.append(_("not a DSSE envelope: {error}").format(error=error))
        return outcome
    if payload_type != dsse.REPORT_PAYLOAD_TYPE:
        outcome.problems.append(_("payload type is {found}, not {expected}").format(
            found=payload_type, expected=dsse.REPORT_PAYLOAD_TYPE))
        return outcome
    if key is None:
        named = [keyid for keyid, _signature in signatures]
        matching = [(known_keys or {})[keyid] for keyid in named if keyid in (known_keys or {})]
        if not matching:
            outcome.problems.append(_(
                "signed by key {key_ids}, which is not one of this station's keys: give the "
                "signing station's public key with --key").format(key_ids=", ".join(named)))
            return outcome
        key = matching[0]
    try:
        payload = dsse.verify(envelope, key)
    except dsse.EnvelopeError:
        outcome.problems.append(_("the signature does not verify with key {key_id}").format(
            key_id=dsse.key_id(key)))
        return outcome
    outcome.key_id = dsse.key_id(key)
    try:
        report = json.loads(payload)
    except ValueError as error:
        outcome.problems.append(_("the signed payload is not JSON: {error}").format(error=error))
        return outcome
    outcome.report = report
    outcome.problems.extend(
        _("schema: {problem}").format(problem=problem) for problem in validate_report(report))
    named_key = report.get("station", {}).get("key_id") if isinstance(report, dict) else None
    if not outcome.problems and named_key != outcome.key_id:
        outcome.problems.append(_("the report names key {named}, but key {signer} signed it")
                                .format(named=named_key, signer=outcome.key_id))
    return outcome


def verify_file(
    path: Path, *, key: Ed25519PublicKey | None = None, data_dir: Path | None = None,
) -> Verification:
    try:
        envelope = json.loads(path.read_bytes())
    except OSError as error:
        return Verification([_("{path}: cannot be read ({error})").format(
            path=path, error=error.strerror or error)])
    except ValueError as error:
        return Verification([_("{path}: not JSON ({error})").format(path=path, error=error)])
    known = station_public_keys(data_dir) if data_dir is not None and key is None else {}
    return verify_envelope(envelope, key=key, known_keys=known)

"""DSSE envelopes (github.com/secure-systems-lab/dsse) signed with Ed25519.

The signature covers the pre-authentication encoding of payload type and payload, so neither
can be swapped without breaking it. Shared by the agent (signing) and the hub (verifying).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

REPORT_PAYLOAD_TYPE = "application/vnd.reeeboot.report+json"
PROGRESS_PAYLOAD_TYPE = "application/vnd.reeeboot.progress+json"
KEY_ROTATION_PAYLOAD_TYPE = "application/vnd.reeeboot.key-rotation+json"


class EnvelopeError(ValueError):
    """The envelope is malformed or its signature does not verify."""


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_key_bytes(key)).hexdigest()


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(payload: bytes, key: Ed25519PrivateKey, payload_type: str = REPORT_PAYLOAD_TYPE) -> dict:
    return sign_with_all(payload, [key], payload_type)


def sign_with_all(payload: bytes, keys: list[Ed25519PrivateKey], payload_type: str) -> dict:
    """One envelope, one signature per key (a key rotation is signed by the old and new key)."""
    message = pae(payload_type, payload)
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(key.sign(message)).decode()}
            for key in keys
        ],
    }


def signer_key_ids(envelope: Any) -> list[str]:
    """The key ids an envelope names (not verified): to find which key to verify against."""
    try:
        return [keyid for keyid, _signature in parse(envelope)[2]]
    except EnvelopeError:
        return []


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """A public key given as PEM (SubjectPublicKeyInfo) or as base64 of the raw 32 bytes."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = load_pem_public_key(stripped.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
    except (ValueError, TypeError) as error:
        raise EnvelopeError(f"not an Ed25519 public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise EnvelopeError("not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def parse(envelope: Any) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    """(payload type, payload, [(keyid, signature)]) or EnvelopeError."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("envelope must be a JSON object")
    payload_type, payload, signatures = (
        envelope.get("payloadType"), envelope.get("payload"), envelope.get("signatures"),
    )
    if not isinstance(payload_type, str) or not isinstance(payload, str):
        raise EnvelopeError("payloadType and payload must be strings")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("signatures must be a non-empty list")
    try:
        body = base64.b64decode(payload, validate=True)
        parsed = [
            (str(entry.get("keyid", "")), base64.b64decode(entry["sig"], validate=True))
            for entry in signatures
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise EnvelopeError(f"bad base64 or signature entry: {error}") from error
    return payload_type, body, parsed


def verify(envelope: Any, key: Ed25519PublicKey) -> bytes:
    """The payload when one signature verifies against `key`; EnvelopeError otherwise."""
    payload_type, payload, signatures = parse(envelope)
    message = pae(payload_type, payload)
    for _keyid, signature in signatures:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return payload
    raise EnvelopeError("no signature verifies against the station's key")

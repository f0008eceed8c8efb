"""Boot credentials: what the boot service gives each machine it boots, to enroll once.

A boot credential is a short statement signed by the boot service's own station key: this
machine (its network card's MAC address, its firmware UUID, the address it asked from) was
booted by me at this time, may enroll as this station until then, once (its nonce). The hub
checks the signature against the boot service's current key (docs/netboot.md, "Enrollment"),
so a device on the LAN that was not booted by the service has none, and revoking the boot
service's station revokes every credential it gave.

It travels on the kernel command line (at most 2048 bytes on x86), so it is compact:
`<payload>.<signature>`, both base64url without padding; the payload is the canonical JSON of the
claims and the signature covers DSSE's pre-authentication encoding of the payload type and the
payload, as the reports' envelopes do (agent/report/dsse.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent.report import dsse

BOOT_CREDENTIAL_PAYLOAD_TYPE = "application/vnd.reeeboot.boot-credential+json"
SCHEMA = "reeeboot/boot-credential/1"
# Long enough for a slow machine to load the system over a busy LAN and reach its screen; short
# enough that one copied off the wire is soon worth nothing.
LIFETIME = datetime.timedelta(minutes=30)
MAX_TOKEN_CHARS = 1024
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class CredentialError(ValueError):
    """Malformed, badly signed or expired: the text says which, in English, for the hub's log."""


@dataclass(frozen=True)
class BootClaims:
    boot_service: str  # the boot service's station name
    key_id: str  # the boot service key that signs
    station: str  # the station name the machine enrolls as
    mac: str  # lower case, colons
    uuid: str  # the firmware's system UUID as iPXE read it, lower case; "" when it gave none
    ip: str  # the address the machine asked for its boot script from
    issued_at: str  # ISO 8601, UTC
    expires_at: str
    nonce: str  # 32 hex digits: the credential's own name, used once
    schema: str = SCHEMA

    def expired(self, now: datetime.datetime | None = None) -> bool:
        now = now or datetime.datetime.now(datetime.UTC)
        return datetime.datetime.fromisoformat(self.expires_at) <= now


def normal_mac(text: str) -> str:
    """"52-54-00-AB-CD-EF" or "52:54:00:ab:cd:ef" as "52:54:00:ab:cd:ef"; ValueError otherwise."""
    mac = text.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        raise ValueError(f"not a MAC address: {text[:40]!r}")
    return mac


def new_claims(*, boot_service: str, key_id: str, station: str, mac: str, uuid: str, ip: str,
               now: datetime.datetime | None = None,
               lifetime: datetime.timedelta = LIFETIME) -> BootClaims:
    now = now or datetime.datetime.now(datetime.UTC)
    return BootClaims(boot_service=boot_service, key_id=key_id, station=station,
                      mac=normal_mac(mac), uuid=uuid.strip().lower(), ip=ip,
                      issued_at=now.isoformat(timespec="seconds"),
                      expires_at=(now + lifetime).isoformat(timespec="seconds"),
                      nonce=secrets.token_hex(16))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(claims: BootClaims, key: Ed25519PrivateKey) -> str:
    payload = dsse.canonical_json(asdict(claims))
    signature = key.sign(dsse.pae(BOOT_CREDENTIAL_PAYLOAD_TYPE, payload))
    return f"{_b64(payload)}.{_b64(signature)}"


def read_claims(token: str) -> BootClaims:
    """The claims, unverified: for the machine itself (its station name) and to find the key."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise CredentialError("not a boot credential")
    payload_text = token.split(".", 1)[0]
    try:
        document: Any = json.loads(_unb64(payload_text))
    except (ValueError, binascii.Error) as error:
        raise CredentialError(f"unreadable boot credential: {error}") from error
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise CredentialError("not a boot credential of this version")
    fields = set(BootClaims.__dataclass_fields__)
    if set(document) != fields or not all(isinstance(value, str) for value in document.values()):
        raise CredentialError("boot credential with missing, extra or non-text claims")
    claims = BootClaims(**document)
    try:
        normal_mac(claims.mac)
        stamps = (datetime.datetime.fromisoformat(claims.expires_at),
                  datetime.datetime.fromisoformat(claims.issued_at))
    except ValueError as error:
        raise CredentialError(f"boot credential with a bad claim: {error}") from error
    if any(stamp.tzinfo is None for stamp in stamps):
        # A time without its zone cannot be compared with the hub's clock (`expired` would
        # raise TypeError): refused as malformed, not answered with a server error.
        raise CredentialError("boot credential with a time that has no time zone")
    return claims


def verify(token: str, key: Ed25519PublicKey, now: datetime.datetime | None = None) -> BootClaims:
    """The claims, once the signature checks against `key` and the credential is not expired.

    Whether the key is the boot service's current one, and whether the nonce was used, is the
    caller's to check (hub/api/netboot.py)."""
    claims = read_claims(token)
    payload_text, signature_text = token.split(".", 1)
    try:
        key.verify(_unb64(signature_text),
                   dsse.pae(BOOT_CREDENTIAL_PAYLOAD_TYPE, _unb64(payload_text)))
    except (InvalidSignature, ValueError, binascii.Error) as error:
        raise CredentialError("the boot credential's signature does not verify") from error
    if claims.key_id != dsse.key_id(key):
        raise CredentialError("the boot credential names another key")
    if claims.expired(now):
        raise CredentialError("the boot credential has expired")
    return claims

"""Talking to the regional hub: enrollment with a one-time token, signed report uploads, and the
station key's rotation (contracts.md)."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.fsutil import write_durably
from agent.i18n import _
from agent.report import dsse
from agent.report.dsse import key_id, public_key_bytes

ENROLLED_MARK = "enrolled"
TIMEOUT = 15
ROTATION_SCHEMA = "reeeboot.key-rotation/1"


class HubError(Exception):
    pass


class StationRevoked(HubError):
    """The hub refuses every key of this station: only a new enrollment token helps."""

    def __init__(self, detail: str) -> None:
        super().__init__(_(
            "The platform has revoked this station's key ({detail}). Ask the platform's "
            "administrator for a new enrollment token and put it in reeeboot.toml "
            "([hub] enrollment_token). The reports stay in the outbox meanwhile.").format(
            detail=detail))


def _refusal(response: requests.Response, what: str) -> HubError:
    detail = response.text[:300]
    if response.status_code == 403 and "revoked" in detail:
        return StationRevoked(detail)
    return HubError(f"{what} refused ({response.status_code}): {detail}")


class HubClient:
    def __init__(self, url: str, data_dir: Path, key: Ed25519PrivateKey) -> None:
        self.url = url.rstrip("/")
        self.data_dir = data_dir
        self.key = key

    def _is_enrolled(self) -> bool:
        mark = self.data_dir / ENROLLED_MARK
        return mark.exists() and mark.read_text().strip() == self._mark_text(self.key)

    def _mark_text(self, key: Ed25519PrivateKey) -> str:
        return f"{self.url} {key_id(key.public_key())}"

    def remember_enrolled(self, key: Ed25519PrivateKey) -> None:
        write_durably(self.data_dir / ENROLLED_MARK, f"{self._mark_text(key)}\n".encode())

    def enroll(self, station_name: str, token: str) -> None:
        """Present the token and our public key once; remembered on the data partition."""
        if self._is_enrolled():
            return
        if not token:
            raise HubError("no enrollment token in reeeboot.toml ([hub] enrollment_token)")
        public_key = base64.b64encode(public_key_bytes(self.key.public_key())).decode()
        response = requests.post(
            f"{self.url}/api/v1/stations/enroll",
            json={"token": token, "name": station_name, "public_key": public_key},
            timeout=TIMEOUT,
        )
        if response.status_code not in (200, 201):
            raise HubError(f"enrollment refused ({response.status_code}): {response.text[:300]}")
        self.remember_enrolled(self.key)

    def upload(self, envelope: dict) -> dict[str, Any]:
        """Send a signed report; the hub's answer (its `passport_url`, when it has one)."""
        response = requests.post(f"{self.url}/api/v1/reports", json=envelope, timeout=TIMEOUT)
        if response.status_code not in (200, 201):
            raise _refusal(response, "report")
        try:
            answer = response.json()
        except ValueError:
            return {}  # stored all the same: the status says so
        return answer if isinstance(answer, dict) else {}

    def rotate(self, station_name: str, new_key: Ed25519PrivateKey) -> str:
        """Ask the hub to replace our key by `new_key`; its new key id when the hub agrees.

        The message is signed by both keys: the current one proves who asks, the new one
        proves the station holds it.
        """
        payload = {
            "schema": ROTATION_SCHEMA,
            "station": station_name,
            "old_key_id": key_id(self.key.public_key()),
            "new_public_key": base64.b64encode(public_key_bytes(new_key.public_key())).decode(),
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        envelope = dsse.sign_with_all(dsse.canonical_json(payload), [self.key, new_key],
                                      dsse.KEY_ROTATION_PAYLOAD_TYPE)
        response = requests.post(f"{self.url}/api/v1/stations/rotate", json=envelope,
                                 timeout=TIMEOUT)
        if response.status_code != 200:
            raise _refusal(response, "key rotation")
        return str(response.json().get("key_id", key_id(new_key.public_key())))

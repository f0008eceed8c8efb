"""Talking to the regional hub: enrollment with a one-time token, then signed report uploads."""

from __future__ import annotations

import base64
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.fsutil import write_durably
from agent.report.dsse import key_id, public_key_bytes

ENROLLED_MARK = "enrolled"
TIMEOUT = 15


class HubError(Exception):
    pass


class HubClient:
    def __init__(self, url: str, data_dir: Path, key: Ed25519PrivateKey) -> None:
        self.url = url.rstrip("/")
        self.data_dir = data_dir
        self.key = key

    def _is_enrolled(self) -> bool:
        mark = self.data_dir / ENROLLED_MARK
        expected = f"{self.url} {key_id(self.key.public_key())}"
        return mark.exists() and mark.read_text().strip() == expected

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
        write_durably(
            self.data_dir / ENROLLED_MARK,
            f"{self.url} {key_id(self.key.public_key())}\n".encode(),
        )

    def upload(self, envelope: dict) -> None:
        response = requests.post(f"{self.url}/api/v1/reports", json=envelope, timeout=TIMEOUT)
        if response.status_code not in (200, 201):
            raise HubError(f"report refused ({response.status_code}): {response.text[:300]}")

"""The hub's storage: SQLite through the standard library (one connection per request)."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_sha256 TEXT NOT NULL UNIQUE,
    public_key BLOB,
    key_id TEXT UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    enrolled_at TEXT
);
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    station_id INTEGER NOT NULL REFERENCES stations(id),
    envelope_sha256 TEXT NOT NULL,
    envelope TEXT NOT NULL,
    payload TEXT NOT NULL,
    system_serial TEXT,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""


@dataclass(frozen=True)
class StationRow:
    id: int
    name: str
    public_key: bytes | None
    key_id: str | None


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self.connect() as connection:
            connection.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            yield connection
        finally:
            connection.close()

    def add_station(self, name: str) -> str:
        """Create a station and return its one-time enrollment token (only its hash is kept)."""
        token = secrets.token_urlsafe(24)
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO stations (name, token_sha256) VALUES (?, ?)", (name, sha256_hex(token))
            )
        return token

    def station_by_token(self, token: str) -> StationRow | None:
        return self._station("token_sha256 = ?", sha256_hex(token))

    def station_by_key_id(self, key_id: str) -> StationRow | None:
        return self._station("key_id = ?", key_id)

    def _station(self, where: str, value: str) -> StationRow | None:
        with self.connect() as connection:
            row = connection.execute(
                f"SELECT id, name, public_key, key_id FROM stations WHERE {where}", (value,)
            ).fetchone()
        return StationRow(*row) if row else None

    def enroll(self, station_id: int, public_key: bytes, key_id: str) -> bool:
        """Bind the key to the station, once; False when it already has a key."""
        with self.connect() as connection:
            cursor = connection.execute(
                "UPDATE stations SET public_key = ?, key_id = ?, "
                "enrolled_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                "WHERE id = ? AND public_key IS NULL",
                (public_key, key_id, station_id),
            )
            return cursor.rowcount == 1

    def stored_envelope_sha256(self, report_id: str) -> str | None:
        with self.connect() as connection:
            row = connection.execute(
                "SELECT envelope_sha256 FROM reports WHERE report_id = ?", (report_id,)
            ).fetchone()
        return row[0] if row else None

    def add_report(
        self, report_id: str, station_id: int, envelope: str, payload: str, serial: str | None
    ) -> bool:
        """Store a verified report; False if that id was already stored (nothing changes)."""
        with self.connect() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO reports "
                "(report_id, station_id, envelope_sha256, envelope, payload, system_serial) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (report_id, station_id, sha256_hex(envelope), envelope, payload, serial),
            )
            return cursor.rowcount == 1

    def reports(self) -> list[dict[str, object]]:
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT r.report_id, s.name, r.system_serial, r.received_at, r.payload "
                "FROM reports r JOIN stations s ON s.id = r.station_id "
                "ORDER BY r.received_at DESC, r.report_id"
            ).fetchall()
        keys = ("report_id", "station", "system_serial", "received_at", "payload")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def report(self, report_id: str) -> dict[str, object] | None:
        with self.connect() as connection:
            row = connection.execute(
                "SELECT r.report_id, s.name, r.received_at, r.envelope, r.payload "
                "FROM reports r JOIN stations s ON s.id = r.station_id WHERE r.report_id = ?",
                (report_id,),
            ).fetchone()
        if row is None:
            return None
        keys = ("report_id", "station", "received_at", "envelope", "payload")
        return dict(zip(keys, row, strict=True))

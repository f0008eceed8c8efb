"""Where the hub keeps its data: an SQLAlchemy engine for SQLite (default) or PostgreSQL.

A plain file path means SQLite; a URL picks the database (`sqlite:///hub.sqlite3`,
`postgresql+psycopg://user:password@host/db`; `postgresql://` is read as psycopg 3).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(value: str | Path) -> str:
    text = str(value)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(value: str | Path, pool_size: int = 10) -> Engine:
    url = database_url(value)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=pool_size, max_overflow=20)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it would cost a round trip per request; a connection PostgreSQL dropped is
    # noticed on use, and the pool then replaces all of them.
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_recycle=3600)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets readers go on while a report is written; NORMAL sync is durable at each
    # checkpoint and survives a crash of the process (the WAL is on disk), which is what
    # a hub that acknowledges reports needs.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Requests never checkpoint the WAL themselves (a checkpoint's fsync made one request in
    # a hundred wait tens of milliseconds): a thread of the process does it each second.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class Checkpointer:
    """Copies the SQLite WAL into the database file in the background, once a second."""

    def __init__(self, url: str, interval: float = 1.0) -> None:
        self._path = url.split("///", 1)[1]
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                connection = sqlite3.connect(self._path, timeout=5)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except sqlite3.Error:
                continue  # busy or gone for a moment: the next round does it

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(value: str | Path) -> None:
    """Bring the database's tables to the newest migration (creating them the first time)."""
    url = database_url(value)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()

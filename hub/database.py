"""Where the hub keeps its data: an SQLAlchemy engine for SQLite (default) or PostgreSQL.

A plain file path means SQLite; a URL picks the database (`sqlite:///hub.sqlite3`,
`postgresql+psycopg://user:password@host/db`; `postgresql://` is read as psycopg 3).
"""

from __future__ import annotations

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
    cursor.close()


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

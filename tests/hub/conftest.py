"""The hub's test fixtures: each test gets its own empty database, SQLite or PostgreSQL.

REEEBOOT_HUB_TEST_DATABASES picks which (comma-separated: "sqlite", "postgresql"; default
sqlite). PostgreSQL is reached at REEEBOOT_HUB_TEST_POSTGRES (tests/hub-services starts one);
when it is asked for and cannot be reached, the tests fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.store import Store
from tests.hub.helpers import Hub

POSTGRES_URL = os.environ.get(
    "REEEBOOT_HUB_TEST_POSTGRES", "postgresql+psycopg://reeeboot:reeeboot@127.0.0.1/reeeboot")
DATABASES = [name.strip() for name in
             os.environ.get("REEEBOOT_HUB_TEST_DATABASES", "sqlite").split(",") if name.strip()]


def postgres_schema_url(schema: str) -> str:
    """The PostgreSQL URL with its own schema first on the search path: a database per test."""
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    if request.param != "postgresql":
        pytest.fail(f"unknown test database {request.param!r}")
    import psycopg

    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"t_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL was asked for but is not reachable at {plain}: {error} "
                    "(tests/hub-services starts it)")
    yield postgres_schema_url(schema)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as test_client:
        yield test_client


@pytest.fixture
def hub(store: Store, client: TestClient) -> Hub:
    return Hub(store, client)

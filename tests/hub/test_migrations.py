"""The shipped migrations build exactly the tables the code's models describe."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.database import alembic_config, make_engine
from hub.database import database_url as url_of
from hub.models import Base
from hub.store import Store


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
        assert differences == []
        assert context.get_current_revision() == "0008"


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    from hub.database import migrate

    migrate(database_url)
    migrate(database_url)
    store = Store(database_url)
    try:
        assert store.report_count() == 0
    finally:
        store.close()


@contextmanager
def migrating(database_url: str) -> Iterator[tuple[sa.Engine, Callable[..., None]]]:
    """An engine on the test database and `to(revision, down=False)`, which migrates it there."""
    engine = make_engine(url_of(database_url), pool_size=1)

    def to(revision: str, *, down: bool = False) -> None:
        with engine.begin() as connection:
            config = alembic_config(url_of(database_url))
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    try:
        yield engine, to
    finally:
        engine.dispose()


def test_machines_keep_their_workshop_through_migration_0003_and_back(database_url: str) -> None:
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    with migrating(database_url) as (engine, to):
        to("0002")
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO workshops (id, name, created_at) "
                                       "VALUES (7, 'Lyon', :now)"), {"now": now})
            connection.execute(sa.text(
                "INSERT INTO machines (machine_id, workshop_id, latest_report_id, updated_at) "
                "VALUES ('rb1-a', 7, 'r1', :now), ('rb1-b', NULL, 'r2', :now)"), {"now": now})
        to("0003")
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT workshop_key, machine_id, workshop_id, latest_report_id FROM machines "
                "ORDER BY machine_id")).all()
        assert [tuple(row) for row in rows] == [(7, "rb1-a", 7, "r1"), (0, "rb1-b", None, "r2")]
        to("0002", down=True)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM machines")).scalar() == 2


@pytest.mark.parametrize(("revision", "tables"), [
    ("0005", {"public_passports"}),
    ("0006", {"lots", "lot_members"}),
    ("0007", {"boot_enrollments"}),
    ("0008", {"armings", "armed_machines", "boot_join_requests"}),
])
def test_a_migration_adding_tables_goes_down_and_up_again(database_url: str, revision: str,
                                                          tables: set[str]) -> None:
    Store(database_url).close()
    with migrating(database_url) as (engine, to):
        to(f"{int(revision) - 1:04d}", down=True)
        assert not tables & set(sa.inspect(engine).get_table_names())
        to(revision)
        assert tables <= set(sa.inspect(engine).get_table_names())


def test_stations_from_before_migration_0007_are_sticks_and_stay_through_it_and_back(
        database_url: str) -> None:
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    with migrating(database_url) as (engine, to):
        to("0006")
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO stations (id, name, token_used, created_at) "
                "VALUES (3, 'lyon-3', :used, :now)"), {"used": True, "now": now})
            connection.execute(sa.text(
                "INSERT INTO station_keys (station_id, key_id, public_key, status, created_at) "
                "VALUES (3, :key_id, :key, 'current', :now)"),
                {"key_id": "ab" * 32, "key": b"k" * 32, "now": now})
        to("0007")
        with engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT name, kind FROM stations")).all() == [("lyon-3", "station")]
        to("0006", down=True)
        with engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT count(*) FROM station_keys WHERE station_id = 3")).scalar() == 1
            assert "kind" not in {column["name"] for column in
                                  sa.inspect(connection).get_columns("stations")}


def test_stations_get_power_off_at_end_false_through_migration_0008_and_back(
        database_url: str) -> None:
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    with migrating(database_url) as (engine, to):
        to("0007")
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO stations (id, name, token_used, created_at, kind) "
                "VALUES (4, 'boot-lyon-525400123456', :used, :now, 'netbooted')"),
                {"used": True, "now": now})
        to("0008")
        with engine.connect() as connection:
            assert [tuple(row) for row in connection.execute(sa.text(
                "SELECT name, kind, power_off_at_end FROM stations")).all()] == [
                ("boot-lyon-525400123456", "netbooted", False)]
        to("0007", down=True)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM stations")).scalar() == 1
            assert "power_off_at_end" not in {column["name"] for column in
                                              sa.inspect(connection).get_columns("stations")}


def test_boot_services_enroll_automatically_through_migration_0008_and_back(
        database_url: str) -> None:
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    with migrating(database_url) as (engine, to):
        to("0007")
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO workshops (id, name, created_at) "
                                       "VALUES (7, 'Lyon', :now)"), {"now": now})
            connection.execute(sa.text(
                "INSERT INTO stations (id, name, workshop_id, token_used, created_at, kind) "
                "VALUES (5, 'boot-lyon', 7, :used, :now, 'boot_service')"),
                {"used": True, "now": now})
        to("0008")
        with engine.connect() as connection:
            assert [tuple(row) for row in connection.execute(sa.text(
                "SELECT name, enrollment FROM stations")).all()] == [("boot-lyon", "automatic")]
        to("0007", down=True)
        with engine.connect() as connection:
            assert "enrollment" not in {column["name"] for column in
                                        sa.inspect(connection).get_columns("stations")}

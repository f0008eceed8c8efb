"""The shipped migrations build exactly the tables the code's models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.models import Base
from hub.store import Store


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
        assert differences == []
        assert context.get_current_revision() == "0002"


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    from hub.database import migrate

    migrate(database_url)
    migrate(database_url)
    store = Store(database_url)
    try:
        assert store.report_count() == 0
    finally:
        store.close()

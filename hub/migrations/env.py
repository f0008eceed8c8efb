"""Alembic's entry point for the hub's migrations (run by `reeeboot-hub migrate`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=Base.metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()

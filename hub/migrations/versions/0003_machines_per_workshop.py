"""Machines and live states per workshop: one station can no longer take another workshop's

Revision ID: 0003
Revises: 0002

A machine was one row per identity id, whichever workshop's station reported it last: a station
of workshop A naming B's machine moved it to A, and B's passport vanished. Now the key is the
workshop and the identity id (`workshop_key`: the workshop's id, 0 for stations without one), so
a PC that passes through two workshops has a history in each, and neither can hide the other's.
The same for live states. Existing rows keep their workshop.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MACHINE_COLUMNS = ("machine_id", "workshop_id", "asset_id", "system_serial", "vendor", "product",
                   "latest_report_id", "latest_created_at", "updated_at")
LIVE_COLUMNS = ("machine_id", "workshop_id", "station_id", "step", "payload", "updated_at")


def _machines(name: str, *, keyed_by_workshop: bool) -> None:
    _create(name, keyed_by_workshop, [
        sa.Column("asset_id", sa.String(length=200), nullable=True),
        sa.Column("system_serial", sa.String(length=200), nullable=True),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("latest_report_id", sa.String(length=36), nullable=False),
        sa.Column("latest_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ])


def _live_states(name: str, *, keyed_by_workshop: bool) -> None:
    _create(name, keyed_by_workshop, [
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
    ])


def _create(name: str, keyed_by_workshop: bool, own: list[sa.schema.SchemaItem]) -> None:
    """Both tables: a machine id and its workshop, keyed by the two (0003) or by the machine
    alone (0002), then the table's own columns."""
    key = ("workshop_key", "machine_id") if keyed_by_workshop else ("machine_id",)
    op.create_table(
        name,
        *([sa.Column("workshop_key", sa.Integer(), nullable=False)] if keyed_by_workshop
          else []),
        sa.Column("machine_id", sa.String(length=100), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=True),
        *own,
        sa.ForeignKeyConstraint(["workshop_id"], ["workshops.id"]),
        sa.PrimaryKeyConstraint(*key),
    )


def _rebuild(table: str, make: Callable[..., None], columns: tuple[str, ...], *,
             keyed: bool) -> None:
    """A new table beside the old one, the rows copied, the old one dropped, the new renamed:
    the same steps on SQLite (which cannot change a primary key in place) and PostgreSQL."""
    new = f"{table}_rebuilt"
    make(new, keyed_by_workshop=keyed)
    listed = ", ".join(columns)
    if keyed:
        op.execute(f"INSERT INTO {new} (workshop_key, {listed}) "
                   f"SELECT COALESCE(workshop_id, 0), {listed} FROM {table}")
    else:  # back to one row per identity: the most recently updated one stays
        op.execute(f"INSERT INTO {new} ({listed}) SELECT {listed} FROM {table} AS row "
                   f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS other "
                   f"WHERE other.machine_id = row.machine_id "
                   f"AND other.updated_at > row.updated_at)")
    with op.batch_alter_table(table) as batch:
        batch.drop_index(f"ix_{table}_workshop_id")
    op.drop_table(table)
    op.rename_table(new, table)
    with op.batch_alter_table(table) as batch:
        batch.create_index(f"ix_{table}_workshop_id", ["workshop_id"])


def upgrade() -> None:
    _rebuild("machines", _machines, MACHINE_COLUMNS, keyed=True)
    _rebuild("live_states", _live_states, LIVE_COLUMNS, keyed=True)


def downgrade() -> None:
    _rebuild("machines", _machines, MACHINE_COLUMNS, keyed=False)
    _rebuild("live_states", _live_states, LIVE_COLUMNS, keyed=False)

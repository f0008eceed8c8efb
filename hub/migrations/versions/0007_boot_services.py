"""Boot services and network-booted stations

Revision ID: 0007
Revises: 0006

A workshop's boot service (hub/netboot/) starts machines over the network and gives each one a
boot credential, signed with the service's own station key, with which the machine enrolls as a
station of the workshop. Stations now have a kind ("station" for a stick, as every existing one
is, "boot_service", "netbooted"), and each credential used is recorded once: the unique index on
its nonce refuses a second use, even by two requests at the same moment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False,
                                   server_default="station"))
    op.create_table(
        "boot_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("boot_service_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("ip_seen", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["boot_service_id"], ["stations.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index("ix_boot_enrollments_boot_service_id", "boot_enrollments",
                    ["boot_service_id"])
    op.create_index("ix_boot_enrollments_station_id", "boot_enrollments", ["station_id"])


def downgrade() -> None:
    op.drop_index("ix_boot_enrollments_station_id", table_name="boot_enrollments")
    op.drop_index("ix_boot_enrollments_boot_service_id", table_name="boot_enrollments")
    op.drop_table("boot_enrollments")
    # ALTER TABLE ... DROP COLUMN, which SQLite has since 3.35: a batch operation would copy
    # the stations table and drop the old one, which the keys and reports that refer to it
    # forbid while foreign keys are enforced (and a transaction cannot stop enforcing them).
    op.drop_column("stations", "kind")

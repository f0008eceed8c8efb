"""Arming unattended erasure for network-booted machines, and powering off at the end

Revision ID: 0008
Revises: 0007

A network-booted machine is attended: it erases nothing without a person at its screen. A
workshop may arm a batch for unattended erasure on the hub, for a while: listed machines, by the
MAC address of the network card they boot from, or the next N machines that start ("armings",
one row per machine in "armed_machines", unique per arming and MAC address). Stations get
`power_off_at_end`, which the live board sets and the answer to a station's progress carries.

A boot service gets `enrollment`: "automatic" (as before) or "approval", where each machine it
boots waits for a person of the workshop to accept it on the live board ("boot_join_requests",
one row per credential presented, unique per nonce).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("power_off_at_end", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("enrollment", sa.String(length=16), nullable=False,
                                   server_default="automatic"))
    op.create_table(
        "armings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_count", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshops.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_armings_workshop_id", "armings", ["workshop_id"])
    op.create_table(
        "armed_machines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arming_id", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["arming_id"], ["armings.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arming_id", "mac"),
    )
    op.create_index("ix_armed_machines_arming_id", "armed_machines", ["arming_id"])
    op.create_index("ix_armed_machines_mac", "armed_machines", ["mac"])
    op.create_table(
        "boot_join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("boot_service_id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("ip_seen", sa.String(length=64), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["boot_service_id"], ["stations.id"]),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshops.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index("ix_boot_join_requests_boot_service_id", "boot_join_requests",
                    ["boot_service_id"])
    op.create_index("ix_boot_join_requests_workshop_id", "boot_join_requests",
                    ["workshop_id"])


def downgrade() -> None:
    op.drop_index("ix_boot_join_requests_workshop_id", table_name="boot_join_requests")
    op.drop_index("ix_boot_join_requests_boot_service_id", table_name="boot_join_requests")
    op.drop_table("boot_join_requests")
    op.drop_index("ix_armed_machines_mac", table_name="armed_machines")
    op.drop_index("ix_armed_machines_arming_id", table_name="armed_machines")
    op.drop_table("armed_machines")
    op.drop_index("ix_armings_workshop_id", table_name="armings")
    op.drop_table("armings")
    # As 0007: ALTER TABLE ... DROP COLUMN, not a batch copy of the stations table.
    op.drop_column("stations", "enrollment")
    op.drop_column("stations", "power_off_at_end")

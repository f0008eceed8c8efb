"""Donors' lots: the machines a donor gave, for the donor's erasure certificate

Revision ID: 0006
Revises: 0005

A company or a family that gives ten PCs needs one certificate for all of them. A lot names
the donor and lists the machines as the workshop received them (their asset ids; the identity
id of each one already reported), per workshop.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("donor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["workshop_id"], ["workshops.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lots_workshop_id", "lots", ["workshop_id"])
    op.create_table(
        "lot_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("machine_id", sa.String(length=100), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lot_members_lot_id", "lot_members", ["lot_id"])


def downgrade() -> None:
    op.drop_index("ix_lot_members_lot_id", table_name="lot_members")
    op.drop_table("lot_members")
    op.drop_index("ix_lots_workshop_id", table_name="lots")
    op.drop_table("lots")

"""Public passports: a revocable link per workshop machine for its new owner

Revision ID: 0005
Revises: 0004

The passport's QR code led to the sign-in form: a new owner could not read it. Each workshop
machine now has an unguessable public link (`/p/<token>`) that shows what a new owner may see,
and that the workshop can withdraw (a new one replaces it). At most one link per workshop
machine is live: a unique index on the rows not withdrawn.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LIVE = sa.text("revoked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "public_passports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workshop_key", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ux_public_passports_live", "public_passports",
                    ["workshop_key", "machine_id"], unique=True, sqlite_where=LIVE,
                    postgresql_where=LIVE)


def downgrade() -> None:
    op.drop_index("ux_public_passports_live", table_name="public_passports")
    op.drop_table("public_passports")

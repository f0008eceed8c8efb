"""Enrollment tokens expire

Revision ID: 0004
Revises: 0003

A one-time token lying in an e-mail or on a sticky note enrolled a key whenever it was used, even
months later. Now each token has an end (`token_expires_at`); tokens issued before this
migration have none and keep working until used or replaced.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("token_expires_at", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("token_expires_at")

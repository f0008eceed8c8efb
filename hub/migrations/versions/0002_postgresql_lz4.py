"""PostgreSQL: reports' envelopes compressed with lz4 instead of pglz

Revision ID: 0002
Revises: 0001

Each report's envelope is tens of kilobytes of text; PostgreSQL's default compression (pglz) spent
more time per report than the rest of the insert. lz4 is several times faster. SQLite has no
such setting.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bool(bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
        "WHERE name = 'default_toast_compression'").scalar())


def upgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE reports ALTER COLUMN envelope SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():
        op.execute("ALTER TABLE reports ALTER COLUMN envelope SET COMPRESSION pglz")

"""CDS Hooks JWT replay protection shared by every worker process: the seen ``jti`` values.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_jwt",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_seen_jwt"),
    )
    op.create_index("ix_seen_jwt_expires_at", "seen_jwt", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_jwt_expires_at", table_name="seen_jwt")
    op.drop_table("seen_jwt")

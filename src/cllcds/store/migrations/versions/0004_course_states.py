"""Stored course states: each course's state for one version and date, with its summary.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: every course's state is computed on its next read and kept from then on.
    op.create_table(
        "course_states",
        sa.Column("course_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.String(32), nullable=False),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name="fk_course_states_course_id_courses"
        ),
        sa.PrimaryKeyConstraint("course_id", name="pk_course_states"),
    )


def downgrade() -> None:
    op.drop_table("course_states")

"""Hardening: audit hash chain and append-only triggers, course idempotency keys, care teams,
wider audit entity ids.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit_log is append-only: entries are never changed or removed"

PG_UP = f"""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""
PG_DOWN = """
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TRIGGER audit_log_no_change ON audit_log;
DROP FUNCTION audit_log_append_only();
"""
SQLITE_UP = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
)
SQLITE_DOWN = ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    if dialect == "postgresql":  # SQLite does not enforce VARCHAR lengths; the store does
        op.alter_column("audit_log", "entity_id", type_=sa.String(193))
    op.add_column("courses", sa.Column("idempotency_key", sa.String(200), nullable=True))
    op.add_column("courses", sa.Column("request_hash", sa.String(64), nullable=True))
    op.create_index(
        "uq_courses_created_idempotency",
        "courses",
        ["created_by", "idempotency_key"],
        unique=True,
    )
    op.add_column("patients", sa.Column("team", sa.String(64), nullable=True))
    op.create_table(
        "team_members",
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name="fk_team_members_username_users"
        ),
        sa.PrimaryKeyConstraint("team", "username", name="pk_team_members"),
    )
    if dialect == "postgresql":
        op.execute(PG_UP)
    elif dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_DOWN)
    elif dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    op.drop_table("team_members")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("team")
    op.drop_index("uq_courses_created_idempotency", table_name="courses")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")

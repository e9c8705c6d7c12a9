"""PostgreSQL: the audit entry appended in one statement (``cllcds_audit_append``).

The audit log is one hash chain, so its appends are serialised by a transaction-level advisory
lock held until commit. Taken from Python, the lock was held across four round trips (lock,
read the last hash, insert, commit), and after each the writing thread had to win its
process's GIL back from threads validating other writes: writers queued on the lock for most of
a write's time (docs/performance.md, REST API). This function takes the lock, reads the last
hash, hashes the entry and inserts it inside the database, so the lock is held across one
round trip and the commit. The entry's canonical JSON is made by the store, as before, with a
one-off placeholder where the previous hash goes; the function puts the previous hash (a JSON
string, or ``null``) in its place and takes the SHA-256 of the UTF-8 text: the same hash
:func:`cllcds.store._store._hash` gives, which ``cllcds audit verify`` recomputes. SQLite has
one writer at a time and keeps the store's own code.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# VOLATILE (the default): in READ COMMITTED each statement of the function takes a new
# snapshot, so the SELECT after the lock sees the entry of the writer that held it before.
PG_UP = """
CREATE FUNCTION cllcds_audit_append(
    lock_key bigint,
    content text,
    placeholder text,
    p_at timestamp with time zone,
    p_actor varchar,
    p_action varchar,
    p_entity varchar,
    p_entity_id varchar,
    p_course_id varchar,
    p_before json,
    p_after json,
    p_request_id varchar
) RETURNS varchar LANGUAGE plpgsql AS $$
DECLARE
    prev varchar;
    chained text;
    digest varchar;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT hash INTO prev FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1;
    chained := replace(content, placeholder, coalesce(to_json(prev)::text, 'null'));
    digest := encode(sha256(convert_to(chained, 'UTF8')), 'hex');
    INSERT INTO audit_log (at, actor, action, entity, entity_id, course_id, before, after,
                           request_id, prev_hash, hash)
    VALUES (p_at, p_actor, p_action, p_entity, p_entity_id, p_course_id, p_before, p_after,
            p_request_id, prev, digest);
    RETURN digest;
END
$$;
"""
PG_DOWN = """
DROP FUNCTION cllcds_audit_append(bigint, text, text, timestamp with time zone, varchar, varchar,
    varchar, varchar, varchar, json, json, varchar);
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DOWN)

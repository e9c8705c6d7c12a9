"""The production backup recipe (docs/production.md), tested: ``pg_dump`` of the cllcds schema,
the schema dropped, ``psql`` restores it, and the service reads every course, the audit hash
chain verifies and the audit log is still append-only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor
from cllcds.store import Store
from pgtools import PG_URL, drop_pg_schema, new_pg_schema

ACTOR = Actor("backup-test")


def _libpq(url: str) -> list[str]:
    u = sa.engine.make_url(url)
    return ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump not installed")
def test_pg_dump_and_restore(tmp_path: Path, course_doc: dict[str, Any]) -> None:
    schema, url = new_pg_schema("bak")
    try:
        store = Store.open(url)
        course = cs.create_course(store, course_doc, ACTOR)
        cs.append_event(
            store,
            course["id"],
            {"date": "2007-01-09", "type": "note", "text": "before the backup"},
            expected_version=course["version"],
            idempotency_key="k1",
            actor=ACTOR,
        )
        saved = cs.get_course(store, course["id"])
        head = cs.verify_audit(store)["head"]
        store.close()

        dump = tmp_path / "cllcds.sql"
        database = sa.engine.make_url(PG_URL).database or "postgres"
        subprocess.run(
            ["pg_dump", *_libpq(PG_URL), "-n", schema, "-f", str(dump), database], check=True
        )
        drop_pg_schema(schema)
        subprocess.run(
            ["psql", *_libpq(PG_URL), "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), database],
            check=True,
            capture_output=True,
        )

        restored = Store.open(url)
        assert cs.get_course(restored, course["id"]) == saved
        check = cs.verify_audit(restored)
        assert check["ok"] is True
        assert check["head"] == head
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), restored.engine.begin() as c:
            c.exec_driver_sql("DELETE FROM audit_log")
        restored.close()
    finally:
        drop_pg_schema(schema)

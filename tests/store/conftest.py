"""Real databases for the storage tests: SQLite (a temp file) and PostgreSQL (a fresh schema).

PostgreSQL is skipped only when the server is unreachable and ``CI`` is not set; in CI it must
run (``.ci/run`` starts it).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cllcds.store import Store

PG_URL = os.environ.get("CLLCDS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "escalating.json"


def pg_schema_url(schema: str) -> str:
    """The PostgreSQL URL with ``search_path`` set to ``schema``."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def new_pg_schema() -> tuple[str, str]:
    """Create a fresh schema; answer its name and URL (skip if no server outside CI)."""
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return schema, pg_schema_url(schema)


def drop_pg_schema(schema: str) -> None:
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cllcds.db'}"
        return
    schema, url = new_pg_schema()
    yield url
    drop_pg_schema(schema)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@pytest.fixture
def course_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:8]}"
    return doc

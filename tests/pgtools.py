"""PostgreSQL for the tests: a fresh schema per test session or server, dropped afterwards.

PostgreSQL is skipped only when the server is unreachable and ``CI`` is not set; in CI it must
run (``.ci/run`` starts it). ``CLLCDS_TEST_PG_URL`` overrides the server URL.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("CLLCDS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_schema_url(schema: str) -> str:
    """The PostgreSQL URL with ``search_path`` set to ``schema``."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def new_pg_schema(prefix: str = "t") -> tuple[str, str]:
    """Create a fresh schema; answer its name and URL (skip if no server outside CI)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return schema, pg_schema_url(schema)


def drop_pg_schema(schema: str) -> None:
    """Drop a schema made by :func:`new_pg_schema` and everything in it."""
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()

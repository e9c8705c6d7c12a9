"""Real databases for the storage tests: SQLite (a temp file) and PostgreSQL (a fresh schema).

PostgreSQL is skipped only when the server is unreachable and ``CI`` is not set; in CI it must
run (``.ci/run`` starts it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cllcds.store import Store
from pgtools import drop_pg_schema, new_pg_schema

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "escalating.json"


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

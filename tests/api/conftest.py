"""A live API over real HTTP: uvicorn on a free loopback port, on SQLite and on PostgreSQL.

One server per database for the session (tests make their own patients and courses); the
clients are httpx against the socket, not an in-process test client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cllcds import services as cs
from cllcds.api import Settings, create_app
from cllcds.services import Actor, Role
from cllcds.store import Store
from live_server import free_socket, serving
from pgtools import drop_pg_schema, new_pg_schema

__all__ = ["drop_pg_schema", "free_socket", "new_pg_schema"]  # imported from here by tests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "escalating.json"
PASSWORD = "correct horse battery"
ROLES = ("clinician", "pharmacist", "viewer", "admin")


@dataclass
class Live:
    """A running server, its store and a bearer token per role."""

    base_url: str
    store: Store
    database: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def course_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        doc.pop("as_of", None)
        doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:10]}"
        return doc

    def new_course(self) -> dict[str, Any]:
        with self.client("clinician") as c:
            r = c.post("/courses", json=self.course_doc())
            assert r.status_code == 201, r.text
            body: dict[str, Any] = r.json()
            return body


def _serve(url: str, database: str) -> Iterator[Live]:
    store = Store.open(url)
    # Every test client comes from 127.0.0.1: the per-address sign-in limit is raised for the
    # shared server (the per-account limit stays); test_reliability checks the address limit
    # on a server of its own.
    app = create_app(Settings(database_url=url, login_address_failures=100_000), store=store)
    try:
        with serving(app) as base_url:
            live = Live(base_url, store, database)
            for role in ROLES:
                cs.add_user(store, f"u-{role}", PASSWORD, Role(role), Actor("test-setup"))
                r = httpx.post(
                    f"{base_url}/auth/token",
                    json={"username": f"u-{role}", "password": PASSWORD},
                )
                assert r.status_code == 200, r.text
                live.tokens[role] = r.json()["access_token"]
            yield live
    finally:
        store.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'cllcds.db'}"
        yield from _serve(url, "sqlite")
        return
    schema, url = new_pg_schema()
    try:
        yield from _serve(url, "postgresql")
    finally:
        drop_pg_schema(schema)

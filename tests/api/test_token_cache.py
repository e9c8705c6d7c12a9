"""Resolved tokens are cached per process, yet a revocation or account change made anywhere is
honoured on the very next request, by every server on the database.

Two API instances (each with its own store, so its own token cache, as two worker processes
have) serve one database over real HTTP; a change made through one of them, or through a third
store (as the CLI does), is seen at once by the other. ``cllcds serve --workers 2`` is checked
too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cllcds import services as cs
from cllcds.api import Settings, create_app
from cllcds.services import Actor, Role
from cllcds.store import Store
from live_server import serving, wait_healthy
from pgtools import drop_pg_schema, new_pg_schema

from .conftest import EXAMPLE, PASSWORD, free_socket

SETUP = Actor("test-setup")


@dataclass
class Pair:
    """Two servers on one database (``a``, ``b``) and a third store on it (``store``)."""

    a: str
    b: str
    store: Store


def _pair(url: str) -> Iterator[Pair]:
    stores = [Store.open(url) for _ in range(3)]
    try:
        with ExitStack() as servers:
            a, b = (
                servers.enter_context(
                    serving(
                        create_app(
                            Settings(database_url=url, login_address_failures=100_000), store=s
                        )
                    )
                )
                for s in stores[:2]
            )
            yield Pair(a, b, stores[2])
    finally:
        for s in stores:
            s.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    if request.param == "sqlite":
        yield from _pair(f"sqlite:///{tmp_path_factory.mktemp('cache') / 'cllcds.db'}")
        return
    schema, url = new_pg_schema()
    try:
        yield from _pair(url)
    finally:
        drop_pg_schema(schema)


def _user(pair: Pair, role: Role) -> tuple[str, str]:
    """A new account and a bearer token for it (from server ``a``)."""
    name = f"u-{uuid.uuid4().hex[:10]}"
    cs.add_user(pair.store, name, PASSWORD, role, SETUP)
    r = httpx.post(f"{pair.a}/auth/token", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return name, r.json()["access_token"]


def _me(base: str, token: str) -> httpx.Response:
    return httpx.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {token}"})


def _course_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    doc["patient"]["id"] = f"p-{uuid.uuid4().hex[:10]}"
    return doc


def test_logout_on_one_server_is_refused_at_once_by_the_other(pair: Pair) -> None:
    _name, token = _user(pair, Role.CLINICIAN)
    for _ in range(3):  # both servers have resolved (and cached) the token
        assert _me(pair.a, token).status_code == 200
        assert _me(pair.b, token).status_code == 200
    r = httpx.post(f"{pair.a}/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    for base in (pair.b, pair.a):
        r = _me(base, token)
        assert r.status_code == 401
        assert r.json()["detail"] == "the token is unknown, expired or revoked"


def test_other_tokens_of_the_account_still_work_after_one_logout(pair: Pair) -> None:
    name, first = _user(pair, Role.VIEWER)
    r = httpx.post(f"{pair.b}/auth/token", json={"username": name, "password": PASSWORD})
    second = r.json()["access_token"]
    assert _me(pair.b, first).status_code == _me(pair.b, second).status_code == 200
    httpx.post(f"{pair.a}/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert _me(pair.b, first).status_code == 401
    assert _me(pair.b, second).json() == {"username": name, "role": "viewer", "via": "bearer"}


def test_disabled_account_is_refused_at_once_everywhere(pair: Pair) -> None:
    _admin, admin_token = _user(pair, Role.ADMIN)
    name, token = _user(pair, Role.CLINICIAN)
    assert _me(pair.a, token).status_code == _me(pair.b, token).status_code == 200
    r = httpx.post(
        f"{pair.a}/users/{name}/disable", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert r.status_code == 200, r.text
    assert _me(pair.b, token).status_code == 401
    assert _me(pair.a, token).status_code == 401
    # Re-enabled, the account signs in again, but the old token stays revoked.
    cs.set_user_disabled(pair.store, name, False, SETUP)
    assert _me(pair.b, token).status_code == 401
    r = httpx.post(f"{pair.b}/auth/token", json={"username": name, "password": PASSWORD})
    assert _me(pair.a, r.json()["access_token"]).status_code == 200


def test_role_change_takes_effect_on_the_next_request(pair: Pair) -> None:
    name, token = _user(pair, Role.CLINICIAN)
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{pair.b}/courses", json=_course_doc(), headers=auth)
    assert r.status_code == 201, r.text
    assert _me(pair.a, token).json()["role"] == "clinician"
    cs.set_user_role(pair.store, name, "viewer", SETUP)  # another process (the CLI, the web)
    assert _me(pair.a, token).json()["role"] == "viewer"
    r = httpx.post(f"{pair.b}/courses", json=_course_doc(), headers=auth)
    assert r.status_code == 403
    assert r.json()["detail"] == "the viewer role may not do this"
    cs.set_user_role(pair.store, name, "clinician", SETUP)
    assert httpx.post(f"{pair.b}/courses", json=_course_doc(), headers=auth).status_code == 201


def test_password_reset_ends_every_token_of_the_account_at_once(pair: Pair) -> None:
    """An admin resets a password that was exposed: whoever signed in with the old password is
    shut out on the next request, by every server; a sign-in with the new password works."""
    name, token = _user(pair, Role.CLINICIAN)
    other, other_token = _user(pair, Role.CLINICIAN)
    assert _me(pair.a, token).status_code == _me(pair.b, token).status_code == 200
    cs.reset_password(pair.store, name, "a-new-password-1234", SETUP)
    for base in (pair.b, pair.a):
        assert _me(base, token).status_code == 401
    assert _me(pair.b, other_token).json()["username"] == other  # other accounts untouched
    r = httpx.post(f"{pair.a}/auth/token", json={"username": name, "password": PASSWORD})
    assert r.status_code == 401
    r = httpx.post(
        f"{pair.a}/auth/token", json={"username": name, "password": "a-new-password-1234"}
    )
    assert _me(pair.b, r.json()["access_token"]).status_code == 200


def test_session_logout_is_refused_at_once_by_the_other_server(pair: Pair) -> None:
    name, _token = _user(pair, Role.PHARMACIST)
    with httpx.Client(base_url=pair.a) as web:
        r = web.post("/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200
        csrf = r.json()["csrf_token"]
        cookies = dict(web.cookies)
        with httpx.Client(base_url=pair.b, cookies=cookies) as other:
            assert other.get("/auth/me").json()["via"] == "session"
            r = web.post("/auth/logout", headers={"X-CSRF-Token": csrf})
            assert r.status_code == 204
            r = other.get("/auth/me")
            assert r.status_code == 401
            assert r.json()["detail"] == "the session has expired or was ended: log in again"


def test_cached_lookup_answers_what_the_database_says(pair: Pair) -> None:
    """The cached path and the plain query agree: same record, csrf hash included."""
    name, token = _user(pair, Role.PHARMACIST)
    digest = cs.token_digest(token)
    first = pair.store.token_user(digest, "bearer")
    cached = pair.store.token_user(digest, "bearer")
    assert first == cached
    assert cached is not None
    assert cached["username"] == name
    assert cached["csrf_hash"] is None
    cached["role"] = "admin"  # a caller changing its copy changes nothing cached
    assert pair.store.token_user(digest, "bearer") == first
    assert pair.store.token_user(digest, "session") is None  # the kind is part of the key
    assert pair.store.token_user(cs.token_digest("not a token"), "bearer") is None


def test_without_an_epoch_row_nothing_is_cached(pair: Pair) -> None:
    """Fail closed: with the epoch row gone, every request looks the token up again."""
    _name, token = _user(pair, Role.VIEWER)
    digest = cs.token_digest(token)
    assert _me(pair.b, token).status_code == 200  # cached by server b
    with pair.store.engine.begin() as conn:
        before = conn.exec_driver_sql("SELECT value FROM auth_epoch WHERE id = 1").scalar()
        conn.exec_driver_sql("DELETE FROM auth_epoch")
    try:
        assert pair.store.auth_epoch() is None
        assert pair.store.token_user(digest, "bearer") is not None
        with pair.store.engine.begin() as conn:  # a revocation by hand, no epoch to bump
            conn.execute(
                sa.text("UPDATE tokens SET revoked = :r WHERE token_hash = :h"),
                {"r": True, "h": digest},
            )
        assert pair.store.token_user(digest, "bearer") is None
        assert _me(pair.b, token).status_code == 401
    finally:
        with pair.store.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO auth_epoch (id, value) VALUES (1, :v)"), {"v": before}
            )


@pytest.mark.slow
def test_serve_with_two_workers_refuses_a_revoked_token_in_every_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cllcds.db'}"
    store = Store.open(url)
    cs.add_user(store, "alice", PASSWORD, Role.CLINICIAN, SETUP)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    cllcds = str(Path(sys.executable).with_name("cllcds"))
    env = {**os.environ, "CLLCDS_DATABASE_URL": url}
    cmd = [cllcds, "serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base)
        r = httpx.post(f"{base}/auth/token", json={"username": "alice", "password": PASSWORD})
        token = r.json()["access_token"]
        # A new connection per request: the kernel spreads them over both workers.
        seen = [_me(base, token).status_code for _ in range(40)]
        assert seen == [200] * 40
        cs.revoke_token(store, token)  # as a logout handled by either worker does
        after = [_me(base, token).status_code for _ in range(40)]
        assert after == [401] * 40
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        store.close()

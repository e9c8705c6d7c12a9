"""The web app over real HTTP in a real headless Chromium (Debian's ``chromium``, Playwright).

One uvicorn server on a free loopback port per database — a temporary SQLite file and a fresh
schema in the local PostgreSQL — seeded with the demo data through the same use cases a user
goes through; every test that uses the server runs against both. The API app is built
with ``create_app`` and the web router included with the API's own dependencies, as ``cllcds
serve`` does.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cllcds.api import Settings, create_app, current_user, require
from cllcds.api._auth import get_store
from cllcds.store import Store
from cllcds.web import DEMO_ACCOUNTS, make_router, seed_demo
from live_server import serving
from pgtools import drop_pg_schema, new_pg_schema

CHROMIUM = os.environ.get("CLLCDS_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORDS = {username: f"{username}-web-test" for username, _role in DEMO_ACCOUNTS}


def _postgres() -> tuple[str, Callable[[], None]]:
    """A URL on a fresh PostgreSQL schema and a function that drops it."""
    schema, url = new_pg_schema("w")
    return url, lambda: drop_pg_schema(schema)


@dataclass
class Live:
    """A running server and its store."""

    base_url: str
    store: Store


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    drop: Callable[[], None] = lambda: None  # noqa: E731 - nothing to drop for SQLite
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'cllcds.db'}"
    else:
        url, drop = _postgres()
    store = Store.open(url)
    seed_demo(store, passwords=PASSWORDS)
    app = create_app(Settings(database_url=url), store=store)
    if not any(getattr(r, "path", "") == "/app/" for r in app.routes):
        # An API app that does not mount the pages itself: include them as `serve` would.
        app.include_router(
            make_router(current_user=current_user, get_store=get_store, require=require)
        )
    try:
        with serving(app) as base_url:
            yield Live(base_url, store)
    finally:
        store.close()
        drop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file() and not os.environ.get("CI"):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_for(browser: object, live: Live) -> Iterator[object]:
    """``page_for(username)``: a fresh browser context signed in as that demo account."""
    contexts = []

    def make(username: str = "demo") -> object:
        ctx = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": 1280, "height": 800}, base_url=live.base_url
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/app/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORDS[username])
        page.click("button[type=submit]")
        page.wait_for_url("**/app/")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def web_login(c: Any, username: str, password: str, **extra: str) -> Any:
    """Sign in through the form as a browser does: fetch it (its CSRF token), then post it."""
    page = c.get("/app/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    data = {"username": username, "password": password, "login_csrf": token.group(1), **extra}
    return c.post("/app/login", data=data)

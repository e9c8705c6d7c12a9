"""The application factory."""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from cllcds import __version__, services
from cllcds.services._limits import BODY_BYTES, FUTURE_HORIZON_DAYS, REQUEST_ID_CHARS
from cllcds.store import Store

from . import _accounts, _clinical, _problems, _reference
from ._auth import current_user, get_store, require
from ._guard import BodyGuard, RequestId, SecurityHeaders
from ._throttle import ACCOUNT_FAILURES, ADDRESS_FAILURES, PASSWORD_CHECKS, PasswordChecks, Throttle

CDS_HOOKS_MODULE = "cllcds.api._cds_hooks"
MAX_REQUEST_ID = REQUEST_ID_CHARS


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or not raw.strip() else int(raw)


@dataclass(frozen=True, slots=True)
class Settings:
    """How the service runs.

    ``database_url`` ``None`` means ``$CLLCDS_DATABASE_URL`` or SQLite in the data directory.
    """

    database_url: str | None = None
    migrate: bool = True
    token_ttl: dt.timedelta = field(default_factory=lambda: dt.timedelta(hours=12))
    session_ttl: dt.timedelta = field(default_factory=lambda: dt.timedelta(hours=8))
    #: Always mark cookies Secure (they are anyway on requests that came over HTTPS).
    secure_cookies: bool = False
    #: Mount the web pages (``cllcds.web``, under ``/app``) in the same process.
    web: bool = True
    #: The largest request body (bytes); larger ones are answered 413 before parsing.
    max_body_bytes: int = BODY_BYTES
    #: How many days ahead of today an event may be dated.
    future_horizon_days: int = FUTURE_HORIZON_DAYS
    #: Failed sign-ins per account / per address in 5 minutes before 429.
    login_account_failures: int = ACCOUNT_FAILURES
    login_address_failures: int = ADDRESS_FAILURES
    #: Password checks (argon2id) at once per process.
    password_checks: int = PASSWORD_CHECKS

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the environment (``CLLCDS_DATABASE_URL``, ``CLLCDS_SECURE_COOKIES``,
        ``CLLCDS_MAX_BODY_BYTES``, ``CLLCDS_FUTURE_HORIZON_DAYS``,
        ``CLLCDS_LOGIN_ACCOUNT_FAILURES``, ``CLLCDS_LOGIN_ADDRESS_FAILURES``)."""
        return cls(
            database_url=os.environ.get("CLLCDS_DATABASE_URL") or None,
            migrate=os.environ.get("CLLCDS_MIGRATE", "1") != "0",
            secure_cookies=os.environ.get("CLLCDS_SECURE_COOKIES", "0") == "1",
            max_body_bytes=_env_int("CLLCDS_MAX_BODY_BYTES", BODY_BYTES),
            future_horizon_days=_env_int("CLLCDS_FUTURE_HORIZON_DAYS", FUTURE_HORIZON_DAYS),
            login_account_failures=_env_int("CLLCDS_LOGIN_ACCOUNT_FAILURES", ACCOUNT_FAILURES),
            login_address_failures=_env_int("CLLCDS_LOGIN_ADDRESS_FAILURES", ADDRESS_FAILURES),
            password_checks=_env_int("CLLCDS_PASSWORD_CHECKS", PASSWORD_CHECKS),
        )


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The cllcds REST API (OpenAPI 3 at ``/openapi.json``, docs at ``/docs``)."""
    cfg = settings or Settings()
    services.preload()  # the use cases are imported lazily; a server loads them all up front
    the_store = store or Store.open(cfg.database_url, migrate=cfg.migrate)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.password_checks.close()
        if store is None:  # we opened it, we close it
            the_store.close()

    app = FastAPI(
        title="cllcds",
        version=__version__,
        summary="Clinical decision support for alemtuzumab in relapsed and refractory CLL.",
        lifespan=lifespan,
    )
    app.state.store = the_store
    app.state.settings = cfg
    app.state.throttle = Throttle(cfg.login_account_failures, cfg.login_address_failures)
    app.state.password_checks = PasswordChecks(cfg.password_checks)
    _problems.install(app)

    app.add_middleware(RequestId, max_chars=MAX_REQUEST_ID)
    # Outermost last: the headers go on every response, the guard's refusals included.
    app.add_middleware(BodyGuard, max_bytes=cfg.max_body_bytes)
    app.add_middleware(SecurityHeaders)

    @app.get("/health", tags=["health"], summary="Liveness and database check")
    def health() -> Any:
        with the_store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": the_store.dialect}

    app.include_router(_accounts.router)
    app.include_router(_clinical.router)
    app.include_router(_reference.router)
    if cfg.web:
        from cllcds import web  # noqa: PLC0415 - only when the pages are wanted

        app.include_router(
            web.make_router(
                current_user=current_user,
                get_store=get_store,
                require=require,
                sign_in=_accounts.sign_in,
            )
        )
    if importlib.util.find_spec(CDS_HOOKS_MODULE) is not None:
        # Built by the interop work: discovery is public, the hooks check their own bearer.
        app.include_router(importlib.import_module(CDS_HOOKS_MODULE).router)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls (``cllcds serve``): settings from the environment."""
    app = create_app(Settings.from_env())
    settle_startup_objects()
    return app


def settle_startup_objects() -> None:
    """Keep what a worker loaded at start out of the garbage collector's full passes: they live
    as long as the worker, and a full pass over them (modules, routes, templates: about 0.2
    million objects) otherwise costs ~100 ms of CPU inside whichever request triggers it."""
    gc.collect()
    gc.freeze()

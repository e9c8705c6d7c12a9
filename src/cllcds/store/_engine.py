"""Engine creation: the database URL, SQLite pragmas, migrations on start."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError

from cllcds.domain import InputError

DATABASE_URL_ENV = "CLLCDS_DATABASE_URL"
DATA_DIR_ENV = "CLLCDS_DATA_DIR"
#: How long a SQLite writer waits for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL connections: the pool per process, and the ones it may open beyond it at a peak.
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 10
#: A PostgreSQL connection idle in the pool longer than this is pinged before use (seconds).
#: A busy server reuses its connections within milliseconds, so it saves a round trip per
#: checkout (``pool_pre_ping`` pings every time); one idle through a database restart is still
#: found dead and replaced before a request sees it.
PG_PING_AFTER_IDLE_S = 2.0


def data_dir() -> Path:
    """Where the default SQLite file lives: ``$CLLCDS_DATA_DIR`` or the XDG user data dir."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("cllcds"))


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``$CLLCDS_DATABASE_URL``, else SQLite in the data dir."""
    if url:
        return url
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return env
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'cllcds.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so BEGIN IMMEDIATE can be issued (below).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # every acknowledged commit survives power loss
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN: a deferred transaction that later upgrades its lock
    # can fail with SQLITE_BUSY without waiting; IMMEDIATE waits (busy_timeout) instead.
    options = conn.get_execution_options()
    if options.get("cllcds_single_read", False):
        return  # one SELECT: SQLite runs it in a transaction of its own (a consistent snapshot)
    immediate = options.get("cllcds_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has been idle a while (see
    :data:`PG_PING_AFTER_IDLE_S`); a dead one is replaced (the pool retries the checkout)."""

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["cllcds_idle_since"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("cllcds_idle_since")
        if since is None or time.monotonic() - since < PG_PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: drop this connection, take another
            raise DisconnectionError(str(exc)) from exc

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see :func:`database_url`) with the right settings per backend."""
    resolved = database_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise InputError(
            "database URL", resolved, "give an SQLAlchemy URL, e.g. sqlite:///cllcds.db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=8
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed, pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW)
        _ping_when_idle(engine)
        return engine
    raise InputError(
        "database URL", resolved, "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the migrations shipped in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

"""Engine creation: the database URL, SQLite pragmas, migrations on start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cllcds.domain import InputError

DATABASE_URL_ENV = "CLLCDS_DATABASE_URL"
DATA_DIR_ENV = "CLLCDS_DATA_DIR"
#: How long a SQLite writer waits for the write lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).with_name("migrations")


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
    immediate = conn.get_execution_options().get("cllcds_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
        return create_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)
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

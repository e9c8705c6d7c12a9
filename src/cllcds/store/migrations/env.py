"""Alembic environment: run with a connection handed in by ``cllcds.store.upgrade``."""

from __future__ import annotations

from alembic import context

from cllcds.store._models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic path is supported
    raise RuntimeError("run migrations through cllcds.store.upgrade (cllcds db upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""cllcds.store: durable storage of patients, courses (append-only events), users and audit.

SQLite by default (a file in ``$CLLCDS_DATA_DIR``), PostgreSQL when ``$CLLCDS_DATABASE_URL``
names one. :class:`Store` implements :class:`cllcds.services.CourseRepository`.
"""

from ._engine import DATA_DIR_ENV, DATABASE_URL_ENV, data_dir, database_url, make_engine, upgrade
from ._store import Store

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "Store",
    "data_dir",
    "database_url",
    "make_engine",
    "upgrade",
]

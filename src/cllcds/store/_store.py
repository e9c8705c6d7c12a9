"""The SQL implementation of :class:`cllcds.services.CourseRepository`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    JSON,
    Engine,
    String,
    Text,
    and_,
    bindparam,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cllcds.domain import InputError, NotFoundError
from cllcds.services import (
    Actor,
    AppendResult,
    ComputedState,
    ConflictError,
    DuplicateError,
    Page,
    Role,
    Validator,
)
from cllcds.services._limits import REQUEST_ID_CHARS, USERNAME_CHARS

from ._engine import make_engine, upgrade
from ._models import (
    AuditRow,
    AuthEpochRow,
    Base,
    CourseRow,
    CourseStateRow,
    EventRow,
    PatientRow,
    SeenJwtRow,
    TeamMemberRow,
    TokenRow,
    UserRow,
)

HEADER_KEYS = ("format", "rule_sets", "patient", "regimen", "start_date", "baseline")
#: Retries of a write that lost a unique-key race to a concurrent identical write.
RACE_RETRIES = 3
#: How long a stored-state refresh waits for a row lock on PostgreSQL before it gives up (it
#: is optional; PostgreSQL's deadlock check runs after 1 s, so a refresh is never the cause).
REFRESH_LOCK_TIMEOUT_MS = 200
#: The PostgreSQL advisory lock that serialises appends to the audit hash chain.
AUDIT_CHAIN_LOCK = 0x636C6C63
#: How long this process trusts a resolved token without looking it up again (seconds). Any
#: change made through cllcds (revocation, logout, disabling, a role or team change) is seen
#: on the very next request whatever this is, through the auth epoch; this bound only matters
#: for a change made to the tables by hand.
TOKEN_CACHE_S = 60.0
#: Resolved tokens kept per process (the cache is emptied when it is full).
TOKEN_CACHE_SIZE = 10_000
#: The one row of the auth epoch table.
AUTH_EPOCH_ID = 1
#: How a column is named to the user when a value is too long for it.
FIELD_NAMES = {
    ("patients", "id"): "patient.id",
    ("courses", "regimen"): "regimen",
    ("courses", "start_date"): "start_date",
    ("courses", "idempotency_key"): "Idempotency-Key",
    ("events", "event_id"): "event.id",
    ("events", "date"): "event.date",
    ("events", "type"): "event.type",
    ("events", "supersedes"): "event.supersedes",
    ("events", "idempotency_key"): "Idempotency-Key",
    ("users", "username"): "username",
    ("team_members", "team"): "team",
}


_EPOCH_QUERY = select(AuthEpochRow.value).where(AuthEpochRow.id == AUTH_EPOCH_ID)
_PATIENT_TEAM_QUERY = select(PatientRow.id, PatientRow.team).where(PatientRow.id == bindparam("p"))
_USER_TEAMS_QUERY = (
    select(TeamMemberRow.team)
    .where(TeamMemberRow.username == bindparam("u"))
    .order_by(TeamMemberRow.team)
)
_TOKEN_QUERY = (
    select(
        TokenRow.revoked,
        TokenRow.expires_at,
        TokenRow.csrf_hash,
        UserRow.username,
        UserRow.role,
        UserRow.disabled,
        UserRow.created_at,
    )
    .join(UserRow, UserRow.username == TokenRow.username)
    .where(TokenRow.token_hash == bindparam("h"), TokenRow.kind == bindparam("k"))
)

# The write path's statements, built once: building them per call (SQLAlchemy caches only the
# compiled form) was a sizeable share of a write's CPU in the profile (docs/performance.md).
_COURSE_HEAD = select(CourseRow.patient_id, CourseRow.version).where(CourseRow.id == bindparam("c"))
_COURSE_FOR_APPEND = select(CourseRow.version, CourseRow.header).where(
    CourseRow.id == bindparam("c")
)
_COURSE_FOR_APPEND_LOCKED = _COURSE_FOR_APPEND.with_for_update()
_PAYLOADS = (
    select(EventRow.payload).where(EventRow.course_id == bindparam("c")).order_by(EventRow.seq)
)
#: PostgreSQL: a course's payloads as one JSON array (one value to fetch and decode instead of a
#: row each). The column is ``json`` (the text as written), so the array holds each payload's
#: text as stored and decodes to the same list as the rows do.
_PAYLOADS_ARRAY = select(
    func.json_agg(aggregate_order_by(EventRow.payload, EventRow.seq), type_=JSON)
).where(EventRow.course_id == bindparam("c"))
#: SQLite: a course's payloads as the JSON texts stored (each decoded by :meth:`Store._payloads`).
_PAYLOAD_TEXTS = (
    select(type_coerce(EventRow.payload, Text))
    .where(EventRow.course_id == bindparam("c"))
    .order_by(EventRow.seq)
)
_PRIORS = select(*EventRow.__table__.c).where(
    EventRow.course_id == bindparam("c"),
    EventRow.idempotency_key.in_(bindparam("keys", expanding=True)),
)
_BUMP_VERSION = (
    update(CourseRow)
    .where(CourseRow.id == bindparam("c"), CourseRow.version == bindparam("old"))
    .values(version=bindparam("new"))
)
_INSERT_EVENT = insert(EventRow)
_INSERT_AUDIT = insert(AuditRow)
#: PostgreSQL: lock the chain, read its last hash, hash and insert the entry, in one round trip
#: (migration 0006); the audit lock is then held for that statement and the commit only.
_AUDIT_APPEND = text(
    "SELECT cllcds_audit_append(:k, :content, :placeholder, :at, :actor, :action, :entity, "
    ":entity_id, :course_id, CAST(:before AS json), CAST(:after AS json), :request_id)"
).bindparams(bindparam("before", type_=JSON), bindparam("after", type_=JSON))
_LAST_AUDIT_HASH = (
    select(AuditRow.hash).where(AuditRow.hash.is_not(None)).order_by(AuditRow.id.desc()).limit(1)
)
_STATE_COLUMNS = ("version", "as_of", "engine", "state", "summary", "computed_at")
_STATE_TYPES = {k: CourseStateRow.__table__.c[k].type for k in _STATE_COLUMNS}


def _state_upsert(dialect: str) -> Any:
    """The stored-state upsert of :meth:`Store._put_states` for ``dialect`` (built once per
    store), its values as bind parameters named after the columns with a ``v_`` prefix."""
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_(CourseStateRow).values(
        course_id=bindparam("v_course_id"),
        **{k: bindparam(f"v_{k}", type_=_STATE_TYPES[k]) for k in _STATE_COLUMNS},
    )
    new = stmt.excluded
    c = CourseStateRow
    stmt = stmt.on_conflict_do_update(
        index_elements=[CourseStateRow.course_id],
        set_={k: new[k] for k in _STATE_COLUMNS},
        where=or_(
            c.version < new.version,
            and_(c.version == new.version, c.as_of < new.as_of),
            and_(c.version == new.version, c.as_of == new.as_of, c.engine != new.engine),
        ),
    )
    if dialect == "postgresql":
        # Counted with RETURNING: psycopg reports no row count for this upsert.
        return stmt.returning(CourseStateRow.course_id)
    return stmt


def _sqlite_lock_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{Path(database).expanduser()}-writelock"


class WriteLock:
    """SQLite writers one at a time: a thread lock in this process, then (POSIX, file database)
    an exclusive ``flock`` on ``path`` across processes. Waiters block in the kernel and are
    woken when the lock is released, instead of SQLite's sleep-and-retry."""

    def __init__(self, path: str | None) -> None:
        self._thread = threading.Lock()
        self._path = path if fcntl is not None else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread.acquire()
        if self._path is None or fcntl is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            # No lock file (read-only directory, ...): SQLite's own locking still holds.
            pass
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def close(self) -> None:
        with self._thread:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _check_lengths(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse a string longer than its column before it reaches the database: PostgreSQL would
    refuse it, SQLite would keep it; both refuse it here, with the field named."""
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Base):
            continue
        table = obj.__table__
        _check_values(table, {c.key: getattr(obj, c.key, None) for c in table.columns})


def _check_values(table: Any, values: Mapping[str, Any]) -> None:
    """The check of :func:`_check_lengths` for a row written as a Core insert (``values`` by
    column key), which the session's flush does not see."""
    name = str(getattr(table, "name", ""))
    for column in table.columns:
        length = getattr(column.type, "length", None)
        if not isinstance(column.type, String) or length is None:
            continue
        value = values.get(column.key)
        if isinstance(value, str) and len(value) > length:
            field = FIELD_NAMES.get((name, column.name), f"{name}.{column.name}")
            shown = value[:40] + "..."
            raise InputError(field, shown, f"{len(value)} characters: use at most {length}")


def _chain_hash(row: AuditRow) -> str:
    """The SHA-256 of an audit entry's content and the previous entry's hash."""
    return _chain_hash_of(
        {
            "at": row.at,
            "actor": row.actor,
            "action": row.action,
            "entity": row.entity,
            "entity_id": row.entity_id,
            "course_id": row.course_id,
            "before": row.before,
            "after": row.after,
            "request_id": row.request_id,
            "prev_hash": row.prev_hash,
        }
    )


def _chain_hash_of(values: Mapping[str, Any]) -> str:
    """:func:`_chain_hash` of an entry given as its column values (a Core insert's)."""
    return _hash(_chain_content(values))


def _chain_content(values: Mapping[str, Any]) -> dict[str, Any]:
    """What an audit entry's hash covers, from its column values."""
    return {
        "at": _iso(values["at"]),
        "actor": values["actor"],
        "action": values["action"],
        "entity": values["entity"],
        "entity_id": values["entity_id"],
        "course_id": values["course_id"],
        "before": values["before"],
        "after": values["after"],
        "request_id": values["request_id"],
        "prev_hash": values["prev_hash"],
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _canonical(obj: Any) -> str:
    """The JSON text a hash is taken of: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _hash(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode("utf-8")).hexdigest()


def _page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> Page:
    nxt = offset + limit if offset + limit < total else None
    return Page(items=items, next_offset=nxt, total=total)


def _event_record(row: EventRow | Row[Any]) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "id": row.event_id,
        "date": row.date,
        "type": row.type,
        "supersedes": row.supersedes,
        "event": row.payload,
        "recorded_by": row.recorded_by,
        "recorded_at": _iso(row.recorded_at),
        "course_version": row.course_version,
    }


def _new_payloads(events: list[Mapping[str, Any]], first_seq: int) -> list[dict[str, Any]]:
    """The stored payloads of appended events: each gets ``ev-SEQ`` as its id unless it has one."""
    new: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        payload = dict(ev)
        payload.setdefault("id", f"ev-{first_seq + i}")
        new.append(payload)
    return new


def _event_values(
    cid: str,
    seq: int,
    payload: dict[str, Any],
    actor: Actor,
    now: dt.datetime,
    version: int,
    key: str | None,
    request_hash: str | None,
) -> dict[str, Any]:
    """An event row's column values (as :meth:`Store._event_row` makes the row)."""
    return {
        "course_id": cid,
        "seq": seq,
        "event_id": str(payload["id"]),
        "date": str(payload.get("date")),
        "type": str(payload.get("type")),
        "payload": payload,
        "supersedes": None if payload.get("supersedes") is None else str(payload["supersedes"]),
        "recorded_by": actor.username,
        "recorded_at": now,
        "course_version": version,
        "idempotency_key": key,
        "request_hash": request_hash,
    }


def _values_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`_event_record` of an event written from its column values."""
    return {
        "seq": values["seq"],
        "id": values["event_id"],
        "date": values["date"],
        "type": values["type"],
        "supersedes": values["supersedes"],
        "event": values["payload"],
        "recorded_by": values["recorded_by"],
        "recorded_at": _iso(values["recorded_at"]),
        "course_version": values["course_version"],
    }


@dataclass(frozen=True, slots=True)
class _PreparedAppend:
    """An append validated before the write lock (:meth:`Store._prepare_append`): the course
    version and header it was validated against, how many events the course had, the new
    payloads and the state the validation answered."""

    version: int
    header: dict[str, Any]
    count: int
    new: list[dict[str, Any]]
    state: ComputedState | None


def _user_record(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "role": row.role,
        "disabled": row.disabled,
        "created_at": _iso(row.created_at),
    }


class Store:
    """Patients, courses and their append-only events, accounts, tokens and the audit log.

    Every method opens and commits its own transaction and returns plain data. Writers to one
    course are serialised (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
    SQLite) and checked against the course version, so a stale write is refused, never lost.

    Lock order (so that no two writers can deadlock): SQLite has one write lock per database
    (this process's lock, then ``BEGIN IMMEDIATE``), taken first by every write. On PostgreSQL
    every write takes its locks in this order, each held until it commits:

    1. the patient's row (``update_patient``, ``set_patient_team``, a new patient's insert);
    2. course rows, in course id order (``SELECT ... FOR UPDATE``);
    3. rows of those courses (events, stored states) and of accounts, teams and tokens (rows
       of one table locked together: in key order);
    4. last, the audit chain's advisory lock (:data:`AUDIT_CHAIN_LOCK`): :meth:`_audit` flushes
       every pending row write before it takes it, and no row is locked after it.

    ``put_course_states`` (a best-effort refresh outside a write) takes state rows in course
    id order and gives up after :data:`REFRESH_LOCK_TIMEOUT_MS` instead of waiting.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(cllcds_write=True), expire_on_commit=False
        )
        event.listen(self._writer, "before_flush", _check_lengths)
        # SQLite has one writer at a time; queueing writers on a lock avoids the busy
        # handler's sleep-and-poll (latency spikes): this process's on a thread lock, every
        # process's (``cllcds serve --workers N``) on a file lock beside the database. A writer
        # outside cllcds still waits on busy_timeout. PostgreSQL serialises per course with
        # row locks instead.
        self._write_lock: AbstractContextManager[Any] = nullcontext()
        if self.dialect == "sqlite":
            self._write_lock = WriteLock(_sqlite_lock_path(engine))
        self._state_upsert = _state_upsert(self.dialect)
        # Single-statement reads on the request path (token, epoch, teams), without BEGIN and
        # ROLLBACK around them: one round trip each on PostgreSQL (autocommit); on SQLite (its
        # connections are in manual transaction control) the statement is its own transaction.
        self._auth = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine.execution_options(cllcds_single_read=True)
        )
        #: (token hash, kind) -> (auth epoch, monotonic time cached, expiry, account record).
        self._tokens: dict[tuple[str, str], tuple[int, float, dt.datetime, dict[str, Any]]] = {}

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> Store:
        """A store on ``url`` (default: ``$CLLCDS_DATABASE_URL`` or SQLite in the data dir)."""
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
        if isinstance(self._write_lock, WriteLock):
            self._write_lock.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, self._writer() as session, session.begin():
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @staticmethod
    def _bump_auth_epoch(s: Session) -> None:
        """Make every process's resolved tokens stale (in the caller's transaction)."""
        s.execute(
            update(AuthEpochRow)
            .where(AuthEpochRow.id == AUTH_EPOCH_ID)
            .values(value=AuthEpochRow.value + 1)
        )

    def auth_epoch(self) -> int | None:
        """The auth epoch now (``None`` when the database has none: then nothing is cached)."""
        with self._auth.connect() as conn:
            value = conn.execute(_EPOCH_QUERY).scalar()
        return None if value is None else int(value)

    def _audit(
        self,
        s: Session,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        course_id: str | None = None,
    ) -> None:
        # Every row this transaction writes is locked before the audit lock (the lock order,
        # see the class): a row lock taken while holding it could wait for a writer that
        # waits for the audit lock.
        s.flush()
        conn = s.connection()
        values: dict[str, Any] = {
            "at": _now(),
            "actor": actor.username[:USERNAME_CHARS],
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "course_id": course_id,
            "before": before,
            "after": after,
            "request_id": actor.request_id[:REQUEST_ID_CHARS],
            "prev_hash": None,
        }
        # The length check a flush would make, made on the values (no ORM row is written).
        _check_values(AuditRow.__table__, values)
        if self.dialect == "postgresql":
            # One chain: appends to it are serialised until this transaction ends. The entry's
            # hash is taken in the database (migration 0006) over the text made here, with a
            # one-off placeholder (a quoted random token, found exactly once) for the previous
            # hash, so no Python runs while the lock is held.
            token = f"cllcds-prev-hash-{uuid.uuid4().hex}"
            placeholder = json.dumps(token)  # as it stands in the canonical text
            content = _canonical(_chain_content({**values, "prev_hash": token}))
            if content.count(placeholder) != 1:  # pragma: no cover - a 128-bit random token
                raise RuntimeError("the audit placeholder is not unique in the entry")
            del values["prev_hash"]  # the function reads it
            conn.execute(
                _AUDIT_APPEND,
                {"k": AUDIT_CHAIN_LOCK, "content": content, "placeholder": placeholder, **values},
            )
            return
        values["prev_hash"] = conn.execute(_LAST_AUDIT_HASH).scalar()
        values["hash"] = _chain_hash_of(values)
        conn.execute(_INSERT_AUDIT, values)

    # ------------------------------------------------------------------------------ patients

    def create_patient(
        self, patient: Mapping[str, Any], actor: Actor, team: str | None = None
    ) -> dict[str, Any]:
        pid = str(patient["id"])
        data = dict(patient)
        try:
            with self._write() as s:
                if s.get(PatientRow, pid) is not None:
                    raise DuplicateError("patient.id", pid, "use an id not yet registered")
                s.add(
                    PatientRow(
                        id=pid, data=data, created_at=_now(), created_by=actor.username, team=team
                    )
                )
                self._audit(s, actor, "patient.create", "patient", pid, None, data)
        except IntegrityError:
            raise DuplicateError("patient.id", pid, "use an id not yet registered") from None
        return {"id": pid, "patient": data}

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        with self._reading() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError("patient", patient_id, "give the id of a registered patient")
            return {
                "id": row.id,
                "patient": row.data,
                "created_at": _iso(row.created_at),
                "team": row.team,
            }

    def list_patients(self, limit: int, offset: int, teams: list[str] | None = None) -> Page:
        with self._reading() as s:
            base = select(PatientRow.id, PatientRow.data, PatientRow.team)
            count = select(func.count()).select_from(PatientRow)
            if teams is not None:
                seen = PatientRow.team.is_(None) | PatientRow.team.in_(teams)
                base, count = base.where(seen), count.where(seen)
            total = s.scalar(count) or 0
            rows = s.execute(base.order_by(PatientRow.id).limit(limit).offset(offset))
            items = [{"id": pid, "patient": data, "team": team} for pid, data, team in rows]
        return _page(items, total, limit, offset)

    # --------------------------------------------------------------------------- care teams

    def patient_team(self, patient_id: str) -> str | None:
        with self._auth.connect() as conn:
            row = conn.execute(_PATIENT_TEAM_QUERY, {"p": patient_id}).first()
        if row is None:
            raise NotFoundError("patient", patient_id, "give the id of a registered patient")
        team: str | None = row.team
        return team

    def set_patient_team(self, patient_id: str, team: str | None, actor: Actor) -> dict[str, Any]:
        with self._write() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError("patient", patient_id, "give the id of a registered patient")
            before = {"team": row.team}
            row.team = team
            self._audit(s, actor, "patient.team", "patient", patient_id, before, {"team": team})
            return {"id": patient_id, "team": team}

    def user_teams(self, username: str) -> list[str]:
        with self._auth.connect() as conn:
            return list(conn.scalars(_USER_TEAMS_QUERY, {"u": username}))

    def set_team_member(self, team: str, username: str, member: bool, actor: Actor) -> list[str]:
        with self._write() as s:
            if s.get(UserRow, username) is None:
                raise NotFoundError("username", username, "give an existing username")
            row = s.get(TeamMemberRow, (team, username))
            if member and row is None:
                s.add(TeamMemberRow(team=team, username=username))
            elif not member and row is not None:
                s.delete(row)
            self._bump_auth_epoch(s)
            s.flush()
            action = "team.add" if member else "team.remove"
            self._audit(s, actor, action, "user", username, None, {"team": team})
            return list(
                s.scalars(
                    select(TeamMemberRow.team)
                    .where(TeamMemberRow.username == username)
                    .order_by(TeamMemberRow.team)
                )
            )

    def audited_since(self, actor: str, action: str, entity_id: str, since: dt.datetime) -> bool:
        """Whether ``actor`` has an audit entry ``action`` on ``entity_id`` since ``since``."""
        with self._reading() as s:
            found = s.scalars(
                select(AuditRow.id)
                .where(
                    AuditRow.actor == actor,
                    AuditRow.action == action,
                    AuditRow.entity_id == entity_id,
                    AuditRow.at >= since,
                )
                .limit(1)
            ).first()
            return found is not None

    def update_patient(
        self, patient_id: str, patient: Mapping[str, Any], actor: Actor, validate: Validator
    ) -> dict[str, Any]:
        """Replace a patient's record; every course of the patient gets the new record in its
        header (a new course version, each would-be course validated), all audited."""
        data = dict(patient)
        with self._write() as s:
            # The lock order (see the class): the patient, then its courses in id order, and
            # only then (in _audit) the audit lock. The courses are read under their locks, so
            # each is validated and bumped from its current version, never a stale one.
            find = select(PatientRow).where(PatientRow.id == patient_id)
            of_patient = (
                select(CourseRow).where(CourseRow.patient_id == patient_id).order_by(CourseRow.id)
            )
            if self.dialect == "postgresql":
                find = find.with_for_update(key_share=True)
                of_patient = of_patient.with_for_update()
            row = s.scalars(find).first()
            if row is None:
                raise NotFoundError("patient", patient_id, "give the id of a registered patient")
            before = dict(row.data)
            courses = list(s.scalars(of_patient))
            states = []
            for course in courses:
                payloads = list(
                    s.scalars(
                        select(EventRow.payload)
                        .where(EventRow.course_id == course.id)
                        .order_by(EventRow.seq)
                    )
                )
                states.append(validate({**course.header, "patient": data, "events": payloads}))
            row.data = data
            olds = []
            for course, state in zip(courses, states, strict=True):
                olds.append(dict(course.header))
                course.header = {**course.header, "patient": data}
                course.version = course.version + 1
                if state is not None:
                    self._put_states(s, [(course.id, course.version, state)])
            for course, old in zip(courses, olds, strict=True):
                self._audit(
                    s, actor, "course.patient_update", "course", course.id,
                    {"patient": old.get("patient")}, {"patient": data, "version": course.version},
                    course_id=course.id,
                )  # fmt: skip
            self._audit(s, actor, "patient.update", "patient", patient_id, before, data)
        return {"id": patient_id, "patient": data}

    # ------------------------------------------------------------------------------- courses

    # ------------------------------------------------------------------------------- courses

    def create_course(
        self,
        header: Mapping[str, Any],
        events: list[Mapping[str, Any]],
        actor: Actor,
        validate: Validator,
        idempotency_key: str | None = None,
        team: str | None = None,
    ) -> dict[str, Any]:
        hdr = {k: header[k] for k in HEADER_KEYS if k in header}
        request_hash = None if idempotency_key is None else _hash({**hdr, "events": [*events]})
        if idempotency_key is not None:
            prior = self._course_for_key(actor, idempotency_key, request_hash)
            if prior is not None:
                return prior
        payloads = []
        for i, ev in enumerate(events, start=1):
            p = dict(ev) if isinstance(ev, Mapping) else ev
            if isinstance(p, dict):
                p.setdefault("id", f"ev-{i}")
            payloads.append(p)
        state = validate({**hdr, "events": payloads})
        for attempt in range(RACE_RETRIES):
            try:
                return self._create_course_once(
                    hdr, payloads, actor, idempotency_key, request_hash, team, state
                )
            except IntegrityError:
                if idempotency_key is not None:
                    prior = self._course_for_key(actor, idempotency_key, request_hash)
                    if prior is not None:
                        return prior
                # Two courses for one new patient at once: the loser retries, and finds the
                # patient registered by the winner.
                if attempt == RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _course_for_key(
        self, actor: Actor, key: str, request_hash: str | None
    ) -> dict[str, Any] | None:
        """The course this account created earlier with ``key`` (a retried request), if any."""
        with self._reading() as s:
            row = s.scalars(
                select(CourseRow).where(
                    CourseRow.created_by == actor.username, CourseRow.idempotency_key == key
                )
            ).first()
            if row is None:
                return None
            if row.request_hash != request_hash:
                raise InputError(
                    "Idempotency-Key",
                    key,
                    "this key was used for a different course: use a new key",
                )
            cid = row.id
        return {**self.get_course(cid), "replayed": True}

    def _create_course_once(
        self,
        hdr: dict[str, Any],
        payloads: list[Any],
        actor: Actor,
        key: str | None = None,
        request_hash: str | None = None,
        team: str | None = None,
        state: ComputedState | None = None,
    ) -> dict[str, Any]:
        patient = hdr["patient"]
        pid = str(patient["id"])
        cid = uuid.uuid4().hex
        version = len(payloads)
        now = _now()
        with self._write() as s:
            new_patient = s.get(PatientRow, pid) is None
            if new_patient:
                s.add(
                    PatientRow(
                        id=pid,
                        data=dict(patient),
                        created_at=now,
                        created_by=actor.username,
                        team=team,
                    )
                )
                s.flush()
            s.add(
                CourseRow(
                    id=cid,
                    patient_id=pid,
                    regimen=str(hdr["regimen"]),
                    start_date=str(hdr["start_date"]),
                    header=hdr,
                    version=version,
                    created_at=now,
                    created_by=actor.username,
                    idempotency_key=key,
                    request_hash=request_hash,
                )
            )
            s.flush()
            for seq, p in enumerate(payloads, start=1):
                s.add(self._event_row(cid, seq, p, actor, now, seq, None, None))
            if state is not None:
                self._put_states(s, [(cid, version, state)])
            # Audited after the rows are written (the lock order, see the class).
            if new_patient:
                self._audit(s, actor, "patient.create", "patient", pid, None, dict(patient))
            self._audit(
                s,
                actor,
                "course.create",
                "course",
                cid,
                None,
                {**hdr, "events": payloads, "version": version},
                course_id=cid,
            )
        return self.get_course(cid)

    @staticmethod
    def _event_row(
        cid: str,
        seq: int,
        payload: dict[str, Any],
        actor: Actor,
        now: dt.datetime,
        version: int,
        key: str | None,
        request_hash: str | None,
    ) -> EventRow:
        return EventRow(**_event_values(cid, seq, payload, actor, now, version, key, request_hash))

    def _course_row(self, s: Session, course_id: str, *, lock: bool = False) -> CourseRow:
        stmt = select(CourseRow).where(CourseRow.id == course_id)
        if lock and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = s.scalars(stmt).first()
        if row is None:
            raise NotFoundError("course", course_id, "give the id of a stored course")
        return row

    def get_course(self, course_id: str) -> dict[str, Any]:
        with self._reading() as s:
            row = self._course_row(s, course_id)
            payloads = list(
                s.scalars(
                    select(EventRow.payload)
                    .where(EventRow.course_id == course_id)
                    .order_by(EventRow.seq)
                )
            )
            return {
                "id": row.id,
                "patient_id": row.patient_id,
                "version": row.version,
                "created_at": _iso(row.created_at),
                "created_by": row.created_by,
                "document": {**row.header, "events": payloads},
            }

    def list_courses(
        self, patient_id: str | None, limit: int, offset: int, teams: list[str] | None = None
    ) -> Page:
        with self._reading() as s:
            # The listed columns only: the header (JSON) is not decoded for a list.
            base = select(
                CourseRow.id,
                CourseRow.patient_id,
                CourseRow.regimen,
                CourseRow.start_date,
                CourseRow.version,
            )
            count = select(func.count()).select_from(CourseRow)
            if teams is not None:
                visible = select(PatientRow.id).where(
                    PatientRow.team.is_(None) | PatientRow.team.in_(teams)
                )
                base = base.where(CourseRow.patient_id.in_(visible))
                count = count.where(CourseRow.patient_id.in_(visible))
            if patient_id is not None:
                base = base.where(CourseRow.patient_id == patient_id)
                count = count.where(CourseRow.patient_id == patient_id)
            total = s.scalar(count) or 0
            rows = s.execute(
                base.order_by(CourseRow.created_at, CourseRow.id).limit(limit).offset(offset)
            )
            items = [
                {
                    "id": cid,
                    "patient_id": pid,
                    "regimen": regimen,
                    "start_date": start,
                    "version": version,
                }
                for cid, pid, regimen, start, version in rows
            ]
        return _page(items, total, limit, offset)

    def list_events(self, course_id: str, limit: int, offset: int) -> Page:
        with self._reading() as s:
            self._course_row(s, course_id)
            total = (
                s.scalar(
                    select(func.count())
                    .select_from(EventRow)
                    .where(EventRow.course_id == course_id)
                )
                or 0
            )
            rows = s.scalars(
                select(EventRow)
                .where(EventRow.course_id == course_id)
                .order_by(EventRow.seq)
                .limit(limit)
                .offset(offset)
            )
            items = [_event_record(r) for r in rows]
        return _page(items, total, limit, offset)

    def append_event(
        self,
        course_id: str,
        event: Mapping[str, Any],
        *,
        expected_version: int | None,
        idempotency_key: str | None,
        actor: Actor,
        validate: Validator,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> AppendResult:
        return self.append_events(
            course_id,
            [event],
            expected_version=expected_version,
            idempotency_key=idempotency_key,
            actor=actor,
            validate=validate,
            audit_extra=audit_extra,
        )[0]

    def append_events(
        self,
        course_id: str,
        events: list[Mapping[str, Any]],
        *,
        expected_version: int | None,
        idempotency_key: str | None,
        actor: Actor,
        validate: Validator,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> list[AppendResult]:
        """Record several events in one transaction: all of them or none. With a key, the
        events get ``key`` (one event) or ``key-0``, ``key-1``, ... (several)."""
        keys: list[str | None]
        if idempotency_key is None:
            keys = [None] * len(events)
        elif len(events) == 1:
            keys = [idempotency_key]
        else:
            keys = [f"{idempotency_key}-{i}" for i in range(len(events))]
        hashes = [
            None if k is None else _hash(dict(ev)) for k, ev in zip(keys, events, strict=True)
        ]
        for attempt in range(RACE_RETRIES):
            try:
                return self._append_once(
                    course_id, events, expected_version, keys, hashes, actor, validate, audit_extra
                )
            except IntegrityError:
                # A concurrent request with the same idempotency key won; the retry replays it.
                if attempt == RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _payloads(self, conn: Connection, course_id: str) -> list[Any]:
        """A course's event payloads in recorded order (as ``get_course`` reads them)."""
        if self.dialect == "postgresql":
            found = conn.execute(_PAYLOADS_ARRAY, {"c": course_id}).scalar()
            return list(found) if found is not None else []
        texts = conn.execute(_PAYLOAD_TEXTS, {"c": course_id}).scalars().all()
        if all(t.__class__ is str for t in texts):
            # Each stored text decoded on its own, as the column type decodes it row by row
            # (without the type's per-row result processing). Not joined into one array: a
            # damaged text could then combine with its neighbour into valid JSON and be read
            # as other events instead of failing.
            return [json.loads(t) for t in texts]
        return list(conn.execute(_PAYLOADS, {"c": course_id}).scalars().all())

    def _prepare_append(
        self, course_id: str, events: list[Mapping[str, Any]], validate: Validator
    ) -> _PreparedAppend | None:
        """SQLite (one writer at a time for the whole database): the would-be course validated
        from a snapshot read before the write lock is taken, so that other writers are not kept
        waiting while it is parsed and replayed. The write uses it only when, under the lock,
        the course is still at the version read (every change to a course's events or header
        makes a new version), so the document validated is the one the write would validate;
        otherwise, or when anything here fails, the write validates under the lock as ever
        (and raises what it raises)."""
        if self.dialect != "sqlite":
            return None  # PostgreSQL locks one course: its writes validate under that lock
        try:
            with self._reading() as s:
                conn = s.connection()
                head = conn.execute(_COURSE_FOR_APPEND, {"c": course_id}).first()
                if head is None:
                    return None
                payloads = self._payloads(conn, course_id)
            version, header = int(head[0]), head[1]
            new = _new_payloads(events, len(payloads) + 1)
            state = validate({**header, "events": [*payloads, *new]})
        except Exception:  # any failure: the write validates under the lock and raises it there
            return None
        return _PreparedAppend(version, header, len(payloads), new, state)

    def _append_once(
        self,
        course_id: str,
        events: list[Mapping[str, Any]],
        expected_version: int | None,
        keys: list[str | None],
        hashes: list[str | None],
        actor: Actor,
        validate: Validator,
        audit_extra: Mapping[str, Any] | None = None,
    ) -> list[AppendResult]:
        prepared = self._prepare_append(course_id, events, validate)
        with self._write() as s:
            conn = s.connection()
            head = conn.execute(
                _COURSE_FOR_APPEND_LOCKED if self.dialect == "postgresql" else _COURSE_FOR_APPEND,
                {"c": course_id},
            ).first()
            if head is None:
                raise NotFoundError("course", course_id, "give the id of a stored course")
            old, header = int(head[0]), head[1]
            wanted = [k for k in keys if k is not None]
            if wanted:
                priors = list(conn.execute(_PRIORS, {"c": course_id, "keys": wanted}))
                if priors:
                    by_key = {p.idempotency_key: p for p in priors}
                    found = [by_key.get(k) for k in keys]
                    if any(
                        p is None or p.request_hash != h for p, h in zip(found, hashes, strict=True)
                    ):
                        raise InputError(
                            "Idempotency-Key",
                            wanted[0],
                            "this key was used for a different event: use a new key",
                        )
                    return [
                        AppendResult(_event_record(p), p.course_version, replayed=True)
                        for p in found
                        if p is not None
                    ]
            if expected_version is not None and expected_version != old:
                raise ConflictError("course", course_id, expected_version, old)
            if prepared is not None and prepared.version == old and prepared.header == header:
                first_seq, new, state = prepared.count + 1, prepared.new, prepared.state
            else:
                payloads = self._payloads(conn, course_id)
                first_seq = len(payloads) + 1
                new = _new_payloads(events, first_seq)
                state = validate({**header, "events": [*payloads, *new]})
            done = conn.execute(_BUMP_VERSION, {"c": course_id, "old": old, "new": old + len(new)})
            if done.rowcount != 1:
                raise ConflictError("course", course_id, expected_version, old + len(new))
            if state is not None:
                self._put_states(s, [(course_id, old + len(new), state)])
            results: list[AppendResult] = []
            now = _now()
            for i, payload in enumerate(new):
                seq, version = first_seq + i, old + i + 1
                values = _event_values(
                    course_id, seq, payload, actor, now, version, keys[i], hashes[i]
                )
                _check_values(EventRow.__table__, values)
                conn.execute(_INSERT_EVENT, values)
                action = (
                    "event.supersede" if payload.get("supersedes") is not None else "event.append"
                )
                self._audit(
                    s,
                    actor,
                    action,
                    "event",
                    f"{course_id}/{payload['id']}",
                    {"version": version - 1},
                    {"version": version, "seq": seq, "event": payload, **(audit_extra or {})},
                    course_id=course_id,
                )
                results.append(AppendResult(_values_record(values), version))
            return results

    # ------------------------------------------------------------------------- course states

    def _put_states(self, s: Session, states: list[tuple[str, int, ComputedState]]) -> int:
        """Keep each computed state unless the course keeps a newer one already: a newer
        version, or the same version for a later date (an upgraded engine replaces a state of
        the same version and date). Answers how many were kept."""
        kept = 0
        now = _now()
        s.flush()
        conn = s.connection()
        for course_id, version, state in states:
            params = {
                "v_course_id": course_id,
                "v_version": version,
                "v_as_of": state.as_of,
                "v_engine": state.engine,
                "v_state": state.state_json,
                "v_summary": state.summary,
                "v_computed_at": now,
            }
            if self.dialect == "postgresql":
                kept += len(conn.execute(self._state_upsert, params).all())
            else:  # SQLite 3.24+ (upsert); RETURNING would need 3.35
                kept += conn.execute(self._state_upsert, params).rowcount
        return kept

    def put_course_states(self, states: list[tuple[str, int, ComputedState]]) -> int:
        """Keep states computed on a read (course id, the version they were computed from,
        the state) in one transaction; a state never replaces a newer one (see
        :meth:`_put_states`). Answers how many were kept.

        Best effort: the reader has its answer already, so a refresh that would wait for a
        writer's row lock (PostgreSQL: longer than :data:`REFRESH_LOCK_TIMEOUT_MS`) or fails
        keeps nothing and answers 0; it never makes a writer wait long or become a deadlock
        victim (its timeout is shorter than the deadlock check)."""
        if not states:
            return 0
        ordered = sorted(states, key=lambda item: item[0])  # one lock order for every refresh
        try:
            with self._write() as s:
                if self.dialect == "postgresql":
                    s.execute(text(f"SET LOCAL lock_timeout = {REFRESH_LOCK_TIMEOUT_MS}"))
                return self._put_states(s, ordered)
        except DBAPIError:
            return 0

    def course_state_record(self, course_id: str, with_state: bool = True) -> dict[str, Any]:
        """A course's patient and current version with the state stored for it, if any
        (``stored``: version, as_of, engine and the state's JSON text), in one query; without
        ``with_state`` only the patient and version (``stored`` is ``None``)."""
        if not with_state:
            # One statement, as the token and team reads on the request path (no BEGIN/ROLLBACK).
            with self._auth.connect() as conn:
                head = conn.execute(_COURSE_HEAD, {"c": course_id}).first()
            if head is None:
                raise NotFoundError("course", course_id, "give the id of a stored course")
            return {"id": course_id, "patient_id": head[0], "version": head[1], "stored": None}
        with self._reading() as s:
            found = s.execute(
                select(
                    CourseRow.patient_id,
                    CourseRow.version,
                    CourseStateRow.version,
                    CourseStateRow.as_of,
                    CourseStateRow.engine,
                    CourseStateRow.state,
                )
                .outerjoin(CourseStateRow, CourseStateRow.course_id == CourseRow.id)
                .where(CourseRow.id == course_id)
            ).first()
        if found is None:
            raise NotFoundError("course", course_id, "give the id of a stored course")
        patient_id, version, s_version, as_of, engine, state = found
        stored = (
            None
            if s_version is None
            else {"version": s_version, "as_of": as_of, "engine": engine, "state": state}
        )
        return {"id": course_id, "patient_id": patient_id, "version": version, "stored": stored}

    def course_summaries(self, teams: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The stored summary of every course (of patients without a team or in ``teams``,
        when given): course id → version, as_of, engine and summary."""
        with self._reading() as s:
            stmt = select(
                CourseStateRow.course_id,
                CourseStateRow.version,
                CourseStateRow.as_of,
                CourseStateRow.engine,
                CourseStateRow.summary,
            )
            if teams is not None:
                visible = select(PatientRow.id).where(
                    PatientRow.team.is_(None) | PatientRow.team.in_(teams)
                )
                stmt = stmt.join(CourseRow, CourseRow.id == CourseStateRow.course_id).where(
                    CourseRow.patient_id.in_(visible)
                )
            return {
                cid: {"version": v, "as_of": a, "engine": e, "summary": m}
                for cid, v, a, e, m in s.execute(stmt)
            }

    # ------------------------------------------------------------------------------ accounts

    def create_user(
        self, username: str, password_hash: str, role: Role, actor: Actor
    ) -> dict[str, Any]:
        try:
            with self._write() as s:
                if s.get(UserRow, username) is not None:
                    raise DuplicateError("username", username, "choose a username not yet taken")
                row = UserRow(
                    username=username,
                    password_hash=password_hash,
                    role=role.value,
                    disabled=False,
                    created_at=_now(),
                )
                s.add(row)
                s.flush()
                rec = _user_record(row)
                self._audit(s, actor, "user.create", "user", username, None, rec)
        except IntegrityError:
            raise DuplicateError("username", username, "choose a username not yet taken") from None
        return rec

    def get_user(self, username: str) -> dict[str, Any]:
        with self._reading() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError("username", username, "give an existing username")
            return _user_record(row)

    def user_password_hash(self, username: str) -> str | None:
        with self._reading() as s:
            row = s.get(UserRow, username)
            return None if row is None else row.password_hash

    def update_password_hash(
        self, username: str, password_hash: str, *, revoke_tokens: bool = False
    ) -> None:
        with self._write() as s:
            s.execute(
                update(UserRow)
                .where(UserRow.username == username)
                .values(password_hash=password_hash)
            )
            if revoke_tokens:
                s.execute(
                    update(TokenRow).where(TokenRow.username == username).values(revoked=True)
                )
                self._bump_auth_epoch(s)

    def list_users(self) -> list[dict[str, Any]]:
        with self._reading() as s:
            return [_user_record(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_user_disabled(self, username: str, disabled: bool, actor: Actor) -> dict[str, Any]:
        with self._write() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError("username", username, "give an existing username")
            before = _user_record(row)
            if disabled and row.role == Role.ADMIN.value and not row.disabled:
                admins = select(UserRow).where(
                    UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False)
                )
                if self.dialect == "postgresql":
                    # In username order, like every set of rows locked at once.
                    admins = admins.order_by(UserRow.username).with_for_update()
                if len(list(s.scalars(admins))) <= 1:
                    raise InputError(
                        "username",
                        username,
                        "this is the last enabled admin account: add or enable another admin "
                        "first, so that someone can still manage accounts",
                    )
            row.disabled = disabled
            if disabled:
                s.execute(
                    update(TokenRow).where(TokenRow.username == username).values(revoked=True)
                )
            self._bump_auth_epoch(s)
            s.flush()
            after = _user_record(row)
            self._audit(
                s,
                actor,
                "user.disable" if disabled else "user.enable",
                "user",
                username,
                before,
                after,
            )
            return after

    def set_user_role(self, username: str, role: Role, actor: Actor) -> dict[str, Any]:
        with self._write() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError("username", username, "give an existing username")
            before = _user_record(row)
            row.role = role.value
            self._bump_auth_epoch(s)
            s.flush()
            after = _user_record(row)
            self._audit(s, actor, "user.role", "user", username, before, after)
            return after

    def add_token(
        self,
        token_hash: str,
        username: str,
        kind: str,
        expires_at: dt.datetime,
        csrf_hash: str | None = None,
    ) -> None:
        with self._write() as s:
            s.add(
                TokenRow(
                    token_hash=token_hash,
                    username=username,
                    kind=kind,
                    csrf_hash=csrf_hash,
                    created_at=_now(),
                    expires_at=expires_at,
                    revoked=False,
                )
            )

    def token_user(self, token_hash: str, kind: str) -> dict[str, Any] | None:
        """The enabled account a live token belongs to, with ``csrf_hash``.

        A resolved token is cached in this process with the auth epoch read *before* it was
        looked up; a hit is used only while the epoch is unchanged, so a revocation or account
        change committed by any process is seen on the next request (the epoch is read on
        every call: one primary-key read instead of the join and two ORM objects)."""
        key = (token_hash, kind)
        epoch = self.auth_epoch()
        if epoch is not None:
            hit = self._tokens.get(key)
            if (
                hit is not None
                and hit[0] == epoch
                and time.monotonic() - hit[1] < TOKEN_CACHE_S
                and hit[2] > _now()
            ):
                return dict(hit[3])
        found = self._token_user(token_hash, kind)
        if found is None:
            self._tokens.pop(key, None)
            return None
        expires, record = found
        if epoch is not None:
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.clear()
            self._tokens[key] = (epoch, time.monotonic(), expires, record)
        return dict(record)

    def _token_user(self, token_hash: str, kind: str) -> tuple[dt.datetime, dict[str, Any]] | None:
        with self._auth.connect() as conn:
            row = conn.execute(_TOKEN_QUERY, {"h": token_hash, "k": kind}).first()
        if row is None:
            return None
        expires = _utc(row.expires_at)
        if row.revoked or row.disabled or expires <= _now():
            return None
        record = {
            "username": row.username,
            "role": row.role,
            "disabled": row.disabled,
            "created_at": _iso(row.created_at),
            "csrf_hash": row.csrf_hash,
        }
        return expires, record

    def revoke_token(self, token_hash: str) -> None:
        with self._write() as s:
            s.execute(
                update(TokenRow).where(TokenRow.token_hash == token_hash).values(revoked=True)
            )
            self._bump_auth_epoch(s)
        for kind in ("bearer", "session"):
            self._tokens.pop((token_hash, kind), None)

    def remember_jwt(self, key: str, expires_at: dt.datetime, *, grace_s: float = 0) -> bool:
        """Record a JWT (``iss|jti``) as used until ``expires_at``; ``False`` when it was
        already recorded and has not expired (a replay). Shared by every process on the
        database: the primary key makes exactly one of two concurrent first uses succeed.
        Entries more than ``grace_s`` seconds past their expiry are purged on the way."""
        cutoff = _now() - dt.timedelta(seconds=grace_s)
        try:
            with self._write() as s:
                s.execute(delete(SeenJwtRow).where(SeenJwtRow.expires_at < cutoff))
                s.add(SeenJwtRow(key=key, expires_at=_utc(expires_at)))
        except IntegrityError:
            return False
        return True

    # --------------------------------------------------------------------------------- audit

    def record_audit(
        self,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        course_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a sign-off that changes no other table (e.g. a pharmacist's plan check)."""
        with self._write() as s:
            self._audit(s, actor, action, entity, entity_id, before, after, course_id=course_id)
            s.flush()
        return {"actor": actor.username, "action": action, "entity": entity, "entity_id": entity_id}

    def verify_audit(self, batch: int = 1000) -> dict[str, Any]:
        """Walk the audit log's hash chain: every entry's hash recomputed from its content and
        its predecessor's hash. Answers counts, the head hash and the first problems found."""
        problems: list[str] = []
        total = chained = 0
        prev: str | None = None
        head: str | None = None
        started = False
        last_id = 0
        with self._reading() as s:
            while True:
                rows = list(
                    s.scalars(
                        select(AuditRow)
                        .where(AuditRow.id > last_id)
                        .order_by(AuditRow.id)
                        .limit(batch)
                    )
                )
                if not rows:
                    break
                for row in rows:
                    total += 1
                    last_id = row.id
                    if row.hash is None:
                        if started:
                            problems.append(f"entry {row.id}: no hash after the chain began")
                        continue
                    started = True
                    chained += 1
                    if row.prev_hash != prev:
                        problems.append(
                            f"entry {row.id}: links to {row.prev_hash}, the previous entry is "
                            f"{prev} (an entry was removed or inserted)"
                        )
                    if _chain_hash(row) != row.hash:
                        problems.append(f"entry {row.id}: its content does not match its hash")
                    prev = row.hash
                    head = row.hash
        return {
            "ok": not problems,
            "entries": total,
            "chained": chained,
            "unchained_before_chain": total - chained if not problems else None,
            "head": head,
            "problems": problems[:50],
        }

    def audit_entries(
        self, course_id: str | None, entity: str | None, limit: int, offset: int
    ) -> Page:
        with self._reading() as s:
            base = select(AuditRow)
            count = select(func.count()).select_from(AuditRow)
            if course_id is not None:
                base = base.where(AuditRow.course_id == course_id)
                count = count.where(AuditRow.course_id == course_id)
            if entity is not None:
                base = base.where(AuditRow.entity == entity)
                count = count.where(AuditRow.entity == entity)
            total = s.scalar(count) or 0
            rows = s.scalars(base.order_by(AuditRow.id).limit(limit).offset(offset))
            items = [
                {
                    "id": r.id,
                    "at": _iso(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "course_id": r.course_id,
                    "before": r.before,
                    "after": r.after,
                    "request_id": r.request_id,
                }
                for r in rows
            ]
        return _page(items, total, limit, offset)

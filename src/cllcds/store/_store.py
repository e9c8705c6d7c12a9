"""The SQL implementation of :class:`cllcds.services.CourseRepository`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cllcds.domain import InputError, NotFoundError
from cllcds.services import (
    Actor,
    AppendResult,
    ConflictError,
    DuplicateError,
    Page,
    Role,
    Validator,
)

from ._engine import make_engine, upgrade
from ._models import (
    AuditRow,
    CourseRow,
    EventRow,
    PatientRow,
    SeenJwtRow,
    TokenRow,
    UserRow,
)

HEADER_KEYS = ("format", "rule_sets", "patient", "regimen", "start_date", "baseline")
#: Retries of a write that lost a unique-key race to a concurrent identical write.
RACE_RETRIES = 3


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _hash(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def _page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> Page:
    nxt = offset + limit if offset + limit < total else None
    return Page(items=items, next_offset=nxt, total=total)


def _event_record(row: EventRow) -> dict[str, Any]:
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
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(cllcds_write=True), expire_on_commit=False
        )
        # SQLite has one writer at a time; queueing this process's writers on a lock avoids
        # the busy handler's sleep-and-poll (latency spikes). Other processes still wait on
        # busy_timeout. PostgreSQL serialises per course with row locks instead.
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )

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

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, self._writer() as session, session.begin():
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @staticmethod
    def _audit(
        s: Session,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        course_id: str | None = None,
    ) -> None:
        s.add(
            AuditRow(
                at=_now(),
                actor=actor.username,
                action=action,
                entity=entity,
                entity_id=entity_id,
                course_id=course_id,
                before=before,
                after=after,
                request_id=actor.request_id[:64],
            )
        )

    # ------------------------------------------------------------------------------ patients

    def create_patient(self, patient: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        pid = str(patient["id"])
        data = dict(patient)
        try:
            with self._write() as s:
                if s.get(PatientRow, pid) is not None:
                    raise DuplicateError("patient.id", pid, "use an id not yet registered")
                s.add(PatientRow(id=pid, data=data, created_at=_now(), created_by=actor.username))
                self._audit(s, actor, "patient.create", "patient", pid, None, data)
        except IntegrityError:
            raise DuplicateError("patient.id", pid, "use an id not yet registered") from None
        return {"id": pid, "patient": data}

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        with self._reading() as s:
            row = s.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError("patient", patient_id, "give the id of a registered patient")
            return {"id": row.id, "patient": row.data, "created_at": _iso(row.created_at)}

    def list_patients(self, limit: int, offset: int) -> Page:
        with self._reading() as s:
            total = s.scalar(select(func.count()).select_from(PatientRow)) or 0
            rows = s.scalars(select(PatientRow).order_by(PatientRow.id).limit(limit).offset(offset))
            items = [{"id": r.id, "patient": r.data} for r in rows]
        return _page(items, total, limit, offset)

    # ------------------------------------------------------------------------------- courses

    def create_course(
        self,
        header: Mapping[str, Any],
        events: list[Mapping[str, Any]],
        actor: Actor,
        validate: Validator,
    ) -> dict[str, Any]:
        hdr = {k: header[k] for k in HEADER_KEYS if k in header}
        payloads = []
        for i, ev in enumerate(events, start=1):
            p = dict(ev) if isinstance(ev, Mapping) else ev
            if isinstance(p, dict):
                p.setdefault("id", f"ev-{i}")
            payloads.append(p)
        validate({**hdr, "events": payloads})
        for attempt in range(RACE_RETRIES):
            try:
                return self._create_course_once(hdr, payloads, actor)
            except IntegrityError:
                # Two courses for one new patient at once: the loser retries, and finds the
                # patient registered by the winner.
                if attempt == RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_course_once(
        self, hdr: dict[str, Any], payloads: list[Any], actor: Actor
    ) -> dict[str, Any]:
        patient = hdr["patient"]
        pid = str(patient["id"])
        cid = uuid.uuid4().hex
        version = len(payloads)
        now = _now()
        with self._write() as s:
            if s.get(PatientRow, pid) is None:
                s.add(
                    PatientRow(
                        id=pid, data=dict(patient), created_at=now, created_by=actor.username
                    )
                )
                self._audit(s, actor, "patient.create", "patient", pid, None, dict(patient))
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
                )
            )
            s.flush()
            for seq, p in enumerate(payloads, start=1):
                s.add(self._event_row(cid, seq, p, actor, now, seq, None, None))
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
        return EventRow(
            course_id=cid,
            seq=seq,
            event_id=str(payload["id"]),
            date=str(payload.get("date")),
            type=str(payload.get("type")),
            payload=payload,
            supersedes=None if payload.get("supersedes") is None else str(payload["supersedes"]),
            recorded_by=actor.username,
            recorded_at=now,
            course_version=version,
            idempotency_key=key,
            request_hash=request_hash,
        )

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

    def list_courses(self, patient_id: str | None, limit: int, offset: int) -> Page:
        with self._reading() as s:
            base = select(CourseRow)
            count = select(func.count()).select_from(CourseRow)
            if patient_id is not None:
                base = base.where(CourseRow.patient_id == patient_id)
                count = count.where(CourseRow.patient_id == patient_id)
            total = s.scalar(count) or 0
            rows = s.scalars(
                base.order_by(CourseRow.created_at, CourseRow.id).limit(limit).offset(offset)
            )
            items = [
                {
                    "id": r.id,
                    "patient_id": r.patient_id,
                    "regimen": r.regimen,
                    "start_date": r.start_date,
                    "version": r.version,
                }
                for r in rows
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
    ) -> AppendResult:
        request_hash = _hash(dict(event)) if idempotency_key is not None else None
        for attempt in range(RACE_RETRIES):
            try:
                return self._append_once(
                    course_id,
                    event,
                    expected_version,
                    idempotency_key,
                    request_hash,
                    actor,
                    validate,
                )
            except IntegrityError:
                # A concurrent request with the same idempotency key won; the retry replays it.
                if attempt == RACE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _append_once(
        self,
        course_id: str,
        event: Mapping[str, Any],
        expected_version: int | None,
        key: str | None,
        request_hash: str | None,
        actor: Actor,
        validate: Validator,
    ) -> AppendResult:
        with self._write() as s:
            course = self._course_row(s, course_id, lock=True)
            if key is not None:
                prior = s.scalars(
                    select(EventRow).where(
                        EventRow.course_id == course_id, EventRow.idempotency_key == key
                    )
                ).first()
                if prior is not None:
                    if prior.request_hash != request_hash:
                        raise InputError(
                            "Idempotency-Key",
                            key,
                            "this key was used for a different event: use a new key",
                        )
                    return AppendResult(_event_record(prior), prior.course_version, replayed=True)
            if expected_version is not None and expected_version != course.version:
                raise ConflictError("course", course_id, expected_version, course.version)
            payloads = list(
                s.scalars(
                    select(EventRow.payload)
                    .where(EventRow.course_id == course_id)
                    .order_by(EventRow.seq)
                )
            )
            seq = len(payloads) + 1
            payload = dict(event)
            payload.setdefault("id", f"ev-{seq}")
            validate({**course.header, "events": [*payloads, payload]})
            old = course.version
            done = s.execute(
                update(CourseRow)
                .where(CourseRow.id == course_id, CourseRow.version == old)
                .values(version=old + 1)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError("course", course_id, expected_version, old + 1)
            row = self._event_row(
                course_id, seq, payload, actor, _now(), old + 1, key, request_hash
            )
            s.add(row)
            action = "event.supersede" if payload.get("supersedes") is not None else "event.append"
            self._audit(
                s,
                actor,
                action,
                "event",
                f"{course_id}/{payload['id']}",
                {"version": old},
                {"version": old + 1, "seq": seq, "event": payload},
                course_id=course_id,
            )
            s.flush()
            return AppendResult(_event_record(row), old + 1)

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

    def update_password_hash(self, username: str, password_hash: str) -> None:
        with self._write() as s:
            s.execute(
                update(UserRow)
                .where(UserRow.username == username)
                .values(password_hash=password_hash)
            )

    def list_users(self) -> list[dict[str, Any]]:
        with self._reading() as s:
            return [_user_record(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_user_disabled(self, username: str, disabled: bool, actor: Actor) -> dict[str, Any]:
        with self._write() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise NotFoundError("username", username, "give an existing username")
            before = _user_record(row)
            row.disabled = disabled
            if disabled:
                s.execute(
                    update(TokenRow).where(TokenRow.username == username).values(revoked=True)
                )
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
        with self._reading() as s:
            found = s.execute(
                select(TokenRow, UserRow)
                .join(UserRow, UserRow.username == TokenRow.username)
                .where(TokenRow.token_hash == token_hash, TokenRow.kind == kind)
            ).first()
            if found is None:
                return None
            token, user = found
            if token.revoked or user.disabled or _utc(token.expires_at) <= _now():
                return None
            return {**_user_record(user), "csrf_hash": token.csrf_hash}

    def revoke_token(self, token_hash: str) -> None:
        with self._write() as s:
            s.execute(
                update(TokenRow).where(TokenRow.token_hash == token_hash).values(revoked=True)
            )

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
    ) -> dict[str, Any]:
        """Record a sign-off that changes no other table (e.g. a pharmacist's plan check)."""
        with self._write() as s:
            self._audit(s, actor, action, entity, entity_id, before, after)
            s.flush()
        return {"actor": actor.username, "action": action, "entity": entity, "entity_id": entity_id}

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

"""SQLAlchemy 2 models (typed). Private to the store: nothing outside it sees an ORM object."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cllcds.services._limits import (
    AUDIT_ACTION_CHARS,
    AUDIT_ENTITY_CHARS,
    AUDIT_ENTITY_ID_CHARS,
    COURSE_ID_CHARS,
    DATE_CHARS,
    EVENT_TYPE_CHARS,
    ID_CHARS,
    IDEMPOTENCY_KEY_CHARS,
    REQUEST_ID_CHARS,
    ROLE_CHARS,
    TEAM_CHARS,
    USERNAME_CHARS,
)

#: A SHA-256 in hex.
HASH_CHARS = 64
#: The engine a stored state was computed by (``cllcds.services`` ``state_engine()``).
ENGINE_CHARS = 100

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention (stable constraint names for migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        dt.datetime: DateTime(timezone=True),
    }


class PatientRow(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(USERNAME_CHARS))
    #: The care team the patient belongs to (``None``: the default team everyone sees).
    team: Mapped[str | None] = mapped_column(String(TEAM_CHARS))


class CourseRow(Base):
    __tablename__ = "courses"

    __table_args__ = (
        Index("uq_courses_created_idempotency", "created_by", "idempotency_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(COURSE_ID_CHARS), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    regimen: Mapped[str] = mapped_column(String(ID_CHARS))
    start_date: Mapped[str] = mapped_column(String(DATE_CHARS))
    header: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(USERNAME_CHARS))
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_CHARS))
    request_hash: Mapped[str | None] = mapped_column(String(HASH_CHARS))


class CourseStateRow(Base):
    """A course's state as computed for one version and date (``cllcds.state/1`` JSON text, as
    the API answers it) with the summary the patient list shows. Served only when the version,
    date and engine match the request (``cllcds.services`` decides)."""

    __tablename__ = "course_states"

    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[str] = mapped_column(String(DATE_CHARS))
    engine: Mapped[str] = mapped_column(String(ENGINE_CHARS))
    state: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict[str, Any]]
    computed_at: Mapped[dt.datetime]


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("course_id", "seq", name="uq_events_course_seq"),
        UniqueConstraint("course_id", "idempotency_key", name="uq_events_course_idempotency"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(ID_CHARS))
    date: Mapped[str] = mapped_column(String(DATE_CHARS))
    type: Mapped[str] = mapped_column(String(EVENT_TYPE_CHARS))
    payload: Mapped[dict[str, Any]]
    supersedes: Mapped[str | None] = mapped_column(String(ID_CHARS))
    recorded_by: Mapped[str] = mapped_column(String(USERNAME_CHARS))
    recorded_at: Mapped[dt.datetime]
    course_version: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_CHARS))
    request_hash: Mapped[str | None] = mapped_column(String(HASH_CHARS))


class UserRow(Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(USERNAME_CHARS), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(ROLE_CHARS))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]


class TokenRow(Base):
    __tablename__ = "tokens"

    token_hash: Mapped[str] = mapped_column(String(HASH_CHARS), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"), index=True)
    kind: Mapped[str] = mapped_column(String(ROLE_CHARS))
    csrf_hash: Mapped[str | None] = mapped_column(String(HASH_CHARS))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthEpochRow(Base):
    """One row (``id`` 1): a counter bumped, in the same transaction, by every change that can
    make a resolved token wrong (revocation, disabling, role or team change)."""

    __tablename__ = "auth_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_course", "course_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(USERNAME_CHARS))
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_CHARS))
    entity: Mapped[str] = mapped_column(String(AUDIT_ENTITY_CHARS))
    entity_id: Mapped[str] = mapped_column(String(AUDIT_ENTITY_ID_CHARS))
    course_id: Mapped[str | None] = mapped_column(String(COURSE_ID_CHARS))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_CHARS))
    #: The hash chain: this entry's SHA-256 over its content and the previous entry's hash.
    prev_hash: Mapped[str | None] = mapped_column(String(HASH_CHARS))
    hash: Mapped[str | None] = mapped_column(String(HASH_CHARS))


class TeamMemberRow(Base):
    """A user's membership of a care team."""

    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(String(TEAM_CHARS), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"), primary_key=True)


class SeenJwtRow(Base):
    """A CDS Hooks JWT already accepted (``iss|jti``), kept until it expires (replay check)."""

    __tablename__ = "seen_jwt"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

"""The storage port: what the clinical use cases need from a store of courses.

Services must not import adapters, so the use cases in :mod:`._clinical_store` take any object
that satisfies :class:`CourseRepository`; ``cllcds.store.Store`` is the SQL implementation. Every
value crossing this boundary is plain data (dicts, lists, str, int): no ORM object, no driver
type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from cllcds.domain import CllcdsError, InputError


class Role(StrEnum):
    """What an account may do."""

    CLINICIAN = "clinician"  # read and record
    PHARMACIST = "pharmacist"  # read, verify plans
    VIEWER = "viewer"  # read only
    ADMIN = "admin"  # manage users (and read)


class ConflictError(CllcdsError):
    """A write lost a race: the course changed since the writer read it (HTTP 409/412)."""

    def __init__(self, entity: str, entity_id: str, expected: int | None, actual: int) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{entity} {entity_id} is at version {actual}, not {expected}: "
            "re-read it and apply the change again"
        )


class DuplicateError(InputError):
    """An identifier that is already taken (a patient id, a course id, a username)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is writing, for the audit log."""

    username: str
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an event append answers: the stored event, the new course version, and whether the
    answer is a replay of an earlier request with the same idempotency key."""

    event: dict[str, Any]
    version: int
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, with the offset of the next page (``None`` at the end)."""

    items: list[dict[str, Any]]
    next_offset: int | None
    total: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ComputedState:
    """A course state computed for one evaluation date, ready to be kept with the course version
    it was computed from: the ``cllcds.state/1`` document as JSON text (exactly the bytes the API
    answers), the summary the patient list shows, and the engine it was computed with (a stored
    state of another engine is never served)."""

    as_of: str
    engine: str
    state_json: str
    summary: dict[str, Any]


#: Checks a would-be course document before a write commits (raises when it is invalid); it may
#: answer the state of the valid document for today, which the store keeps with the new version.
Validator = Callable[[Mapping[str, Any]], ComputedState | None]


class CourseRepository(Protocol):
    """A durable store of patients, courses (append-only events), users, tokens and audit."""

    # patients
    def create_patient(
        self, patient: Mapping[str, Any], actor: Actor, team: str | None = None
    ) -> dict[str, Any]: ...

    def get_patient(self, patient_id: str) -> dict[str, Any]: ...

    def list_patients(self, limit: int, offset: int, teams: list[str] | None = None) -> Page: ...

    # care teams
    def patient_team(self, patient_id: str) -> str | None: ...

    def set_patient_team(
        self, patient_id: str, team: str | None, actor: Actor
    ) -> dict[str, Any]: ...

    def user_teams(self, username: str) -> list[str]: ...

    def set_team_member(
        self, team: str, username: str, member: bool, actor: Actor
    ) -> list[str]: ...

    def audited_since(
        self, actor: str, action: str, entity_id: str, since: dt.datetime
    ) -> bool: ...

    def update_patient(
        self, patient_id: str, patient: Mapping[str, Any], actor: Actor, validate: Validator
    ) -> dict[str, Any]: ...

    # courses
    def create_course(
        self,
        header: Mapping[str, Any],
        events: list[Mapping[str, Any]],
        actor: Actor,
        validate: Validator,
        idempotency_key: str | None = None,
        team: str | None = None,
    ) -> dict[str, Any]: ...

    def get_course(self, course_id: str) -> dict[str, Any]: ...

    def list_courses(
        self, patient_id: str | None, limit: int, offset: int, teams: list[str] | None = None
    ) -> Page: ...

    def list_events(self, course_id: str, limit: int, offset: int) -> Page: ...

    # stored course states
    def course_state_record(self, course_id: str, with_state: bool = True) -> dict[str, Any]: ...

    def put_course_states(self, states: list[tuple[str, int, ComputedState]]) -> int: ...

    def course_summaries(self, teams: list[str] | None = None) -> dict[str, dict[str, Any]]: ...

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
    ) -> AppendResult: ...

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
    ) -> list[AppendResult]: ...

    # accounts
    def create_user(
        self, username: str, password_hash: str, role: Role, actor: Actor
    ) -> dict[str, Any]: ...

    def get_user(self, username: str) -> dict[str, Any]: ...

    def user_password_hash(self, username: str) -> str | None: ...

    def update_password_hash(
        self, username: str, password_hash: str, *, revoke_tokens: bool = False
    ) -> None:
        """Store a new password hash; ``revoke_tokens`` also ends every session and API token
        of the account (a password reset), seen by every worker on its next request."""

    def list_users(self) -> list[dict[str, Any]]: ...

    def set_user_disabled(self, username: str, disabled: bool, actor: Actor) -> dict[str, Any]: ...

    def set_user_role(self, username: str, role: Role, actor: Actor) -> dict[str, Any]: ...

    def add_token(
        self,
        token_hash: str,
        username: str,
        kind: str,
        expires_at: dt.datetime,
        csrf_hash: str | None = None,
    ) -> None: ...

    def token_user(self, token_hash: str, kind: str) -> dict[str, Any] | None: ...

    def revoke_token(self, token_hash: str) -> None: ...

    # audit
    def record_audit(
        self,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        course_id: str | None = None,
    ) -> dict[str, Any]: ...

    def verify_audit(self) -> dict[str, Any]: ...

    def audit_entries(
        self, course_id: str | None, entity: str | None, limit: int, offset: int
    ) -> Page: ...

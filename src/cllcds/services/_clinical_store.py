"""Clinical use cases over a stored course: patients, courses, events, state, users, audit.

Every write is validated the same way a course document file is: the would-be document (the
stored header, every stored event and the new one) goes through :func:`load_course` before the
repository commits, so an invalid event never enters the store and the error names its field
(``events[12].value``). The repository is any :class:`CourseRepository` (``cllcds.store``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cllcds.domain import COURSE_FORMAT, DocumentError, InputError, ResponseCriteria

from ._course import assess_course, assess_response_document, load_course
from ._limits import (
    ID_CHARS,
    IDEMPOTENCY_KEY_CHARS,
    PASSWORD_CHARS,
    TEAM_CHARS,
    USERNAME_CHARS,
    DatePolicy,
    check_event_date,
    check_start_date,
    check_text,
    check_tree,
)
from ._planning import regimen_list
from ._repository import (
    Actor,
    AppendResult,
    ComputedState,
    CourseRepository,
    Page,
    Role,
    Validator,
)
from ._stored_state import course_state_dict, validated_state

#: Keys of a course document that make up a stored course's header (events are stored apart).
HEADER_KEYS = ("format", "rule_sets", "patient", "regimen", "start_date", "baseline")
MIN_PASSWORD_LENGTH = 8
#: Longest identifier (patient id, event id) the store keeps.
MAX_ID_LENGTH = ID_CHARS
USERNAME_MAX = USERNAME_CHARS

_HASHER = PasswordHasher()


def _validate_document(doc: Mapping[str, Any]) -> ComputedState | None:
    """Refuse a would-be course the engine cannot judge: it must parse, and it must replay
    (a stored course whose state cannot be computed would fail on every later read). Answers
    the course's state for today (from the same parse), which the store keeps with the new
    version (``None`` when it cannot be computed: see :func:`validated_state`)."""
    return validated_state(doc)


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(field, value, "give a JSON object")
    _storable(value, field)
    return value


def _storable(value: Any, where: str) -> None:
    """Refuse what cannot be stored and given back (:func:`check_tree`: surrogates, NUL and
    control characters, lengths, depth, huge integers, NaN and infinities)."""
    check_tree(value, where)


def _dated(policy: DatePolicy | None, new: int) -> Validator:
    """The write validator: the last ``new`` events' dates against the policy (start date
    too when the course is new), then the whole would-be course must parse and replay."""
    rules = policy or DatePolicy()

    def validate(doc: Mapping[str, Any]) -> ComputedState | None:
        events = doc.get("events") or []
        start = doc.get("start_date")
        if isinstance(events, list):
            if new >= len(events):
                check_start_date(start, rules)
            first = len(events) - new
            for i in range(max(first, 0), len(events)):
                ev = events[i]
                if isinstance(ev, Mapping):
                    check_event_date(ev.get("date"), start, rules, f"events[{i}].date")
        return _validate_document(doc)

    return validate


def _identifier(value: Any, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InputError(field, value, f"give text of 1 to {MAX_ID_LENGTH} characters")


# ------------------------------------------------------------------------------------- patients


def validate_patient(patient: Any) -> dict[str, Any]:
    """Check a patient object as the course document defines it; problems name ``patient.*``."""
    obj = dict(_object(patient, "patient"))
    if obj.get("id") is None:
        raise InputError("patient.id", None, "give the patient id")
    _identifier(obj.get("id"), "patient.id")
    probe = {
        "format": COURSE_FORMAT,
        "patient": obj,
        "regimen": regimen_list()[0].id,
        "start_date": "2000-01-01",
    }
    try:
        load_course(probe)
    except DocumentError as exc:
        problems = [p for p in exc.problems if p.field.startswith("patient")]
        if problems:
            raise DocumentError("patient", problems) from None
    return obj


def create_patient(
    repo: CourseRepository, patient: Any, actor: Actor, team: str | None = None
) -> dict[str, Any]:
    """Register a patient (the course document's patient object), in ``team`` if given."""
    return repo.create_patient(validate_patient(patient), actor, team)


def get_patient(repo: CourseRepository, patient_id: str) -> dict[str, Any]:
    """One patient."""
    return repo.get_patient(patient_id)


def list_patients(
    repo: CourseRepository, limit: int = 50, offset: int = 0, teams: list[str] | None = None
) -> Page:
    """A page of patients, by id (only those without a team or in ``teams``, when given)."""
    return repo.list_patients(limit, offset, teams)


# -------------------------------------------------------------------------------------- courses


def _key(idempotency_key: str | None) -> None:
    if idempotency_key is not None:
        check_text(idempotency_key, "Idempotency-Key", max_chars=IDEMPOTENCY_KEY_CHARS)
        if not idempotency_key:
            raise InputError(
                "Idempotency-Key", idempotency_key, f"give 1 to {IDEMPOTENCY_KEY_CHARS} characters"
            )


def create_course(
    repo: CourseRepository,
    doc: Any,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
    dates: DatePolicy | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    """Store a new course from a course document (header, and optionally initial events).

    ``patient`` may be the patient object or the id of a registered patient. Retrying with the
    same ``idempotency_key`` (per account) answers the course made the first time
    (``"replayed": True``) and stores nothing new.
    """
    _key(idempotency_key)
    body = dict(_object(doc, "course"))
    body.setdefault("format", COURSE_FORMAT)
    if isinstance(body.get("patient"), str):
        body["patient"] = repo.get_patient(body["patient"])["patient"]
    elif body.get("patient") is not None:
        body["patient"] = validate_patient(body["patient"])
    unknown = sorted(set(body) - {*HEADER_KEYS, "events"})
    if unknown:
        raise InputError(
            unknown[0],
            body[unknown[0]],
            f"a stored course takes only: {', '.join((*HEADER_KEYS, 'events'))}",
        )
    events = body.pop("events", None) or []
    if not isinstance(events, list):
        raise InputError("events", events, "give a list of events")
    for i, ev in enumerate(events):
        if isinstance(ev, Mapping):
            _identifier(ev.get("id"), f"events[{i}].id")
            _identifier(ev.get("supersedes"), f"events[{i}].supersedes")
    header = {k: body[k] for k in HEADER_KEYS if k in body}
    return repo.create_course(
        header,
        events,
        actor,
        _dated(dates, len(events)),
        idempotency_key=idempotency_key,
        team=team,
    )


def get_course(repo: CourseRepository, course_id: str) -> dict[str, Any]:
    """A stored course: id, patient id, version and its course document."""
    return repo.get_course(course_id)


def list_courses(
    repo: CourseRepository,
    patient_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    teams: list[str] | None = None,
) -> Page:
    """A page of courses (of one patient when ``patient_id`` is given; of patients without a
    team or in ``teams`` when given)."""
    if patient_id is not None:
        repo.get_patient(patient_id)
    return repo.list_courses(patient_id, limit, offset, teams)


def list_events(repo: CourseRepository, course_id: str, limit: int = 50, offset: int = 0) -> Page:
    """A page of a course's events in the order they were recorded, with their record data."""
    return repo.list_events(course_id, limit, offset)


def append_event(
    repo: CourseRepository,
    course_id: str,
    event: Any,
    *,
    expected_version: int | None,
    idempotency_key: str | None,
    actor: Actor,
    dates: DatePolicy | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> AppendResult:
    """Record one event (a correction names the event it ``supersedes``).

    ``audit_extra`` is kept with the audit entry (a correction's reason, an override of the
    safety check with its reason and the findings overridden).

    Raises :class:`ConflictError` when ``expected_version`` is stale, :class:`InputError` (a
    :class:`DocumentError`) when the course with the event would be invalid or its date is
    beyond the future horizon or outside the course's plausible range (``dates``).
    """
    return append_events(
        repo,
        course_id,
        [event],
        expected_version=expected_version,
        idempotency_key=idempotency_key,
        actor=actor,
        dates=dates,
        audit_extra=audit_extra,
    )[0]


def append_events(
    repo: CourseRepository,
    course_id: str,
    events: Sequence[Any],
    *,
    expected_version: int | None,
    idempotency_key: str | None,
    actor: Actor,
    dates: DatePolicy | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> list[AppendResult]:
    """Record several events at once (a lab panel): all are stored, or none. ``audit_extra``
    is kept with each event's audit entry (see :func:`append_event`)."""
    if not events:
        raise InputError("events", [], "give at least one event")
    objs: list[Mapping[str, Any]] = []
    for i, event in enumerate(events):
        where = "event" if len(events) == 1 else f"events[{i}]"
        obj = dict(_object(event, where))
        _identifier(obj.get("id"), f"{where}.id")
        _identifier(obj.get("supersedes"), f"{where}.supersedes")
        objs.append(obj)
    _key(idempotency_key)
    return repo.append_events(
        course_id,
        objs,
        expected_version=expected_version,
        idempotency_key=idempotency_key,
        actor=actor,
        validate=_dated(dates, len(objs)),
        **({"audit_extra": dict(_object(audit_extra, "audit"))} if audit_extra else {}),
    )


def assess_stored_document(
    document: Mapping[str, Any], as_of: dt.date | None = None
) -> dict[str, Any]:
    """The ``cllcds.state/1`` answer for a stored course's document (from :func:`get_course`)."""
    return assess_course(dict(document), as_of=as_of)


def stored_course_state(
    repo: CourseRepository, course_id: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """The ``cllcds.state/1`` answer for a stored course on ``as_of`` (default: the date of its
    last event, as a course document without ``as_of`` is assessed). On a given date the state
    kept with the current version is answered when it was computed for that date by this
    engine, otherwise it is computed (and kept, for today): see :func:`course_state_json`."""
    if as_of is None:
        return assess_course(repo.get_course(course_id)["document"])
    return course_state_dict(repo, course_id, as_of)


def stored_course_response(
    repo: CourseRepository, course_id: str, criteria: ResponseCriteria
) -> dict[str, Any]:
    """The response of a stored course's latest assessment, judged by ``criteria``."""
    return assess_response_document(repo.get_course(course_id)["document"], criteria)


# ------------------------------------------------------------------------------------- accounts


def parse_role(value: str) -> Role:
    """A role from its name; the error lists the valid ones."""
    try:
        return Role(value)
    except ValueError:
        raise InputError("role", value, f"use one of: {', '.join(r.value for r in Role)}") from None


def add_user(
    repo: CourseRepository, username: str, password: str, role: Role | str, actor: Actor
) -> dict[str, Any]:
    """Create an account; the password is stored as an argon2id hash."""
    check_text(username, "username", max_chars=USERNAME_CHARS)
    check_text(password, "password", max_chars=PASSWORD_CHARS)
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or not all(ch.isalnum() or ch in "._-@" for ch in name):
        raise InputError("username", username, "use 1 to 64 letters, digits, '.', '_', '-' or '@'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("password", "***", f"use at least {MIN_PASSWORD_LENGTH} characters")
    return repo.create_user(name, _HASHER.hash(password), parse_role(str(role)), actor)


def list_users(repo: CourseRepository) -> list[dict[str, Any]]:
    """Every account (without password hashes)."""
    return repo.list_users()


def set_user_disabled(
    repo: CourseRepository, username: str, disabled: bool, actor: Actor
) -> dict[str, Any]:
    """Disable (or re-enable) an account; a disabled account's tokens stop working at once."""
    return repo.set_user_disabled(username, disabled, actor)


def authenticate(repo: CourseRepository, username: str, password: str) -> dict[str, Any] | None:
    """The account for a username and password, or ``None`` (wrong, unknown or disabled)."""
    try:
        check_text(username, "username", max_chars=USERNAME_CHARS)
        check_text(password, "password", max_chars=PASSWORD_CHARS)
    except InputError:
        return None  # no account has such a name or password
    stored = repo.user_password_hash(username)
    if stored is None:
        _HASHER.hash(password)  # same work either way: no username oracle by timing
        return None
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if _HASHER.check_needs_rehash(stored):
        repo.update_password_hash(username, _HASHER.hash(password))
    user = repo.get_user(username)
    return None if user["disabled"] else user


def token_digest(token: str) -> str:
    """How a token is stored: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    repo: CourseRepository, username: str, kind: str, ttl: dt.timedelta
) -> tuple[str, str | None, dt.datetime]:
    """A new opaque token (``kind`` bearer or session), its CSRF token (sessions) and expiry."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind == "session" else None
    expires = dt.datetime.now(dt.UTC) + ttl
    repo.add_token(
        token_digest(token), username, kind, expires, None if csrf is None else token_digest(csrf)
    )
    return token, csrf, expires


def resolve_token(repo: CourseRepository, token: str, kind: str) -> dict[str, Any] | None:
    """The (enabled) account a live token belongs to, with ``csrf_hash`` for sessions."""
    return repo.token_user(token_digest(token), kind)


def revoke_token(repo: CourseRepository, token: str) -> None:
    """End a token's life now."""
    repo.revoke_token(token_digest(token))


# ------------------------------------------------------------------------------- verification


def verify_plan(
    repo: CourseRepository, plan_document: Mapping[str, Any], claimed_plan_id: str, actor: Actor
) -> dict[str, Any]:
    """A pharmacist's check of a plan, recorded in the audit log.

    ``plan_document`` is the plan recomputed from the same inputs
    (``plan_document(make_plan(...))``); the check passes when its ``plan_id`` is the one the
    prescriber's plan carried, and the audit entry keeps a digest of the administrations checked.
    """
    pid = str(plan_document.get("plan_id", ""))
    if claimed_plan_id != pid:
        raise InputError(
            "plan_id",
            claimed_plan_id,
            f"the inputs give plan {pid}: check the regimen, start and body measures",
        )
    administrations = plan_document.get("administrations", [])
    digest = hashlib.sha256(
        json.dumps(administrations, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()
    record = {
        "plan_id": pid,
        "administrations_sha256": digest,
        "administrations": len(administrations) if isinstance(administrations, list) else 0,
        "verified_by": actor.username,
        "verified_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    repo.record_audit(actor, "plan.verify", "plan", pid, None, record)
    return record


# ---------------------------------------------------------------------------------------- audit


# ------------------------------------------------------------------------------- care teams

#: Named default, no source: how long a break-the-glass access to a patient lasts.
BREAK_GLASS_HOURS = 8
BREAK_GLASS = "access.break_glass"


def visible_teams(repo: CourseRepository, username: str, role: Role) -> list[str] | None:
    """The teams whose patients an account sees (``None``: every patient, for an admin).

    Patients without a team (the default single-team set-up) are seen by everyone."""
    if role is Role.ADMIN:
        return None
    return repo.user_teams(username)


def patient_access(
    repo: CourseRepository, username: str, role: Role, patient_id: str
) -> tuple[bool, str | None]:
    """Whether an account may see and (by role) write a patient, and the patient's team."""
    team = repo.patient_team(patient_id)
    if team is None or role is Role.ADMIN or team in repo.user_teams(username):
        return True, team
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=BREAK_GLASS_HOURS)
    return repo.audited_since(username, BREAK_GLASS, patient_id, since), team


def break_glass(
    repo: CourseRepository, actor: Actor, patient_id: str, reason: str
) -> dict[str, Any]:
    """Emergency access to a patient outside the account's teams, for ``BREAK_GLASS_HOURS``;
    the reason goes to the audit log."""
    text = check_text(reason, "reason", max_chars=1000).strip()
    if len(text) < 5:
        raise InputError("reason", reason, "say why you need this patient's record now")
    team = repo.patient_team(patient_id)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=BREAK_GLASS_HOURS)
    detail = {"reason": text, "team": team, "until": until.isoformat()}
    repo.record_audit(actor, BREAK_GLASS, "patient", patient_id, None, detail)
    return {"patient_id": patient_id, "team": team, "until": detail["until"]}


def _team(team: str | None) -> str | None:
    if team is None:
        return None
    name = check_text(team, "team", max_chars=TEAM_CHARS).strip()
    if not name or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise InputError("team", team, f"use 1 to {TEAM_CHARS} letters, digits, '.', '_' or '-'")
    return name


def set_patient_team(
    repo: CourseRepository, patient_id: str, team: str | None, actor: Actor
) -> dict[str, Any]:
    """Put a patient in a care team (``None``: the default team everyone sees)."""
    return repo.set_patient_team(patient_id, _team(team), actor)


def set_team_member(
    repo: CourseRepository, team: str, username: str, member: bool, actor: Actor
) -> list[str]:
    """Add an account to a team, or remove it; answers the account's teams."""
    name = _team(team)
    assert name is not None
    return repo.set_team_member(name, username, member, actor)


def record_auth_event(
    repo: CourseRepository, actor: Actor, action: str, username: str, detail: dict[str, Any]
) -> None:
    """Audit a sign-in event (``auth.fail``, ``auth.token``, ``auth.login``, ``auth.logout``,
    ``auth.throttle``): who tried, from where, and what happened."""
    repo.record_audit(actor, action, "auth", username[:USERNAME_CHARS], None, detail)


def verify_audit(repo: CourseRepository) -> dict[str, Any]:
    """Check the audit log's hash chain (tampering with, removing or inserting an entry)."""
    return repo.verify_audit()


def audit_log(
    repo: CourseRepository,
    course_id: str | None = None,
    entity: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Audit entries, oldest first: who, when (UTC), action, entity, before and after."""
    if course_id is not None:
        repo.get_course(course_id)
    return repo.audit_entries(course_id, entity, limit, offset)

"""Patients, courses, events, course state and response."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, Field

from cllcds import services as cs
from cllcds.domain import InputError, NotFoundError, ResponseCriteria
from cllcds.services import DatePolicy

from ._auth import Admin, Principal, Reader, Recorder, StoreDep
from ._common import Ident, Limit, Offset, etag, if_match_version, page_body
from ._problems import ApiError

router = APIRouter(tags=["clinical"])

JsonObject = Annotated[dict[str, Any], Body(description="A JSON object.")]
IdempotencyKey = Annotated[
    str | None, Header(description="Retrying with the same key never records twice.")
]


def _teams(store: Any, user: Principal) -> list[str] | None:
    return cs.visible_teams(store, user.username, user.role)


def _home_team(store: Any, user: Principal) -> str | None:
    """The team a clinician's new patients join: their first team (none: the default team)."""
    teams = cs.visible_teams(store, user.username, user.role) or []
    return teams[0] if teams else None


def check_patient(store: Any, user: Principal, patient_id: str) -> None:
    """403 unless the caller's teams (or a break-the-glass access) include the patient."""
    allowed, team = cs.patient_access(store, user.username, user.role, patient_id)
    if not allowed:
        raise ApiError(
            403,
            "Forbidden",
            f"patient {patient_id} belongs to care team {team}, which you are not in",
            field="patient",
            fix=(
                f"ask an admin to add you to team {team}, or in an emergency "
                f"POST /patients/{patient_id}/break-glass with a reason (audited)"
            ),
        )


def check_course(store: Any, user: Principal, course_id: str) -> dict[str, Any]:
    """The course, if the caller may see its patient (403 otherwise)."""
    course = cs.get_course(store, course_id)
    check_patient(store, user, course["patient_id"])
    return course


def date_policy(request: Request) -> DatePolicy:
    """Which event dates a write accepts (today's date, the configured future horizon)."""
    return DatePolicy(future_days=request.app.state.settings.future_horizon_days)


@router.get("/patients", summary="List patients")
def list_patients(user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    """The patients of the caller's care teams and those in no team."""
    return page_body(cs.list_patients(store, limit, offset, _teams(store, user)), limit, offset)


@router.post("/patients", status_code=201, summary="Register a patient")
def create_patient(user: Recorder, store: StoreDep, patient: JsonObject) -> Any:
    """The body is the course document's ``patient`` object (at least an ``id``)."""
    return cs.create_patient(store, patient, user.actor, _home_team(store, user))


@router.get("/patients/{patient_id}", summary="One patient")
def get_patient(patient_id: Ident, user: Reader, store: StoreDep) -> Any:
    check_patient(store, user, patient_id)
    return cs.get_patient(store, patient_id)


@router.get("/patients/{patient_id}/courses", summary="A patient's courses")
def patient_courses(
    patient_id: Ident, user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0
) -> Any:
    check_patient(store, user, patient_id)
    return page_body(cs.list_courses(store, patient_id, limit, offset), limit, offset)


@router.get("/courses", summary="List courses")
def list_courses(user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    teams = _teams(store, user)
    return page_body(cs.list_courses(store, None, limit, offset, teams), limit, offset)


@router.post("/courses", status_code=201, summary="Start a stored course")
def create_course(
    user: Recorder,
    store: StoreDep,
    request: Request,
    response: Response,
    doc: JsonObject,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The body is a ``cllcds.course/1`` document without ``as_of`` (``events`` optional);
    ``patient`` may be a registered patient's id. Answers the course with its ETag; a retry
    with the same ``Idempotency-Key`` answers the same course and stores nothing new."""
    patient = doc.get("patient")
    if isinstance(patient, str):
        check_patient(store, user, patient)
    elif isinstance(patient, dict) and isinstance(patient.get("id"), str):
        with contextlib.suppress(NotFoundError):  # a new patient
            check_patient(store, user, patient["id"])
    course = cs.create_course(
        store,
        doc,
        user.actor,
        idempotency_key=idempotency_key,
        dates=date_policy(request),
        team=_home_team(store, user),
    )
    if course.pop("replayed", False):
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["ETag"] = etag(course["version"])
    response.headers["Location"] = f"/courses/{course['id']}"
    return course


@router.get("/courses/{course_id}", summary="A course: its document and version")
def get_course(course_id: Ident, user: Reader, store: StoreDep, response: Response) -> Any:
    course = check_course(store, user, course_id)
    response.headers["ETag"] = etag(course["version"])
    return course


@router.get("/courses/{course_id}/events", summary="A course's events, in recorded order")
def list_events(
    course_id: Ident, user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0
) -> Any:
    check_course(store, user, course_id)
    return page_body(cs.list_events(store, course_id, limit, offset), limit, offset)


@router.post(
    "/courses/{course_id}/events",
    status_code=201,
    summary="Record an event (a correction names the event it supersedes)",
    responses={
        412: {"description": "If-Match names a stale version"},
        428: {"description": "If-Match missing"},
    },
)
def append_event(
    course_id: Ident,
    user: Recorder,
    store: StoreDep,
    request: Request,
    response: Response,
    event: JsonObject,
    if_match: Annotated[str | None, Header(description='The course ETag, e.g. "3".')] = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """The body is one event object of the course document (``date``, ``type``, ...; optional
    ``id`` and ``supersedes``). The event is validated with the whole course before it is
    stored; a problem names its place (``events[12].value``)."""
    expected = if_match_version(if_match)
    # The access check reads the course's patient only (the write reads the events itself).
    check_patient(store, user, cs.course_patient_id(store, course_id))
    result = cs.append_event(
        store,
        course_id,
        event,
        expected_version=expected,
        idempotency_key=idempotency_key,
        actor=user.actor,
        dates=date_policy(request),
    )
    response.headers["ETag"] = etag(result.version)
    response.headers["Location"] = f"/courses/{course_id}/events/{result.event['seq']}"
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result.event


@router.get("/courses/{course_id}/state", summary="The course state (cllcds.state/1)")
def course_state(
    course_id: Ident,
    user: Reader,
    store: StoreDep,
    as_of: Annotated[
        str | None,
        Query(description="Evaluate on this date (YYYY-MM-DD); default today.", max_length=32),
    ] = None,
) -> Any:
    day = dt.date.today()
    if as_of is not None:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError("as_of", as_of, "give a date as YYYY-MM-DD") from None
    # The state kept with the course (JSON as computed when the course was last written or
    # read today) when it is of the current version, this date and this engine; else computed.
    found = cs.course_state_json(
        store, course_id, day, check=lambda patient_id: check_patient(store, user, patient_id)
    )
    return Response(
        found.body,
        media_type="application/json",
        headers={"ETag": etag(found.version)},
    )


@router.get("/courses/{course_id}/response", summary="Response assessment")
def course_response(
    course_id: Ident,
    user: Reader,
    store: StoreDep,
    criteria: ResponseCriteria = ResponseCriteria.IWCLL_2018,
) -> Any:
    check_course(store, user, course_id)
    return cs.stored_course_response(store, course_id, criteria)


class BreakGlass(BaseModel):
    """Why the record is needed now."""

    reason: str = Field(min_length=5, max_length=1000)


@router.post(
    "/patients/{patient_id}/break-glass",
    summary="Emergency access to a patient outside your care teams (audited)",
)
def break_glass(patient_id: Ident, body: BreakGlass, user: Reader, store: StoreDep) -> Any:
    return cs.break_glass(store, user.actor, patient_id, body.reason)


class TeamAssignment(BaseModel):
    """A care team (``null``: the default team everyone sees)."""

    team: str | None = Field(default=None, min_length=1, max_length=64)


@router.put("/patients/{patient_id}/team", summary="Put a patient in a care team (admin)")
def set_patient_team(patient_id: Ident, body: TeamAssignment, user: Admin, store: StoreDep) -> Any:
    return cs.set_patient_team(store, patient_id, body.team, user.actor)

"""Patients, courses, events, course state and response."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response

from cllcds import services as cs
from cllcds.domain import InputError, ResponseCriteria
from cllcds.services import DatePolicy

from ._auth import Reader, Recorder, StoreDep
from ._common import Ident, Limit, Offset, etag, if_match_version, page_body

router = APIRouter(tags=["clinical"])

JsonObject = Annotated[dict[str, Any], Body(description="A JSON object.")]
IdempotencyKey = Annotated[
    str | None, Header(description="Retrying with the same key never records twice.")
]


def date_policy(request: Request) -> DatePolicy:
    """Which event dates a write accepts (today's date, the configured future horizon)."""
    return DatePolicy(future_days=request.app.state.settings.future_horizon_days)


@router.get("/patients", summary="List patients")
def list_patients(_user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    return page_body(cs.list_patients(store, limit, offset), limit, offset)


@router.post("/patients", status_code=201, summary="Register a patient")
def create_patient(user: Recorder, store: StoreDep, patient: JsonObject) -> Any:
    """The body is the course document's ``patient`` object (at least an ``id``)."""
    return cs.create_patient(store, patient, user.actor)


@router.get("/patients/{patient_id}", summary="One patient")
def get_patient(patient_id: Ident, _user: Reader, store: StoreDep) -> Any:
    return cs.get_patient(store, patient_id)


@router.get("/patients/{patient_id}/courses", summary="A patient's courses")
def patient_courses(
    patient_id: Ident, _user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0
) -> Any:
    return page_body(cs.list_courses(store, patient_id, limit, offset), limit, offset)


@router.get("/courses", summary="List courses")
def list_courses(_user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    return page_body(cs.list_courses(store, None, limit, offset), limit, offset)


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
    course = cs.create_course(
        store, doc, user.actor, idempotency_key=idempotency_key, dates=date_policy(request)
    )
    if course.pop("replayed", False):
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["ETag"] = etag(course["version"])
    response.headers["Location"] = f"/courses/{course['id']}"
    return course


@router.get("/courses/{course_id}", summary="A course: its document and version")
def get_course(course_id: Ident, _user: Reader, store: StoreDep, response: Response) -> Any:
    course = cs.get_course(store, course_id)
    response.headers["ETag"] = etag(course["version"])
    return course


@router.get("/courses/{course_id}/events", summary="A course's events, in recorded order")
def list_events(
    course_id: Ident, _user: Reader, store: StoreDep, limit: Limit = 50, offset: Offset = 0
) -> Any:
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
    _user: Reader,
    store: StoreDep,
    response: Response,
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
    course = cs.get_course(store, course_id)
    response.headers["ETag"] = etag(course["version"])
    return cs.assess_stored_document(course["document"], day)


@router.get("/courses/{course_id}/response", summary="Response assessment")
def course_response(
    course_id: Ident,
    _user: Reader,
    store: StoreDep,
    criteria: ResponseCriteria = ResponseCriteria.IWCLL_2018,
) -> Any:
    return cs.stored_course_response(store, course_id, criteria)

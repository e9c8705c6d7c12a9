"""Course use cases: read a course document, replay it, answer the state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from cllcds.course import (
    CourseState,
    EngineSettings,
    course_schema,
    parse_course,
    replay,
    state_document,
)
from cllcds.domain import Course, DocumentError, InputError, ResponseCriteria, RuleSets


def read_course_file(path: Path) -> Any:
    """Parse a course document file as JSON (errors name the file, line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "FILE", str(path), f"give a readable course document ({exc.strerror})"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            "FILE", str(path), f"give the course document in UTF-8 ({exc.reason})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} line {exc.lineno} column {exc.colno}", exc.msg, "fix the JSON syntax"
        ) from None
    except RecursionError:
        raise InputError(
            "FILE", str(path), "give a course document (cllcds.course/1): nested too deeply"
        ) from None


def load_course(
    doc: Any, *, as_of: dt.date | None = None, response: ResponseCriteria | None = None
) -> Course:
    """A validated course from a parsed document, optionally re-dated or re-judged."""
    course = parse_course(doc)
    if as_of is not None:
        if as_of < course.start_date:
            raise InputError(
                "--as-of",
                as_of.isoformat(),
                f"give a date on or after the start date {course.start_date}",
            )
        course = dataclasses.replace(course, as_of=as_of)
    if response is not None:
        rs = dataclasses.replace(course.rule_sets, response=response)
        course = dataclasses.replace(course, rule_sets=rs)
    return course


def course_state(course: Course, settings: EngineSettings | None = None) -> CourseState:
    """Replay a course."""
    return replay(course, settings or EngineSettings())


def assess_course(doc: Any, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """The ``cllcds.state/1`` answer for a course document."""
    return state_document(course_state(load_course(doc, as_of=as_of)))


def problem_list(exc: InputError) -> list[dict[str, Any]]:
    """The problems of an input error as JSON-ready records: ``field``, ``value``, ``fix`` and
    ``message`` (the line the command line prints for it), one per problem of a
    :class:`DocumentError`."""
    problems = exc.problems if isinstance(exc, DocumentError) else (exc,)
    return [{"field": p.field, "value": p.value, "fix": p.fix, "message": str(p)} for p in problems]


def _patient_id(doc: Any) -> Any:
    patient = doc.get("patient") if isinstance(doc, dict) else None
    return patient.get("id") if isinstance(patient, dict) else None


def assess_course_text(
    text: str | bytes, *, as_of: dt.date | None = None, where: str = "document"
) -> dict[str, Any]:
    """Assess one course document given as JSON text (a line of NDJSON, a file's content).

    Answers ``{"patient": id, "state": <cllcds.state/1>}``, or ``{"patient": id or None,
    "errors": [...]}`` (:func:`problem_list`) when the text is not valid JSON or not a valid
    course; never raises for a bad course. ``where`` names the text in a JSON syntax error:
    ``"line 3"`` (a line of NDJSON, without its newline) gives ``"line 3 column 12"``, text of
    several lines ``"<where> line 2 column 5"`` (as :func:`read_course_file` names a file).
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        place = (
            f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
        )
        error = InputError(f"{where} {place}", exc.msg, "fix the JSON syntax")
        return {"patient": None, "errors": problem_list(error)}
    except UnicodeDecodeError as exc:
        error = InputError(where, exc.reason, "give the course document in UTF-8")
        return {"patient": None, "errors": problem_list(error)}
    except RecursionError:
        error = InputError(where, "nested too deeply", "give a course document (cllcds.course/1)")
        return {"patient": None, "errors": problem_list(error)}
    return _assess_doc(doc, as_of)


def assess_course_path(path: Path, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """:func:`assess_course_text` for a course document file, with the errors of
    ``cllcds course assess FILE`` (:func:`read_course_file`)."""
    try:
        doc = read_course_file(path)
    except InputError as exc:
        return {"patient": None, "errors": problem_list(exc)}
    return _assess_doc(doc, as_of)


def _assess_doc(doc: Any, as_of: dt.date | None) -> dict[str, Any]:
    try:
        return {"patient": _patient_id(doc), "state": assess_course(doc, as_of=as_of)}
    except InputError as exc:
        return {"patient": _patient_id(doc), "errors": problem_list(exc)}


def course_schema_document() -> dict[str, Any]:
    """The JSON Schema of the course document."""
    return course_schema()


def assess_response_document(doc: Any, criteria: ResponseCriteria) -> dict[str, Any]:
    """The response of a course's latest assessment, judged by ``criteria``."""
    state = course_state(load_course(doc, response=criteria))
    r = state.response
    d = r.decision
    return {
        "category": r.category.value,
        "criteria": r.criteria,
        "date": None if r.date is None else r.date.isoformat(),
        "mrd_negative": r.mrd_negative,
        "provisional": r.provisional,
        "by_compartment": dict(r.by_compartment),
        "rationale": d.rationale if d else "No assessment recorded.",
        "status": d.status.value if d else "indeterminate",
        "inputs_missing": list(d.inputs_missing) if d else ["assessment"],
        "citation": d.citation.short() if d else "",
    }


def default_rule_sets() -> dict[str, str]:
    """The default rule sets, as a course document names them."""
    return RuleSets().as_dict()

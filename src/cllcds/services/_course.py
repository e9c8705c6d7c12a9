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
from cllcds.domain import Course, InputError, ResponseCriteria, RuleSets


def read_course_file(path: Path) -> Any:
    """Parse a course document file as JSON (errors name the file, line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "FILE", str(path), f"give a readable course document ({exc.strerror})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} line {exc.lineno} column {exc.colno}", exc.msg, "fix the JSON syntax"
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

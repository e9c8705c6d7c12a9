"""cllcds.course: a treatment course laid out and followed (see docs/design.md)."""

from ._fast import parse_course
from ._plan import plan
from ._replay import DEFAULT_SETTINGS, EngineSettings, replay, weekly_window
from ._schema import course_schema
from ._state import (
    Action,
    Alert,
    CmvStatus,
    CourseState,
    CourseStatus,
    HoldKind,
    NextDose,
    Severity,
    state_document,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "Action",
    "Alert",
    "CmvStatus",
    "CourseState",
    "CourseStatus",
    "EngineSettings",
    "HoldKind",
    "NextDose",
    "Severity",
    "course_schema",
    "parse_course",
    "plan",
    "replay",
    "state_document",
    "weekly_window",
]

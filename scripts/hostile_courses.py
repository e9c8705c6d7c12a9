"""Try realistic and hostile variants of an example course against the engine (issue 10, C).

Each case states what must hold (no proposed dose, a document error naming a field, ...);
the script prints each outcome and exits non-zero if any case fails. Run:
``python scripts/hostile_courses.py``.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cllcds.domain import InputError
from cllcds.services import assess_course

BASE = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "examples/courses/haematological-event-count-recorded.json"
    ).read_text(encoding="utf-8")
)
LAB = {"type": "lab", "unit": "10*9/L"}


def with_events(*events: dict[str, Any], as_of: str = "2007-01-22") -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d["events"] = [e for e in d["events"] if e["type"] != "adverse_event"] + list(events)
    d["as_of"] = as_of
    return d


def no_dose(s: dict[str, Any] | Exception) -> bool:
    return isinstance(s, dict) and s["next_dose"] is None


def doc_error(field: str) -> Callable[[Exception | dict[str, Any]], bool]:
    def check(s: Exception | dict[str, Any]) -> bool:
        return isinstance(s, InputError) and field in str(s)

    return check


CASES: list[tuple[str, dict[str, Any], Callable[[Any], bool]]] = [
    (
        "dose_held recorded for a reason the engine cannot read: no dose the same day",
        with_events({"date": "2007-01-22", "type": "dose_held", "reason": "patient unwell"}),
        lambda s: no_dose(s) or s["next_dose"]["date"] > "2007-01-22",
    ),
    (
        "a correction superseding the triggering ANC (0.2 typed for 2.0) releases the hold",
        with_events(
            {"id": "a1", "date": "2007-01-22", **LAB, "code": "ANC", "value": 0.2},
            {"date": "2007-01-22", **LAB, "code": "ANC", "value": 2.0, "supersedes": "a1"},
        ),
        lambda s: s["status"] == "active",
    ),
    (
        "a correction lowering ANC to 0.2 (2.0 was a typing error) holds",
        with_events(
            {"id": "a1", "date": "2007-01-22", **LAB, "code": "ANC", "value": 2.0},
            {"date": "2007-01-22", **LAB, "code": "ANC", "value": 0.2, "supersedes": "a1"},
        ),
        no_dose,
    ),
    (
        "resolved naming an unknown id: document error naming event_id",
        with_events({"date": "2007-01-22", "type": "resolved", "event_id": "nope"}),
        doc_error("event_id"),
    ),
    (
        "resolved naming a lab: document error naming event_id",
        with_events(
            {"id": "l1", "date": "2007-01-21", **LAB, "code": "PLT", "value": 80},
            {"date": "2007-01-22", "type": "resolved", "event_id": "l1"},
        ),
        doc_error("event_id"),
    ),
    (
        "resolution dated before its event: document error",
        with_events(
            {"id": "i1", "date": "2007-01-21", "type": "infection", "grade": 3},
            {"date": "2007-01-20", "type": "resolved", "event_id": "i1"},
        ),
        doc_error("date"),
    ),
    (
        "CMV PCR positive with fever: no dose",
        with_events(
            {"date": "2007-01-22", "type": "cmv_pcr", "value": 5000, "unit": "[IU]/mL"},
            {"date": "2007-01-22", "type": "fever", "temperature_c": 38.9},
        ),
        no_dose,
    ),
    (
        "ANC 0.2 at 08:00+02:00, a dose at 07:00Z: two clocks, document error naming date",
        with_events(
            {"date": "2007-01-22T08:00:00+02:00", **LAB, "code": "ANC", "value": 0.2},
            {
                "date": "2007-01-22T07:00:00Z",
                "type": "dose",
                "drug": "alemtuzumab",
                "dose_mg": 30,
                "route": "iv",
            },
        ),
        doc_error("date"),
    ),
    (
        "ANC 0.2 at 08:00+02:00, a dose at 09:00+02:00: one clock, no next dose",
        with_events(
            {"date": "2007-01-22T08:00:00+02:00", **LAB, "code": "ANC", "value": 0.2},
            {
                "date": "2007-01-22T09:00:00+02:00",
                "type": "dose",
                "drug": "alemtuzumab",
                "dose_mg": 30,
                "route": "iv",
            },
        ),
        no_dose,
    ),
    (
        "grade 4 thrombocytopenia reported, last platelets before it: no dose",
        with_events(
            {"date": "2007-01-22", "type": "adverse_event", "grade": 4, "term": "thrombocytopenia"},
            as_of="2007-01-23",
        ),
        no_dose,
    ),
    (
        "grade 5 adverse event: discontinued",
        with_events({"date": "2007-01-22", "type": "adverse_event", "grade": 5, "term": "sepsis"}),
        lambda s: s["status"] == "discontinued",
    ),
    (
        "a 300 mg dose typed instead of 30 mg: no dose",
        with_events(
            {
                "date": "2007-01-22",
                "type": "dose",
                "drug": "alemtuzumab",
                "dose_mg": 300,
                "route": "iv",
            }
        ),
        no_dose,
    ),
]


def main() -> int:
    failed = 0
    for name, doc, ok in CASES:
        try:
            out: Any = assess_course(doc)
            shown = f"{out['status']}, next dose {out['next_dose'] and out['next_dose']['date']}"
        except InputError as exc:
            out = exc
            shown = f"{type(exc).__name__}: {exc}"[:160]
        good = ok(out)
        failed += not good
        print(f"{'ok  ' if good else 'FAIL'} {name}: {shown}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Course-engine throughput: replay of realistic courses of growing length.

Each course is the label regimen (3 → 10 → 30 mg, then 30 mg three times a week) with a weekly
panel (ANC, platelets, haemoglobin, lymphocytes) and a weekly CMV PCR, as a nurse would record
it. For each length the script times, per course:

* ``json.loads`` of the document (the floor any tool pays to read it),
* ``parse_course`` (validation and unit conversion),
* ``replay`` (all rules, the full state),
* ``state_document`` (the ``cllcds.state/1`` JSON).

Run: ``.venv/bin/python benchmarks/bench_replay.py [--repeat N]``; it prints a Markdown table
for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

from cllcds.course import parse_course, replay, state_document

START = dt.date(2024, 1, 1)  # a Monday


def course_document(weeks: int) -> dict[str, Any]:
    """A label course of ``weeks`` weeks with weekly labs and CMV PCR."""
    events: list[dict[str, Any]] = []

    def dose(day: dt.date, mg: float) -> None:
        events.append(
            {
                "date": day.isoformat(),
                "type": "dose",
                "drug": "alemtuzumab",
                "dose_mg": mg,
                "route": "iv",
            }
        )

    given: list[tuple[dt.date, float]] = []
    for i, mg in enumerate((3, 10, 30)):
        d = START + dt.timedelta(days=i)
        dose(d, mg)
        given.append((d, mg))
    day = START + dt.timedelta(days=3)
    end = START + dt.timedelta(weeks=weeks)
    while day < end:
        window = sum(mg for g, mg in given if 0 < (day - g).days < 7)
        if day.weekday() in (0, 2, 4) and window + 30 <= 90:
            dose(day, 30)
            given.append((day, 30))
        day += dt.timedelta(days=1)
    for w in range(1, weeks + 1):
        d = (START + dt.timedelta(weeks=w)).isoformat()
        for code, value, unit in (
            ("ANC", 1.6, "10*9/L"),
            ("PLT", 95, "10*9/L"),
            ("HGB", 11.2, "g/dL"),
            ("ALC", 0.4, "10*9/L"),
        ):
            events.append({"date": d, "type": "lab", "code": code, "value": value, "unit": unit})
        events.append({"date": d, "type": "cmv_pcr", "result": "not detected"})
    return {
        "format": "cllcds.course/1",
        "patient": {"id": "bench"},
        "regimen": "alemtuzumab-iv-label" if weeks <= 12 else "alemtuzumab-iv-16w",
        "start_date": START.isoformat(),
        "baseline": {
            "date": (START - dt.timedelta(days=2)).isoformat(),
            "labs": [
                {"code": "ANC", "value": 2.1, "unit": "10*9/L"},
                {"code": "PLT", "value": 98, "unit": "10*9/L"},
            ],
        },
        "events": events,
    }


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    """Median over 5 rounds of the mean time per call, in microseconds."""
    fn()
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        rounds.append((time.perf_counter() - t) / repeat * 1e6)
    return statistics.median(rounds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{platform.processor() or 'unknown CPU'}\n"
    )
    print(
        "| course | events | json.loads µs | parse_course µs | replay µs | state JSON µs | "
        "courses/s (parse + replay) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for weeks in (4, 12, 16, 26, 52):
        doc = course_document(weeks)
        text = json.dumps(doc)
        course = parse_course(doc)
        state = replay(course)
        t_json = per_call_us(lambda text=text: json.loads(text), args.repeat)
        t_parse = per_call_us(lambda doc=doc: parse_course(doc), args.repeat)
        t_replay = per_call_us(lambda course=course: replay(course), args.repeat)
        t_state = per_call_us(lambda state=state: state_document(state), args.repeat)
        rate = 1e6 / (t_parse + t_replay)
        print(
            f"| {weeks} weeks | {len(doc['events'])} | {t_json:.0f} | {t_parse:.0f} | "
            f"{t_replay:.0f} | {t_state:.0f} | {rate:,.0f} |"
        )


if __name__ == "__main__":
    main()

"""Course-engine throughput: reading and replaying realistic courses of growing length.

Each course is the label regimen (3 → 10 → 30 mg, then 30 mg three times a week) with a weekly
panel (ANC, platelets, haemoglobin, lymphocytes) and a weekly CMV PCR, as a nurse would record
it. The ``12 weeks, varied`` course is the 12-week course with every weekly value different
(a replay grades each distinct value of a lab once, so equal weekly values would flatter it).
For each course the script times, per course, in one run:

* ``json.loads`` of the document (the floor any tool pays to read it),
* ``parse_course_reference``: the reference reader, value by value (the reader before the
  compiled schema, kept as the oracle the tests check the fast reader against),
* ``parse_course``: the compiled schema (msgspec) for valid documents, with the reference
  reader for everything else,
* ``replay`` (all rules, the full state) and ``state_document`` (the ``cllcds.state/1`` JSON).

Each figure is the best of ``--rounds`` rounds of the mean CPU time per call (process time, so
time the process waits for a core does not count; the best round is the one least disturbed by
other jobs on a shared machine). With ``--before SRC`` (the ``src``
directory of another checkout, e.g. the main branch) the script also times that tree's
``parse_course`` and ``replay`` in subprocesses, interleaved round by round with this tree's, so
both are measured under the same load.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--repeat N] [--rounds R] [--before SRC]``;
it prints Markdown tables for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cllcds.course._document as reference  # parse_course_reference (in this tree only)
from cllcds.course import parse_course, replay, state_document

START = dt.date(2024, 1, 1)  # a Monday
COURSES = ("4 weeks", "12 weeks", "12 weeks, varied", "16 weeks", "26 weeks", "52 weeks")


def course_document(weeks: int, *, varied: bool = False) -> dict[str, Any]:
    """A label course of ``weeks`` weeks with weekly labs and CMV PCR (``varied``: every
    weekly value differs)."""
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
        # Varied: values drift week by week, staying above the hold triggers.
        k = w if varied else 0
        for code, value, unit in (
            ("ANC", round(1.6 + 0.05 * k, 2), "10*9/L"),
            ("PLT", 95 + 3 * k, "10*9/L"),
            ("HGB", round(11.2 - 0.1 * k, 1), "g/dL"),
            ("ALC", round(0.4 + 0.02 * k, 2), "10*9/L"),
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


def document(name: str) -> dict[str, Any]:
    weeks = int(name.split(maxsplit=1)[0])
    return course_document(weeks, varied=name.endswith("varied"))


def per_call_us(fn: Callable[[], object], repeat: int, rounds: int) -> float:
    """Best over ``rounds`` rounds of the mean CPU time per call, in microseconds."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - t) / repeat * 1e6)
    return best


def measure_tree(repeat: int) -> dict[str, dict[str, float]]:
    """One round of ``parse_course`` and ``replay`` of the ``cllcds`` on ``sys.path``."""
    out: dict[str, dict[str, float]] = {}
    for name in COURSES:
        doc = document(name)
        course = parse_course(doc)
        out[name] = {
            "parse": per_call_us(lambda doc=doc: parse_course(doc), repeat, 1),
            "replay": per_call_us(lambda course=course: replay(course), repeat, 1),
        }
    return out


def compare_with(before: str, repeat: int, rounds: int) -> None:
    """This tree against the tree at ``before`` (its ``src``), interleaved round by round."""
    here = str(Path(__file__).resolve().parents[1] / "src")
    best: dict[str, dict[str, dict[str, float]]] = {"before": {}, "this": {}}
    for _ in range(rounds):
        for label, src in (("before", before), ("this", here)):
            env = {**os.environ, "PYTHONPATH": src}
            proc = subprocess.run(
                [sys.executable, __file__, "--measure-one", "--repeat", str(repeat)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            for name, times in json.loads(proc.stdout).items():
                cur = best[label].setdefault(name, {})
                for k, v in times.items():
                    cur[k] = min(cur.get(k, float("inf")), v)
    print(f"\nThis tree against `{before}` (subprocesses, interleaved, best of {rounds} rounds):\n")
    print(
        "| course | before: parse µs | before: replay µs | before: total µs | "
        "this: parse µs | this: replay µs | this: total µs | speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in COURSES:
        b, t = best["before"][name], best["this"][name]
        bt, tt = b["parse"] + b["replay"], t["parse"] + t["replay"]
        print(
            f"| {name} | {b['parse']:.0f} | {b['replay']:.0f} | {bt:.0f} | {t['parse']:.0f} | "
            f"{t['replay']:.0f} | {tt:.0f} | {bt / tt:.1f}× |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--before", help="src directory of another checkout to compare with")
    ap.add_argument("--measure-one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_one:
        print(json.dumps(measure_tree(args.repeat)))
        return
    parse_course_reference = reference.parse_course_reference
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{platform.processor() or 'unknown CPU'}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start\n"
    )
    print(
        "| course | events | json.loads µs | reference reader µs | parse_course µs | "
        "replay µs | parse + replay µs | state JSON µs | courses/s (parse + replay) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    r, n = args.repeat, args.rounds
    for name in COURSES:
        doc = document(name)
        text = json.dumps(doc)
        course = parse_course(doc)
        assert repr(course) == repr(parse_course_reference(doc))
        state = replay(course)
        t_json = per_call_us(lambda text=text: json.loads(text), r, n)
        t_ref = per_call_us(lambda doc=doc: parse_course_reference(doc), r, n)
        t_parse = per_call_us(lambda doc=doc: parse_course(doc), r, n)
        t_replay = per_call_us(lambda course=course: replay(course), r, n)
        t_state = per_call_us(lambda state=state: state_document(state), r, n)
        total = t_parse + t_replay
        print(
            f"| {name} | {len(doc['events'])} | {t_json:.0f} | {t_ref:.0f} | {t_parse:.0f} | "
            f"{t_replay:.0f} | {total:.0f} | {t_state:.0f} | {1e6 / total:,.0f} |"
        )
    if args.before:
        compare_with(args.before, max(20, r // 4), n)
    print(f"\nLoad average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

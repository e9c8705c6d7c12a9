"""Batch assessment: ``cllcds course assess`` over many 12-week courses, against what a user
would otherwise do.

N label courses of 12 weeks (the course of ``bench_replay.py``: 3 → 10 → 30 mg, then 30 mg
three times a week, a weekly panel and CMV PCR; 96 events), each with its own patient id and
lab values (one in ten with a grade 4 neutropenia in week 6, so some courses are on hold),
are written as one file per course and as one NDJSON file. Then, interleaved over
``--rounds`` rounds, each a fresh process as a user runs it (wall time, start-up included):

* ``cllcds course assess - --jobs 1 < courses.ndjson`` (in process);
* ``cllcds course assess - --jobs 2 < courses.ndjson`` (a pool of 2 workers);
* ``cllcds course assess DIR --jobs 2`` (the course files);
* a shell loop ``for f in DIR/*.json; do cllcds course assess "$f" --format json; done`` over
  the first ``--sample`` files, extrapolated per course;
* a plain Python loop in one process: ``json.loads`` + ``services.assess_course`` +
  ``json.dumps`` per NDJSON line (what a script author writes; one core).

Output is discarded (``/dev/null``) in every case. Prints a Markdown table for
``docs/performance.md`` with courses/s (min / median over rounds), the CPU time per course
(user + system of every process involved: on a shared machine the wall time also counts the
waits for other jobs' processes) and the load average.

Run: ``.venv/bin/python benchmarks/bench_assess.py [--n 4000] [--rounds 3] [--sample 20]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cllcds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import course_document  # the 12-week course of bench_replay.py

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"


def courses(n: int) -> list[dict[str, Any]]:
    """N distinct 12-week label courses (patient ids and lab values differ)."""
    base = course_document(12)
    out = []
    for i in range(n):
        doc = copy.deepcopy(base)
        doc["patient"]["id"] = f"bench-{i:06d}"
        week = 0
        for event in doc["events"]:
            if event["type"] == "lab" and event["code"] == "ANC":
                week += 1
                event["value"] = 0.4 if (i % 10 == 0 and week == 6) else 1.2 + (i % 17) / 10
            elif event["type"] == "lab" and event["code"] == "PLT":
                event["value"] = 60 + (i % 53)
        out.append(doc)
    return out


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and its waited-for children) of ``fn()``."""
    before = cpu()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t, cpu() - before


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(args: list[str], stdin: Path | None = None) -> None:
    with open(stdin or os.devnull, "rb") as fin, open(os.devnull, "wb") as fout:
        proc = subprocess.run(
            [CLLCDS, *args], stdin=fin, stdout=fout, stderr=subprocess.PIPE, check=False
        )
    if proc.returncode != 0:
        raise SystemExit(f"cllcds {' '.join(args)} failed: {proc.stderr.decode()}")


def shell_loop(files: list[Path]) -> None:
    script = 'for f in "$@"; do "$0" course assess "$f" --format json; done > /dev/null'
    subprocess.run(["sh", "-c", script, CLLCDS, *map(str, files)], check=True)


def python_loop(ndjson: Path) -> None:
    from cllcds import services  # noqa: PLC0415 - timed as part of the loop's cost

    with ndjson.open("rb") as fin, open(os.devnull, "w", encoding="utf-8") as fout:
        for line in fin:
            state = services.assess_course(json.loads(line))
            fout.write(json.dumps(state, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000, help="courses")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sample", type=int, default=20, help="files for the shell loop")
    args = ap.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory(prefix="bench-assess-") as tmp:
        root = Path(tmp)
        folder = root / "courses"
        folder.mkdir()
        ndjson = root / "courses.ndjson"
        with ndjson.open("w", encoding="utf-8") as out:
            for i, doc in enumerate(courses(n)):
                text = json.dumps(doc)
                out.write(text + "\n")
                (folder / f"course-{i:06d}.json").write_text(text, encoding="utf-8")
        files = sorted(folder.iterdir())[: args.sample]
        cases: dict[str, tuple[int, Callable[[], None]]] = {
            "`course assess -` NDJSON stdin, `--jobs 1`": (
                n,
                lambda: run(["course", "assess", "-", "--jobs", "1"], ndjson),
            ),
            "`course assess -` NDJSON stdin, `--jobs 2`": (
                n,
                lambda: run(["course", "assess", "-", "--jobs", "2"], ndjson),
            ),
            "`course assess DIR` (one file per course), `--jobs 2`": (
                n,
                lambda: run(["course", "assess", str(folder), "--jobs", "2"]),
            ),
            f"shell loop of `course assess FILE --format json` ({len(files)} files)": (
                len(files),
                lambda: shell_loop(files),
            ),
            "Python loop: `json.loads` + `services.assess_course` + `json.dumps` (1 core)": (
                n,
                lambda: python_loop(ndjson),
            ),
        }
        load_before = os.getloadavg()
        rates: dict[str, list[float]] = {name: [] for name in cases}
        cpu_ms: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (count, fn) in cases.items():
                wall, used = timed(fn)
                rates[name].append(count / wall)
                cpu_ms[name].append(used / count * 1000)
        load_after = os.getloadavg()
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{n} courses of 12 weeks (96 events, {ndjson_size(n)}); {args.rounds} rounds; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"cllcds from {Path(cllcds.__file__).parent}\n"
    )
    print(
        "| how | courses/s min | courses/s median | wall ms per course (median) | "
        "CPU ms per course (median) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, values in rates.items():
        med = statistics.median(values)
        print(
            f"| {name} | {min(values):,.0f} | {med:,.0f} | {1000 / med:.2f} | "
            f"{statistics.median(cpu_ms[name]):.2f} |"
        )


def ndjson_size(n: int) -> str:
    return f"{len(json.dumps(course_document(12))) * n / 1e6:.0f} MB as NDJSON"


if __name__ == "__main__":
    main()

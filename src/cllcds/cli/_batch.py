"""``cllcds course assess`` over many courses: files, directories, NDJSON files and stdin.

The parent reads the input and sends it to a process pool in chunks (raw NDJSON lines, or the
paths of course files; never one task per course). Each worker parses, replays and renders the
courses of its chunk itself and returns its output lines, which the parent writes in input
order. At most a few chunks per worker are in flight, so memory stays bounded however large the
input; ``--jobs 1`` runs the same chunks in process.

Every input gives one output record, ``{"source", "line", "patient", "state"}`` or
``{"source", "line", "patient", "errors": [{"field", "value", "fix", "message"}]}``, with
the state and the problems exactly as ``cllcds course assess FILE`` answers them. A bad course
never stops the batch; the exit status says whether any course failed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cllcds import services
from cllcds.domain import InputError

from ._output import emit_table, to_jsonable

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from rich.progress import Progress

STDIN = "<stdin>"
"""The ``source`` of a course read from standard input."""
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})
"""A file with one of these suffixes holds one course document per line."""
CHUNK_COURSES = 48
"""Courses per chunk sent to a worker (a 12-week course takes a few ms)."""
CHUNK_BYTES = 1 << 20
"""A chunk of NDJSON lines is sent once it holds this many bytes, however few courses."""
IN_FLIGHT_PER_JOB = 3
"""Chunks submitted ahead per worker: keeps the workers busy, bounds the memory."""
OK, INVALID, FAILED = 0, 2, 1
"""Outcome of one course: assessed; refused (invalid input, as exit status 2); a bug."""
TABLE_COLUMNS = ("Source", "Patient", "Status", "Next dose / hold", "Alerts")

Item = tuple[str, int | None, bytes | None]
"""One course: (source, line number in an NDJSON source or None, the line, or None to read
the source as a course file)."""
Chunk = tuple[str, str | None, list[Item]]
"""(output format, ``--as-of`` as YYYY-MM-DD or None, the courses)."""
Result = tuple[int, Any]
"""(outcome, the rendered output: a JSON line, or a table row)."""


def cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def wants_batch(files: Sequence[Path], fmt: str | None) -> bool:
    """Whether the arguments ask for a batch (anything but one course file, or ``ndjson``)."""
    if fmt == "ndjson" or len(files) != 1:
        return True
    path = files[0]
    return str(path) == "-" or path.suffix.lower() in NDJSON_SUFFIXES or path.is_dir()


def expand(files: Sequence[Path]) -> list[tuple[str, Path | None]]:
    """The sources named by the arguments, in order: ``("file", path)``, ``("ndjson", path)``
    or ``("stdin", None)`` (for ``-``, or no argument); a directory gives its ``*.json``
    course files and ``*.ndjson``/``*.jsonl`` files, sorted by name."""
    sources: list[tuple[str, Path | None]] = []
    for path in files or [Path("-")]:
        if str(path) == "-":
            sources.append(("stdin", None))
        elif path.is_dir():
            found = [
                p
                for p in sorted(path.iterdir())
                if p.is_file() and (p.suffix.lower() == ".json" or _is_ndjson(p))
            ]
            if not found:
                raise InputError(
                    "FILE",
                    str(path),
                    "give a directory holding course documents (*.json, *.ndjson or *.jsonl)",
                )
            sources.extend(("ndjson" if _is_ndjson(p) else "file", p) for p in found)
        else:
            sources.append(("ndjson" if _is_ndjson(path) else "file", path))
    if sum(kind == "stdin" for kind, _ in sources) > 1:
        raise InputError("FILE", "-", "read standard input once: give - at most once")
    return sources


def _is_ndjson(path: Path) -> bool:
    return path.suffix.lower() in NDJSON_SUFFIXES


def items(sources: Iterable[tuple[str, Path | None]], stdin: IO[bytes]) -> Iterator[Item]:
    """One item per course of the sources, read lazily (blank NDJSON lines are skipped)."""
    for kind, path in sources:
        if kind == "stdin":
            yield from _lines(STDIN, stdin)
        elif kind == "ndjson" and path is not None:
            try:
                handle = path.open("rb")
            except OSError:
                yield (str(path), None, None)  # the worker reports the read error of FILE
                continue
            with handle:
                yield from _lines(str(path), handle)
        else:
            yield (str(path), None, None)


def _lines(source: str, handle: IO[bytes]) -> Iterator[Item]:
    for number, raw in enumerate(handle, 1):
        if raw.strip():
            yield (source, number, raw.rstrip(b"\r\n"))


def chunks(courses: Iterable[Item], fmt: str, as_of: dt.date | None) -> Iterator[Chunk]:
    """The courses in chunks of :data:`CHUNK_COURSES` (or :data:`CHUNK_BYTES`)."""
    day = None if as_of is None else as_of.isoformat()
    batch: list[Item] = []
    size = 0
    for item in courses:
        batch.append(item)
        size += len(item[2] or b"")
        if len(batch) >= CHUNK_COURSES or size >= CHUNK_BYTES:
            yield (fmt, day, batch)
            batch, size = [], 0
    if batch:
        yield (fmt, day, batch)


def assess_chunk(chunk: Chunk) -> list[Result]:
    """Assess and render the courses of a chunk (runs in a worker process)."""
    fmt, day, batch = chunk
    as_of = None if day is None else dt.date.fromisoformat(day)
    results: list[Result] = []
    for source, line, raw in batch:
        outcome = OK
        try:
            if raw is None:
                record = services.assess_course_path(Path(source), as_of=as_of)
            else:
                where = f"line {line}" if source == STDIN else f"{Path(source).name} line {line}"
                record = services.assess_course_text(raw, as_of=as_of, where=where)
            if "errors" in record:
                outcome = INVALID
        except Exception as exc:  # a bug, reported for this course: the batch goes on
            outcome = FAILED
            problem = {
                "field": "course",
                "value": f"{type(exc).__name__}: {exc}",
                "fix": "this is a bug in cllcds: please report it with this course",
            }
            problem["message"] = f"course: {problem['value']!r} is invalid: {problem['fix']}"
            record = {"patient": None, "errors": [problem]}
        record = {"source": source, "line": line, **record}
        results.append((outcome, summary_row(record) if fmt == "table" else dumps(record)))
    return results


def dumps(record: dict[str, Any]) -> str:
    """One JSON line, with the values ``cllcds course assess FILE --format json`` gives."""
    try:
        return json.dumps(record, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # enums, paths, NaN: as the single-file command writes them
        # (default=str: an offending value of another type, shown as the error line shows it)
        return json.dumps(to_jsonable(record), ensure_ascii=False, default=str)


def summary_row(record: dict[str, Any]) -> tuple[str, ...]:
    """A course in one table row: where it came from, the patient, status, what is next."""
    where = record["source"] if record["line"] is None else f"{record['source']}:{record['line']}"
    patient = "" if record["patient"] is None else str(record["patient"])
    if "errors" in record:
        errors = record["errors"]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return (where, patient, "NOT ASSESSED", errors[0]["message"] + more, "")
    state = record["state"]
    status = str(state["status"]).replace("_", " ").upper()
    if state["discontinued"]:
        d = state["discontinued"]
        next_step = f"discontinued {d['date']}: {d['reason']}"
    elif state["hold"]:
        h = state["hold"]
        next_step = f"hold since {h['since']}: {'; '.join(h['reasons'])}"
    elif state["next_dose"]:
        nd = state["next_dose"]
        next_step = f"{nd['date']} {nd['dose_mg']} mg {str(nd['route']).upper()} ({nd['phase']})"
    else:
        next_step = "none due"
    counts: dict[str, int] = {}
    for alert in state["alerts"]:
        counts[alert["severity"]] = counts.get(alert["severity"], 0) + 1
    alerts = ", ".join(f"{n} {severity}" for severity, n in counts.items())
    return (where, patient, status, next_step, alerts)


def run(
    files: Sequence[Path],
    *,
    fmt: str,
    as_of: dt.date | None,
    jobs: int,
    progress: bool,
    stdin: IO[bytes] | None = None,
) -> int:
    """Assess every course the arguments name, write the records on stdout as they come, and
    answer the exit status: 0 all assessed, 2 some invalid, 1 some failed on a bug."""
    sources = expand(files)
    total = len(sources) if all(kind == "file" for kind, _ in sources) else None
    work = chunks(items(sources, sys.stdin.buffer if stdin is None else stdin), fmt, as_of)
    outcomes = {OK: 0, INVALID: 0, FAILED: 0}
    rows: list[tuple[str, ...]] = []
    try:
        with _progress_bar(progress, total) as bar, closing(ordered(work, jobs)) as results:
            _write(fmt, results, outcomes, rows, bar)
        if fmt == "table":
            emit_table(rows, TABLE_COLUMNS)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as filters do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    failed = outcomes[INVALID] + outcomes[FAILED]
    if failed:
        count = sum(outcomes.values())
        sys.stderr.write(
            f"error: {failed} of {count} course(s) not assessed; their errors are in the output\n"
        )
    return FAILED if outcomes[FAILED] else INVALID if outcomes[INVALID] else OK


def _write(
    fmt: str,
    results: Iterator[list[Result]],
    outcomes: dict[int, int],
    rows: list[tuple[str, ...]],
    bar: Any,
) -> None:
    """Write each chunk's records as it arrives (table rows are kept for one table)."""
    stream = sys.stdout
    first = True
    if fmt == "json":
        stream.write("[")
    for chunk in results:
        lines = []
        for outcome, rendered in chunk:
            outcomes[outcome] += 1
            if fmt == "table":
                rows.append(rendered)
            elif fmt == "json":
                lines.append(("\n" if first else ",\n") + rendered)
                first = False
            else:
                lines.append(rendered + "\n")
        stream.write("".join(lines))
        if bar is not None:
            bar.advance(bar.task_ids[0], len(chunk))
            bar.refresh()
    if fmt == "json":
        stream.write("]\n" if first else "\n]\n")


def ordered(work: Iterator[Chunk], jobs: int) -> Generator[list[Result], None, None]:
    """The results of each chunk, in input order: in process for ``jobs == 1`` or a single
    chunk, else from a pool of ``jobs`` processes with a bounded number of chunks in flight."""
    head = [c for c in (next(work, None), next(work, None)) if c is not None]
    if jobs == 1 or len(head) < 2:
        for chunk in _chain(head, work):
            yield assess_chunk(chunk)
        return
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - only a pool needs it
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    services.assess_course_text  # noqa: B018 - load the engine once, before the workers fork
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_start)
    pending: deque[Future[list[Result]]] = deque()
    try:
        for chunk in _chain(head, work):
            if len(pending) >= jobs * IN_FLIGHT_PER_JOB:
                yield pending.popleft().result()
            pending.append(pool.submit(assess_chunk, chunk))
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise InputError(
            "--jobs",
            jobs,
            "a worker process died (out of memory?): give fewer jobs, or --jobs 1",
        ) from None
    finally:
        _stop(pool, pending)


def _worker_start() -> None:
    """In a worker: leave Ctrl-C to the parent, which cancels the chunks not yet started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chain(head: list[Chunk], rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield from head
    yield from rest


def _stop(pool: ProcessPoolExecutor, pending: deque[Future[list[Result]]]) -> None:
    for future in pending:
        future.cancel()
    pool.shutdown(wait=True, cancel_futures=True)


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress_bar(show: bool, total: int | None) -> Any:
    """A Rich progress bar on stderr (courses done, rate, elapsed), or nothing."""
    if not show:
        return _NoBar()
    from rich.console import Console  # noqa: PLC0415 - only a progress bar needs these
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text  # noqa: PLC0415

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} courses/s")

    counter = MofNCompleteColumn() if total is not None else TextColumn("{task.completed} done")
    bar: Progress = Progress(
        TextColumn("assessing"),
        BarColumn(),
        counter,
        Rate(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        auto_refresh=False,  # no refresh thread: the pool's workers fork from this process
        redirect_stdout=False,
        redirect_stderr=False,
    )
    bar.add_task("courses", total=total)
    return bar

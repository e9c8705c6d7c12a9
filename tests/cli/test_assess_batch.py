"""``cllcds course assess`` over many courses: files, a directory, NDJSON files and stdin.

Run as a user runs it (a real process, real files). A batch answers, per input and in input
order, the state or the errors that ``cllcds course assess FILE`` answers for that course,
whatever the number of worker processes; a bad course never stops the batch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cllcds import services
from cllcds.cli._batch import CHUNK_COURSES
from cllcds.domain import InputError
from repo_scripts import load_script

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
NAMES = ("escalating", "neutropenia-hold", "cmv-preemptive-therapy", "warm-aiha", "flucam-gap")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLLCDS, *args],
        input="" if stdin is None else stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return doc


def single(path: Path, *args: str) -> dict[str, Any]:
    """The state the single-file command answers."""
    proc = run("course", "assess", str(path), "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    state: dict[str, Any] = json.loads(proc.stdout)
    return state


def invalid_document() -> dict[str, Any]:
    doc = example("reference-document")
    doc["events"][3]["value"] = 150000
    doc["events"][3]["code"] = "PLT"
    doc["events"][0]["route"] = "oral"
    return doc


def ndjson(docs: list[Any]) -> str:
    return "".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs)


def test_many_files_answer_the_single_file_states_in_order():
    paths = [EXAMPLES / f"{name}.json" for name in NAMES]
    proc = run("course", "assess", *map(str, paths))
    assert proc.returncode == 0, proc.stderr
    got = records(proc.stdout)
    assert [r["source"] for r in got] == [str(p) for p in paths]
    assert [r["line"] for r in got] == [None] * len(paths)
    assert [r["patient"] for r in got] == [example(n)["patient"]["id"] for n in NAMES]
    for record, path in zip(got, paths, strict=True):
        assert record["state"] == single(path)
        assert "errors" not in record


def test_ndjson_on_stdin_with_a_malformed_line_and_an_invalid_course(tmp_path: Path):
    """Line 2 is not JSON and line 4 is an invalid course: both reported with their line and
    the single-file messages; the other courses are assessed; the exit status says so."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(invalid_document()), encoding="utf-8")
    text = ndjson(
        [
            example("escalating"),
            '{"format": "cllcds.course/1", "patient": }',
            "",
            invalid_document(),
            example("neutropenia-hold"),
        ]
    )
    proc = run("course", "assess", "--jobs", "1", stdin=text)
    assert proc.returncode == 2
    assert "2 of 4 course(s) not assessed" in proc.stderr
    got = records(proc.stdout)
    assert [(r["source"], r["line"]) for r in got] == [
        ("<stdin>", 1),
        ("<stdin>", 2),
        ("<stdin>", 4),
        ("<stdin>", 5),
    ]
    assert got[0]["state"] == single(EXAMPLES / "escalating.json")
    assert got[3]["state"] == single(EXAMPLES / "neutropenia-hold.json")
    (syntax,) = got[1]["errors"]
    with pytest.raises(json.JSONDecodeError) as decode:
        json.loads(text.splitlines()[1])
    assert syntax["field"] == f"line 2 column {decode.value.colno}"
    assert syntax["value"] == decode.value.msg
    assert syntax["fix"] == "fix the JSON syntax"
    assert got[1]["patient"] is None
    # The invalid course: the same problems, in the same words, as the single-file command.
    alone = run("course", "assess", str(bad))
    assert alone.returncode == 2
    messages = [e["message"] for e in got[2]["errors"]]
    assert len(messages) == 2
    assert "error: " + "\n".join(messages) == alone.stderr.strip()
    fields = {e["field"] for e in got[2]["errors"]}
    assert "events[0].route" in fields
    assert all({"field", "value", "fix"} <= e.keys() for e in got[2]["errors"])


def many_courses() -> tuple[str, list[str]]:
    """More than two chunks of courses (so a pool is used), with an invalid line among them;
    each course with its own patient id."""
    docs: list[Any] = []
    ids = []
    for i in range(CHUNK_COURSES * 2 + 17):
        if i == CHUNK_COURSES + 3:
            docs.append("not json")
            ids.append(None)
            continue
        doc = example(NAMES[i % len(NAMES)])
        doc["patient"]["id"] = f"p{i:04d}"
        docs.append(doc)
        ids.append(doc["patient"]["id"])
    return ndjson(docs), ids


def test_jobs_1_and_jobs_2_answer_the_same_records_in_input_order():
    text, ids = many_courses()
    one = run("course", "assess", "-", "--jobs", "1", stdin=text)
    two = run("course", "assess", "-", "--jobs", "2", stdin=text)
    assert one.returncode == two.returncode == 2
    assert one.stdout == two.stdout
    got = records(two.stdout)
    assert [r["line"] for r in got] == list(range(1, len(ids) + 1))
    assert [r["patient"] for r in got] == ids
    assert sum("errors" in r for r in got) == 1
    by_name = {n: single(EXAMPLES / f"{n}.json") for n in NAMES}
    for i, record in enumerate(got):
        if ids[i] is not None:
            assert record["state"] == by_name[NAMES[i % len(NAMES)]]


def test_format_json_is_one_array_of_the_ndjson_records():
    text, _ = many_courses()
    lines = run("course", "assess", "--jobs", "2", stdin=text)
    array = run("course", "assess", "--jobs", "2", "--format", "json", stdin=text)
    assert array.returncode == lines.returncode == 2
    assert json.loads(array.stdout) == records(lines.stdout)
    empty = run("course", "assess", "-", "--format", "json", stdin="")
    assert empty.returncode == 0
    assert json.loads(empty.stdout) == []


def test_a_directory_and_an_ndjson_file_name_their_sources(tmp_path: Path):
    folder = tmp_path / "courses"
    folder.mkdir()
    for name in NAMES[:3]:
        shutil.copy(EXAMPLES / f"{name}.json", folder / f"{name}.json")
    (folder / "notes.txt").write_text("not a course", encoding="utf-8")
    feed = tmp_path / "feed.ndjson"
    feed.write_text(ndjson([example("warm-aiha"), "{", example("flucam-gap")]), encoding="utf-8")
    proc = run("course", "assess", str(folder), str(feed), "--jobs", "2")
    assert proc.returncode == 2
    got = records(proc.stdout)
    assert [(r["source"], r["line"]) for r in got] == [
        *[(str(folder / f"{n}.json"), None) for n in sorted(NAMES[:3])],
        (str(feed), 1),
        (str(feed), 2),
        (str(feed), 3),
    ]
    assert got[3]["state"] == single(EXAMPLES / "warm-aiha.json")
    assert got[4]["errors"][0]["field"] == "feed.ndjson line 2 column 2"
    assert got[5]["state"] == single(EXAMPLES / "flucam-gap.json")


def test_a_missing_file_is_reported_and_the_others_assessed(tmp_path: Path):
    missing = tmp_path / "missing.json"
    proc = run("course", "assess", str(EXAMPLES / "escalating.json"), str(missing))
    assert proc.returncode == 2
    ok, gone = records(proc.stdout)
    assert ok["state"]["status"] == "active"
    (error,) = gone["errors"]
    assert error["field"] == "FILE"
    assert error["value"] == str(missing)
    assert "readable course document" in error["fix"]


def test_as_of_applies_to_every_course_and_a_date_before_a_start_is_that_courses_error(
    tmp_path: Path,
):
    late = example("escalating")
    late["start_date"] = "2007-01-25"
    late["events"] = [e for e in late["events"] if e["date"] >= "2007-01-25"]
    late_file = tmp_path / "late.json"
    late_file.write_text(json.dumps(late), encoding="utf-8")
    text = ndjson([example("escalating"), late])
    proc = run("course", "assess", "--as-of", "2007-01-20", stdin=text)
    assert proc.returncode == 2
    first, second = records(proc.stdout)
    assert first["state"] == single(EXAMPLES / "escalating.json", "--as-of", "2007-01-20")
    assert first["state"]["next_dose"]["phase"] == "re-escalation"
    alone = run("course", "assess", str(late_file), "--as-of", "2007-01-20")
    assert alone.returncode == 2
    assert [e["message"] for e in second["errors"]] == [alone.stderr.strip()[len("error: ") :]]
    assert second["errors"][0]["field"] == "--as-of"
    bad = run("course", "assess", "--as-of", "20-01-2007", stdin=text)
    assert bad.returncode == 2
    assert "--as-of" in bad.stderr
    assert bad.stdout == ""


def test_table_summarises_each_course():
    text = ndjson([example("escalating"), "nope", example("neutropenia-hold")])
    proc = run("course", "assess", "--format", "table", stdin=text)
    assert proc.returncode == 2
    out = proc.stdout
    assert "escalating" in out
    assert "ACTIVE" in out
    assert "10 mg IV" in out
    assert "ON HOLD" in out
    assert "hold since" in out
    assert "NOT ASSESSED" in out
    assert "line 2 column 1" in out


def test_progress_bar_goes_to_stderr_and_leaves_the_records_clean():
    text, ids = many_courses()
    proc = run("course", "assess", "--progress", "--jobs", "2", stdin=text)
    assert proc.returncode == 2
    assert len(records(proc.stdout)) == len(ids)
    assert "courses/s" in proc.stderr or "done" in proc.stderr


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_one_file_answers_as_before(fmt: str):
    """One course file keeps the single-file output: the bedside view or the state."""
    path = EXAMPLES / "neutropenia-hold.json"
    proc = run("course", "assess", str(path), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        assert json.loads(proc.stdout)["format"] == "cllcds.state/1"
    else:
        assert "ON HOLD" in proc.stdout
        assert "Next dose: none due" in proc.stdout
    lines = run("course", "assess", str(path), "--format", "ndjson")
    assert records(lines.stdout)[0]["state"] == single(path)


def test_csv_is_refused_for_a_batch_too():
    proc = run("course", "assess", "-", "--format", "csv", stdin=ndjson([example("escalating")]))
    assert proc.returncode == 2
    assert "use ndjson, json or table" in proc.stderr


def hostile_cases() -> list[dict[str, Any]]:
    return [doc for _, doc, _ in load_script("scripts/hostile_courses.py").CASES]


def library(doc: dict[str, Any]) -> dict[str, Any] | InputError:
    """The state the library answers (as JSON gives it back), or its error."""
    try:
        state: dict[str, Any] = json.loads(json.dumps(services.assess_course(doc)))
    except InputError as exc:
        return exc
    return state


def test_every_example_and_hostile_course_answers_what_the_library_answers():
    """The shipped examples and the hostile variants (valid and invalid), through a pool: each
    record holds the state ``assess_course`` gives, or its problems in the same words."""
    docs = [example(p.stem) for p in sorted(EXAMPLES.glob("*.json"))] + hostile_cases()
    assert len(docs) > CHUNK_COURSES  # more than one chunk: the pool is used
    proc = run("course", "assess", "--jobs", "2", stdin=ndjson(docs))
    got = records(proc.stdout)
    assert len(got) == len(docs)
    invalid = 0
    for record, doc in zip(got, docs, strict=True):
        expected = library(doc)
        if isinstance(expected, InputError):
            invalid += 1
            assert [e["message"] for e in record["errors"]] == str(expected).split("\n")
        else:
            assert record["state"] == expected
    assert invalid > 0
    assert proc.returncode == 2


def test_hostile_lines_are_input_errors_not_bugs():
    """Lines that are JSON but no course, nested too deeply, or not UTF-8: each refused with its
    line number as invalid input (exit 2), and the good course after them still assessed."""
    lines = [b"null", b"[1, 2]", b"{}", b"[" * 100_000 + b"]" * 100_000, b'{"a": "\xff"}']
    text = b"\n".join([*lines, json.dumps(example("escalating")).encode()]) + b"\n"
    proc = subprocess.run(
        [CLLCDS, "course", "assess", "-", "--jobs", "1"],
        input=text,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    got = records(proc.stdout.decode())
    assert [r["line"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert all("errors" in r for r in got[:5])
    assert not any("bug" in e["fix"] for r in got[:5] for e in r["errors"])
    assert got[3]["errors"][0]["field"] == "line 4"
    assert got[4]["errors"][0]["fix"] == "give the course document in UTF-8"
    assert got[5]["state"]["status"] == "active"


def test_single_file_not_utf8_or_nested_too_deeply_is_an_input_error(tmp_path):
    """One hostile file: a one-line error naming the file and the fix, no traceback."""
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'{"patient": {"id": "Ren\xe9"}}')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    for path, fix in ((latin, "give the course document in UTF-8"), (deep, "nested too deeply")):
        proc = run("course", "assess", str(path))
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert str(path) in proc.stderr
        assert fix in proc.stderr

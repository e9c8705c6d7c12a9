"""The fast reader of course documents (``cllcds.course._fast``) against the reference reader.

``parse_course`` reads valid documents through a compiled schema and hands every other
document to the reference reader (``parse_course_reference``). What a user relies on: the
same course for every document the reference reader accepts, and the same errors (each
message and its place, in the same order) for every document it refuses; the fast reader never
accepts what the reference reader refuses. Checked over every example course, the hostile
courses, systematic malformed variants of them and generated documents.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cllcds.course import parse_course, replay, state_document
from cllcds.course._document import parse_course_reference
from cllcds.course._fast import fast_course
from cllcds.domain import DocumentError, InputError, LabCode, LabResult, LabUnit
from cllcds.domain._clinical import lab_fast
from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "courses").glob("*.json"))

hostile = load_script("scripts/hostile_courses.py")


def _outcome(read: Any, doc: Any) -> tuple[str, Any]:
    """What a reader makes of ``doc``: the course (its repr: types of numbers count), or the
    problems (field, value, fix, in order), or any other exception (type and text)."""
    try:
        return "course", repr(read(doc))
    except DocumentError as exc:
        return "errors", [(p.field, repr(p.value), p.fix) for p in exc.problems]
    except Exception as exc:  # the reference reader's own behaviour, whatever it is
        return type(exc).__name__, str(exc)


def _same(doc: Any) -> tuple[str, Any]:
    ref = _outcome(parse_course_reference, copy.deepcopy(doc))
    assert _outcome(parse_course, copy.deepcopy(doc)) == ref
    if ref[0] != "course":
        fast = _outcome(fast_course, copy.deepcopy(doc))
        # None, or the reference reader's own exception, met first (never a course).
        assert fast in (("course", "None"), ref), "the fast reader accepted a refused document"
    return ref


def _docs() -> list[tuple[str, Any]]:
    docs = [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in EXAMPLES]
    docs += [(f"hostile:{name[:40]}", doc) for name, doc, _ in hostile.CASES]
    return docs


DOCS = _docs()

BAD_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    -0.0,
    2.5,
    1e12,
    math.nan,
    math.inf,
    True,
    "x",
    "ANC",
    "anc",
    "751-8",
    "10*9/L",
    "/uL",
    "g/L",
    "iv",
    "IV",
    "not detected",
    "[IU]/mL",
    "2024-13-01",
    "2024-01-01T08:00",
    "2024-01-01T08:00:00+02:00",
    "2007-W03-1",
    "08:30",
    "8:30",
    [],
    {},
    {"x": 1},
]


def _variants(name: str, doc: dict[str, Any], rng: random.Random, n: int) -> list[Any]:
    """``n`` malformed (or unusual) variants of ``doc``: one value replaced, a key removed, an
    unknown key added, two events swapped, an id duplicated, at random places."""
    out: list[Any] = []
    events = doc.get("events") or []
    places: list[tuple[Any, Any]] = [(doc, k) for k in doc]
    for sub in ("patient", "baseline", "rule_sets"):
        if isinstance(doc.get(sub), dict):
            places += [(doc[sub], k) for k in doc[sub]]
    if isinstance(doc.get("baseline"), dict):
        for lab in doc["baseline"].get("labs") or []:
            places += [(lab, k) for k in lab]
    for ev in events:
        places += [(ev, k) for k in ev]
    for _ in range(n):
        new = copy.deepcopy(doc)
        # Find the same place in the copy by walking the same path again.
        target, key = rng.choice(places)
        path = _path_to(doc, target)
        holder = _walk(new, path)
        action = rng.random()
        if action < 0.7:
            holder[key] = rng.choice(BAD_VALUES)
        elif action < 0.8:
            del holder[key]
        elif action < 0.9:
            holder["unexpected"] = 1
        elif len(new.get("events") or []) >= 2:
            evs = new["events"]
            i, j = rng.sample(range(len(evs)), 2)
            evs[i]["id"] = "same"
            evs[j]["id"] = "same" if rng.random() < 0.5 else evs[j].get("id", "other")
            evs[j]["supersedes"] = rng.choice(["same", "nowhere"])
        out.append(new)
    return out


def _path_to(root: Any, target: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    if root is target:
        return path
    items = (
        root.items()
        if isinstance(root, dict)
        else enumerate(root)
        if isinstance(root, list)
        else ()
    )
    for k, v in items:
        if isinstance(v, dict | list):
            found = _path_to(v, target, (*path, k))
            if found is not None:
                return found
    return None


def _walk(root: Any, path: tuple[Any, ...] | None) -> Any:
    assert path is not None
    for k in path:
        root = root[k]
    return root


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
def test_same_course_or_same_errors_for_each_document(name: str, doc: Any) -> None:
    _same(doc)


def test_the_examples_are_read_by_the_fast_reader_and_replay_the_same() -> None:
    """The fast reader is not a no-op: the example courses (valid, mostly plain) are read by it,
    and the state replayed from its course is the reference course's state."""
    read = 0
    for path in EXAMPLES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        fast = fast_course(copy.deepcopy(doc))
        if fast is None:
            continue
        read += 1
        ref = parse_course_reference(doc)
        assert repr(fast) == repr(ref)
        assert state_document(replay(fast)) == state_document(replay(ref))
    assert read >= len(EXAMPLES) // 2


def test_malformed_variants_give_the_reference_errors() -> None:
    rng = random.Random(14)
    outcomes: dict[str, int] = {}
    for name, doc in DOCS:
        if not isinstance(doc, dict):
            continue
        for variant in _variants(name, doc, rng, 20):
            kind = _same(variant)[0]
            outcomes[kind] = outcomes.get(kind, 0) + 1
    # The variants exercise both sides: many are refused, some stay valid.
    assert outcomes.get("errors", 0) > 250
    assert outcomes.get("course", 0) > 50


def test_documents_that_are_not_objects() -> None:
    for doc in (None, [], "course", 3, {}, {"format": "cllcds.course/1"}):
        _same(doc)


_EVENT = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("lab"),
            "date": st.sampled_from(["2024-01-08", "2024-01-15", "2023-01-01", "2024-1-8"]),
            "code": st.sampled_from(["ANC", "PLT", "HGB", "ALC", "CD4", "CREAT", "751-8", "x"]),
            "value": st.one_of(
                st.floats(min_value=-1, max_value=300_000),
                st.sampled_from([math.nan, math.inf]),
                st.integers(-1, 300_000),
            ),
            "unit": st.sampled_from(["10*9/L", "/uL", "g/dL", "g/L", "mmol/L", "umol/L", "%"]),
        },
        optional={"time": st.sampled_from(["08:30", "8:30", "24:00"]), "id": st.text(max_size=2)},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("dose"),
            "date": st.sampled_from(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "drug": st.sampled_from(["alemtuzumab", "", "Campath"]),
            "dose_mg": st.one_of(st.floats(-1, 20_000), st.integers(-1, 40), st.booleans()),
            "route": st.sampled_from(["iv", "sc", "IV", "oral"]),
        },
        optional={"supersedes": st.text(max_size=2), "id": st.text(max_size=2)},
    ),
    st.fixed_dictionaries(
        {"type": st.just("cmv_pcr"), "date": st.just("2024-01-08")},
        optional={
            "result": st.sampled_from(["not detected", "detected"]),
            "value": st.one_of(st.none(), st.floats(0, 2e9), st.integers(0, 5)),
            "unit": st.sampled_from(["[IU]/mL", "{copies}/mL", "IU/mL"]),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["note", "dose_held", "growth_factor", "transfusion"]),
            "date": st.just("2024-01-09"),
        },
        optional={
            "text": st.text(max_size=3),
            "reason": st.one_of(st.text(max_size=3), st.integers()),
            "drug": st.text(max_size=3),
            "product": st.text(max_size=3),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["resolved", "infusion_reaction", "fever"]),
            "date": st.just("2024-01-10"),
        },
        optional={
            "event_id": st.text(max_size=2),
            "id": st.text(max_size=2),
            "grade": st.integers(0, 6),
            "temperature_c": st.floats(35, 42),
        },
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_EVENT, max_size=12))
def test_generated_documents_give_the_same_course_or_errors(events: list[dict[str, Any]]) -> None:
    doc = {
        "format": "cllcds.course/1",
        "patient": {"id": "p"},
        "regimen": "alemtuzumab-iv-label",
        "start_date": "2024-01-01",
        "baseline": {
            "date": "2023-12-30",
            "labs": [{"code": "ANC", "value": 2.1, "unit": "10*9/L"}],
        },
        "events": events,
    }
    _same(doc)


def test_lab_fast_is_lab_result_of() -> None:
    """Every code spelling and accepted unit over values around every limit: ``lab_fast`` gives
    ``LabResult.of``'s result, or leaves the value to it (``None``) where it refuses it."""
    day = dt.date(2024, 1, 8)
    values = [0.0, -0.0, 0.5, 0.9, 1.0, 1.5, 2.0, 2.1, 25.0, 30.0, 99.5, 100.0, 150.0, 200.0]
    values += [1500.0, 2000.0, 10000.0, 150000.0, 2e6, 1e9, 0.099, 0.1, 1.6114, 88.42, 6.2]
    values += [math.inf, -1.0, math.nan]
    spellings = [(code.value, code) for code in LabCode]
    spellings += [(loinc, code) for code in LabCode for loinc in code.loinc_codes]
    accepted = 0
    for text, code in spellings:
        for unit in LabUnit:
            for v in values:
                fast = lab_fast(text, v, unit.value, day)
                try:
                    ref: LabResult | None = LabResult.of(text, v, unit.value, date=day)
                except InputError:
                    ref = None
                if fast is None:
                    assert ref is None, (text, unit, v)  # exact spellings: never left over
                    continue
                accepted += 1
                assert ref is not None, (text, unit, v)
                assert repr(fast) == repr(ref)
                assert fast == ref
                assert fast.code is code
    assert accepted > 200

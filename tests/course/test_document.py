"""Reading course documents: the reference example is accepted exactly as written, and every
problem in a bad document is reported with its place."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cllcds.course import parse_course
from cllcds.domain import DocumentError, DoseGiven, LabCode, LabEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"
REFERENCE = json.loads((EXAMPLES / "reference-document.json").read_text(encoding="utf-8"))


def problems(doc) -> list[str]:
    with pytest.raises(DocumentError) as exc:
        parse_course(doc)
    return [str(p) for p in exc.value.problems]


def test_the_reference_document_is_accepted_as_written():
    """shared/reference/course-document.md: the example of cllcds.course/1."""
    c = parse_course(REFERENCE)
    assert c.patient.id == "demo-1"
    assert c.regimen_id == "alemtuzumab-iv-label"
    assert len(c.events) == 12
    assert isinstance(c.events[0], DoseGiven)
    assert c.events[0].dose_mg == 3
    labs = [e for e in c.events if isinstance(e, LabEvent)]
    assert labs[0].result.code is LabCode.ANC
    assert labs[0].result.value == pytest.approx(0.2)
    assert c.baseline is not None
    assert c.baseline.assessment is not None
    assert c.baseline.assessment.spd_mm2 == 35 * 22 + 28 * 20


def test_unknown_top_level_key_is_an_error():
    doc = {**REFERENCE, "regimne": "x"}
    assert any(p.startswith("regimne:") and "unknown key" in p for p in problems(doc))


def test_each_problem_names_the_event_index_and_field():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][3]["unit"] = "10*9/L"
    doc["events"][3]["code"] = "PLT"
    doc["events"][3]["value"] = 150000
    doc["events"][0]["dose_mg"] = "three"
    doc["events"][6]["temperature_c"] = 101.3
    found = problems(doc)
    assert any(p.startswith("events[3]") and "did you mean /uL" in p for p in found)
    assert any(p.startswith("events[0].dose_mg") for p in found)
    assert any(p.startswith("events[6].temperature_c") and "°C" in p for p in found)
    assert len(found) == 3


def test_unknown_rule_set_lists_the_valid_ones():
    doc = {**REFERENCE, "rule_sets": {"label": "us-2020"}}
    (p,) = problems(doc)
    assert p.startswith("rule_sets.label")
    assert "us-2007" in p


def test_unknown_regimen_names_the_library():
    (p,) = problems({**REFERENCE, "regimen": "alemtuzumab-weekly"})
    assert "alemtuzumab-iv-label" in p


def test_bad_dates_are_refused():
    doc = copy.deepcopy(REFERENCE)
    doc["start_date"] = "08/01/2007"
    doc["events"][1]["date"] = "2007-13-01"
    found = problems(doc)
    assert any(p.startswith("start_date") and "YYYY-MM-DD" in p for p in found)
    assert any(p.startswith("events[1].date") for p in found)


def test_a_date_time_is_accepted_where_a_date_is():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][0]["date"] = "2007-01-08T09:30"
    c = parse_course(doc)
    assert c.events[0].time is not None
    assert c.events[0].time.hour == 9


def test_supersedes_removes_the_corrected_event():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][0]["id"] = "d1"
    doc["events"].append(
        {
            "date": "2007-01-08",
            "type": "dose",
            "drug": "alemtuzumab",
            "dose_mg": 3,
            "route": "sc",
            "supersedes": "d1",
        }
    )
    c = parse_course(doc)
    first_day = [
        e
        for e in c.effective_events()
        if isinstance(e, DoseGiven) and e.date.isoformat() == "2007-01-08"
    ]
    assert len(first_day) == 1
    assert first_day[0].route.value == "sc"


def test_supersedes_must_name_an_earlier_event():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][2]["supersedes"] = "nope"
    (p,) = problems(doc)
    assert p.startswith("events[2].supersedes")


def test_cmv_pcr_not_detected_form():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][5] = {"date": "2007-01-22", "type": "cmv_pcr", "result": "not detected"}
    c = parse_course(doc)
    assert not c.events[5].detected  # type: ignore[attr-defined]


def test_mrd_level_as_percent_is_refused():
    doc = copy.deepcopy(REFERENCE)
    doc["events"][9]["mrd"]["level"] = 5
    (p,) = problems(doc)
    assert p.startswith("events[9].mrd.level")
    assert "fraction" in p


def test_wrong_format_string():
    (p,) = problems({**REFERENCE, "format": "cllcds.course/2"})
    assert p.startswith("format")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_document_is_valid(path):
    parse_course(json.loads(path.read_text(encoding="utf-8")))


def test_an_assessment_before_the_baseline_is_refused():
    """Response is judged against the baseline: an assessment dated before it cannot be."""
    doc = copy.deepcopy(REFERENCE)
    doc["events"][9]["date"] = "2007-01-01"  # baseline 2007-01-05
    (p,) = problems(doc)
    assert p.startswith("events[9].date")
    assert "baseline" in p


# --- issue 10: times, resolutions, adverse events, progression, coded autoimmune kinds --------


def _with_events(*events):
    doc = copy.deepcopy(REFERENCE)
    doc["events"] = [*doc["events"][:3], *events]
    return doc


def test_an_event_time_is_read_from_time_or_from_the_date():
    import datetime as dt

    c = parse_course(
        _with_events(
            {"date": "2007-01-10", "time": "08:30", "type": "lab", "code": "ANC", "value": 0.3,
             "unit": "10*9/L"},
            {"date": "2007-01-10T14:05", "type": "dose", "drug": "alemtuzumab", "dose_mg": 30,
             "route": "iv"},
        )
    )  # fmt: skip
    assert c.events[3].time == dt.time(8, 30)
    assert c.events[4].time == dt.time(14, 5)


@pytest.mark.parametrize("bad", ["8:30", "25:00", "noon", 830])
def test_a_bad_time_names_the_field_and_the_format(bad):
    found = problems(_with_events({"date": "2007-01-10", "time": bad, "type": "note"}))
    assert any(p.startswith("events[3].time") and "HH:MM" in p for p in found)


def test_a_time_that_contradicts_the_date_time_is_refused():
    found = problems(_with_events({"date": "2007-01-10T08:00", "time": "09:00", "type": "note"}))
    assert any(p.startswith("events[3].time") for p in found)


def test_a_resolved_event_must_name_an_existing_earlier_dated_event():
    found = problems(_with_events({"date": "2007-01-12", "type": "resolved", "event_id": "nope"}))
    assert any(p.startswith("events[3].event_id") for p in found)
    found = problems(
        _with_events(
            {"id": "ae", "date": "2007-01-12", "type": "adverse_event", "grade": 3,
             "term": "rash"},
            {"date": "2007-01-11", "type": "resolved", "event_id": "ae"},
        )
    )  # fmt: skip
    assert any(p.startswith("events[4].date") and "before the event" in p for p in found)


def test_adverse_event_needs_a_grade_and_a_term():
    found = problems(_with_events({"date": "2007-01-12", "type": "adverse_event", "grade": 6}))
    assert any(p.startswith("events[3].grade") for p in found)
    assert any(p.startswith("events[3].term") for p in found)


def test_progression_kinds_are_listed_when_wrong():
    found = problems(_with_events({"date": "2007-01-12", "type": "progression", "kind": "PD"}))
    assert any(p.startswith("events[3].kind") and "richter" in p for p in found)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Evans syndrome", "evans syndrome"),
        ("warm AIHA", "haemolytic anaemia"),
        ("Autoimmune hemolytic anemia", "haemolytic anaemia"),
        ("ITP", "thrombocytopenia"),
        ("128091003", "thrombocytopenia"),
        # BHFDSC/CCU035_01 SNOMED code list: "Immune thrombocytopenia", "Immune
        # thrombocytopenic purpura", "Autoimmune thrombocytopenic purpura".
        ("2897005", "thrombocytopenia"),
        ("32273002", "thrombocytopenia"),
        ("13172003", "thrombocytopenia"),
        ("95563006", "evans syndrome"),
        ("pure red cell aplasia", "pure red cell aplasia"),
        ("autoimmune neutropenia", "autoimmune neutropenia"),
    ],
)
def test_autoimmune_kinds_accept_values_synonyms_and_snomed_codes(text, kind):
    c = parse_course(_with_events({"date": "2007-01-12", "type": "autoimmune_cytopenia",
                                   "kind": text}))  # fmt: skip
    ev = c.events[3]
    assert ev.kind.value == kind
    assert ev.recognised


def test_an_unknown_autoimmune_text_is_kept_but_not_recognised():
    c = parse_course(_with_events({"date": "2007-01-12", "type": "autoimmune_cytopenia",
                                   "kind": "Coombs positive"}))  # fmt: skip
    assert c.events[3].recognised is False
    assert c.events[3].kind_text == "Coombs positive"


# Issue 10 part B: what a clinician records.


def with_events(*events: dict) -> dict:
    doc = copy.deepcopy(REFERENCE)
    doc["events"] = [REFERENCE["events"][0], *events]
    return doc


def test_esa_prophylaxis_and_antiviral_intent_are_read():
    from cllcds.domain import (
        Antiviral,
        AntiviralIntent,
        Esa,
        EsaDoseUnit,
        ProphylaxisAction,
        ProphylaxisEvent,
        ProphylaxisKind,
    )

    c = parse_course(
        with_events(
            {"date": "2007-01-10", "type": "esa", "drug": "epoetin alfa", "dose": 40000,
             "dose_unit": "[IU]", "start": "2007-01-10", "stop": "2007-02-07"},
            {"date": "2007-01-15", "type": "prophylaxis", "agent": "pcp", "action": "start",
             "drug": "trimethoprim/sulfamethoxazole DS", "frequency": "twice daily, 3 x a week"},
            {"date": "2007-01-20", "type": "antiviral", "drug": "valganciclovir",
             "dose_mg": 450, "intent": "prophylaxis", "frequency": "twice daily"},
            {"date": "2007-01-21", "type": "lab", "code": "2160-0", "value": 1.1,
             "unit": "mg/dL"},
        )
    )  # fmt: skip
    esa, pro, av, creat = c.events[1:]
    assert isinstance(esa, Esa)
    assert (esa.dose, esa.dose_unit, esa.ends.isoformat()) == (40000, EsaDoseUnit.IU, "2007-02-07")
    assert isinstance(pro, ProphylaxisEvent)
    assert (pro.agent, pro.action) == (ProphylaxisKind.PCP, ProphylaxisAction.START)
    assert isinstance(av, Antiviral)
    assert (av.intent, av.frequency) == (AntiviralIntent.PROPHYLAXIS, "twice daily")
    assert isinstance(creat, LabEvent)
    assert creat.result.code is LabCode.CREAT


def test_new_event_problems_name_the_field_and_the_fix():
    found = problems(
        with_events(
            {"date": "2007-01-10", "type": "esa", "drug": "darbepoetin alfa", "dose": 300},
            {"date": "2007-01-15", "type": "prophylaxis", "agent": "pjp", "action": "begin",
             "drug": "TMP/SMX"},
            {"date": "2007-01-20", "type": "antiviral", "drug": "valganciclovir",
             "intent": "pre-emptive"},
            {"date": "2007-01-21", "type": "lab", "code": "CREAT", "value": 88, "unit": "mg/dL"},
        )
    )  # fmt: skip
    assert any(p.startswith("events[1].dose_unit") and "[IU] or ug" in p for p in found)
    assert any(p.startswith("events[2].agent") and "'pcp'" in p for p in found)
    assert any(p.startswith("events[2].action") and "'not_tolerated'" in p for p in found)
    assert any(p.startswith("events[3].intent") and "'preemptive'" in p for p in found)
    # 88 mg/dL is implausible; 88 µmol/L is 0.995 mg/dL: the message names the fix.
    assert any(p.startswith("events[4]") and "did you mean umol/L" in p for p in found)


# Found while writing the fast reader: a blank required text dropped its event silently (a
# dose with drug "" vanished from the course, so the engine advised as if it had not been
# given), and a NaN or infinite number where no range is set crashed or was accepted.


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "dose", "drug": "", "dose_mg": 3, "route": "iv"}, "drug"),
        ({"type": "dose", "drug": "   ", "dose_mg": 3, "route": "iv"}, "drug"),
        ({"type": "antiviral", "drug": " ", "intent": "prophylaxis"}, "drug"),
        ({"type": "adverse_event", "grade": 3, "term": ""}, "term"),
        ({"type": "autoimmune_cytopenia", "kind": ""}, "kind"),
        ({"type": "resolved", "event_id": ""}, "event_id"),
        ({"type": "esa", "drug": ""}, "drug"),
        ({"type": "prophylaxis", "agent": "pcp", "action": "start", "drug": ""}, "drug"),
    ],
)
def test_a_blank_required_text_is_refused_never_dropped(event, field):
    found = problems(with_events({"date": "2007-01-10", **event}))
    assert f"events[1].{field}: {event[field]!r} is invalid: give a non-blank text value" in found


@pytest.mark.parametrize(("where", "value"), [("regimen", ""), ("patient.id", " ")])
def test_a_blank_regimen_or_patient_id_is_refused(where, value):
    doc = copy.deepcopy(REFERENCE)
    if where == "regimen":
        doc["regimen"] = value
    else:
        doc["patient"]["id"] = value
    assert f"{where}: {value!r} is invalid: give a non-blank text value" in problems(doc)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_number_is_refused_with_its_place(value):
    found = problems(
        with_events(
            {"date": "2007-01-10", "type": "antiviral", "drug": "valganciclovir",
             "dose_mg": value},
            {"date": "2007-01-11", "type": "lab", "code": "ANC", "value": value,
             "unit": "10*9/L"},
        )
    )  # fmt: skip
    assert any(p.startswith("events[1].dose_mg") for p in found)
    assert any(p.startswith("events[2]") and "value" in p for p in found)

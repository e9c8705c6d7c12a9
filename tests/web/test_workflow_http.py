"""The clinician's workflow over plain HTTP (what a browser without JavaScript sends), against the
live server on SQLite and PostgreSQL: register and edit a patient, plan → verify → start, the
safety check before a dose is saved and its audited override, corrections and retractions,
account administration, the printable summary and the grades beside the counts."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from cllcds.services import _clinical_store as cs
from cllcds.services import assess_course
from cllcds.services._repository import Actor
from cllcds.web import demo_courses

from .conftest import PASSWORDS, Live, web_login

TODAY = dt.date.today()


@contextmanager
def _client(live: Live, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        r = web_login(c, username, PASSWORDS[username])
        assert r.status_code == 303
        yield c


@pytest.fixture
def clinician(live: Live) -> Iterator[httpx.Client]:
    with _client(live, "demo") as c:
        yield c


def _csrf(c: httpx.Client) -> str:
    return str(c.cookies["cllcds_csrf"])


def _version(page: str) -> str:
    m = re.search(r'name="version" value="(\d+)"', page)
    assert m
    return m.group(1)


def _own_course(live: Live, which: int = 0, **changes: Any) -> str:
    """A course of its own (a copy of a demo course), so that tests do not depend on order."""
    doc = demo_courses(TODAY)[which]
    doc["patient"]["id"] = f"wf-{uuid.uuid4().hex[:8]}"
    doc.update(changes)
    return str(cs.create_course(live.store, doc, Actor("web-test"))["id"])


def _record(c: httpx.Client, course_id: str, kind: str, **fields: str) -> httpx.Response:
    url = f"/app/courses/{course_id}"
    page = c.get(url).text
    data = {
        "csrf_token": _csrf(c),
        "version": _version(page),
        "nonce": uuid.uuid4().hex,
        "date": TODAY.isoformat(),
        **fields,
    }
    return c.post(f"{url}/record/{kind}", data=data)


def _codes(html: str) -> list[str]:
    return re.findall(r'class="finding finding-\w+" data-code="([^"]+)"', html)


def test_register_edit_and_history(clinician: httpx.Client, live: Live) -> None:
    pid = f"reg-{uuid.uuid4().hex[:8]}"
    base = {"csrf_token": _csrf(clinician), "id": pid, "sex": "female", "birth_date": "1951-04-02"}
    # A bad value comes back next to its field, with the values kept.
    r = clinician.post("/app/patients/new", data={**base, "height_cm": "abc", "weight_kg": "60"})
    assert r.status_code == 422
    assert 'id="pt-height_cm-err"' in r.text
    assert 'value="60"' in r.text
    full = {
        **base,
        "name": "Test Patient",
        "height_cm": "162",
        "weight_kg": "61",
        "cmv_igg": "positive",
        "cmv_surveillance_available": "yes",
        "cg_del17p": "no",
        "cg_del11q": "yes",
        "pt1_regimen": "fludarabine",
        "pt1_start": "2024-01-10",
        "pt1_end": "2024-06-01",
        "pt1_best_response": "PR",
        "pt1_progression": "2024-11-02",
    }
    r = clinician.post("/app/patients/new", data=full)
    assert r.status_code == 303
    stored = live.store.get_patient(pid)["patient"]
    assert stored["cytogenetics"] == {"del17p": False, "del11q": True}
    assert stored["prior_therapies"][0]["best_response"] == "PR"
    assert stored["cmv_igg"] == "positive"
    # The same id again is refused at the id.
    r = clinician.post("/app/patients/new", data=full)
    assert r.status_code == 422
    assert 'id="pt-id-err"' in r.text
    # Search by name, by birth year, by status.
    listing = clinician.get("/app/", params={"q": "test patient 1951"}).text
    assert f">{pid}<" in listing
    assert "Registered, no course" in listing
    # Edit the weight: the history shows the change, who made it and when.
    r = clinician.post(f"/app/patients/{pid}/edit", data={**full, "weight_kg": "58.5"})
    assert r.status_code == 303
    page = clinician.get(f"/app/patients/{pid}").text
    assert "weight_kg 61 → 58.5" in page
    assert "patient.update" in page
    assert live.store.get_patient(pid)["patient"]["weight_kg"] == 58.5


def test_plan_is_verified_by_a_pharmacist_before_the_course_starts(
    clinician: httpx.Client, live: Live
) -> None:
    pid = f"plan-{uuid.uuid4().hex[:8]}"
    cs.create_patient(live.store, {"id": pid, "height_cm": 170, "weight_kg": 70}, Actor("web-test"))
    r = clinician.post(
        f"/app/patients/{pid}/plans",
        data={"csrf_token": _csrf(clinician), "regimen": "alemtuzumab-iv-label",
              "start": TODAY.isoformat(), "height_cm": "1700", "weight_kg": "70"},
    )  # fmt: skip
    assert r.status_code == 422
    assert 'id="np-height_cm-err"' in r.text
    r = clinician.post(
        f"/app/patients/{pid}/plans",
        data={"csrf_token": _csrf(clinician), "regimen": "alemtuzumab-iv-label",
              "start": TODAY.isoformat(), "height_cm": "170", "weight_kg": "70"},
    )  # fmt: skip
    assert r.status_code == 303
    page = clinician.get(f"/app/patients/{pid}").text
    plan_id = re.search(r'data-plan="([0-9a-f]+)"', page)
    assert plan_id
    plan = plan_id.group(1)
    assert "waits for verification" in page
    # Not verified: it does not start (fail closed); a clinician cannot verify.
    r = clinician.post(f"/app/plans/{plan}/start", data={"csrf_token": _csrf(clinician)})
    assert r.status_code == 422
    assert "pharmacist must verify" in r.text
    r = clinician.post(f"/app/plans/{plan}/verify", data={"csrf_token": _csrf(clinician)})
    assert r.status_code == 403
    with _client(live, "pharmacist") as ph:
        r = ph.post(f"/app/plans/{plan}/verify", data={"csrf_token": _csrf(ph)})
        assert r.status_code == 303
    baseline = {"csrf_token": _csrf(clinician), "date": TODAY.isoformat(), "ANC": "2.1",
                "PLT": "98", "ALC": "80.1", "node1_site": "left cervical", "node1_long": "35",
                "node1_short": "22", "spleen_cm": "6"}  # fmt: skip
    r = clinician.post(f"/app/plans/{plan}/start", data={**baseline, "PLT": "98000"})
    assert r.status_code == 422
    assert 'id="start-PLT-err"' in r.text
    r = clinician.post(f"/app/plans/{plan}/start", data=baseline)
    assert r.status_code == 303
    course_url = r.headers["location"].split("?")[0]
    page = clinician.get(course_url).text
    assert re.search(r"verified by pharmacist \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", page)
    assert "started by demo" in page
    # A plan starts one course only.
    r = clinician.post(f"/app/plans/{plan}/start", data={"csrf_token": _csrf(clinician)})
    assert r.status_code == 422
    # The course's audit trail has the plan's start.
    course_id = course_url.rsplit("/", 1)[1]
    header = live.store.get_course(course_id)["document"]
    assert header["baseline"]["labs"][0] == {"code": "ANC", "value": 2.1, "unit": "10*9/L"}
    assert header["baseline"]["assessment"]["spleen_cm"] == 6
    actions = [e["action"] for e in live.store.audit_entries(course_id, None, 100, 0).items]
    assert "course.create" in actions
    assert "plan.start" in actions


def test_dangerous_doses_are_stopped_before_saving(clinician: httpx.Client, live: Live) -> None:
    course = _own_course(live)  # escalating: 3 and 10 mg given, 30 mg due today
    before = live.store.get_course(course)["version"]
    # Above the single-dose ceiling (and so the weekly one): stopped, each cause once, sourced.
    r = _record(clinician, course, "dose", dose_mg="300", route="iv")
    assert r.status_code == 409
    assert _codes(r.text) == ["single-dose-ceiling", "weekly-ceiling"]
    assert "Source: " in r.text
    assert 'value="300"' in r.text  # the values are kept
    # A future date and a date far in the past.
    future = (TODAY + dt.timedelta(days=3)).isoformat()
    r = _record(clinician, course, "dose", dose_mg="30", route="iv", date=future)
    assert "date-in-future" in _codes(r.text)
    old = (TODAY - dt.timedelta(days=40)).isoformat()
    r = _record(clinician, course, "labs", ANC="1.5", date=old)
    assert _codes(r.text) == ["date-far-from-today"]
    assert live.store.get_course(course)["version"] == before  # nothing saved
    # An override needs the box ticked and a reason.
    r = _record(clinician, course, "dose", dose_mg="300", route="iv")
    codes = re.search(r'name="override_codes" value="([^"]*)"', r.text)
    assert codes
    override = {"override": "1", "override_codes": codes.group(1)}
    r = _record(clinician, course, "dose", dose_mg="300", route="iv", **override)
    assert r.status_code == 422
    assert 'id="dose-override_reason-err"' in r.text
    r = _record(
        clinician, course, "dose", dose_mg="300", route="iv", override_reason="trial protocol",
        **override,
    )  # fmt: skip
    assert r.status_code == 303
    entry = live.store.audit_entries(course, "event", 100, 0).items[-1]
    assert entry["actor"] == "demo"
    assert entry["after"]["override"]["reason"] == "trial protocol"
    codes_overridden = [f["code"] for f in entry["after"]["override"]["findings"]]
    assert codes_overridden == ["single-dose-ceiling", "weekly-ceiling"]
    page = clinician.get(f"/app/courses/{course}").text
    assert "safety check overridden: trial protocol" in page
    # A normal dose (the escalation's next step) passes without a question.
    course2 = _own_course(live)
    assert _record(clinician, course2, "dose", dose_mg="30", route="iv").status_code == 303


def test_dose_during_hold_and_after_a_gap(clinician: httpx.Client, live: Live) -> None:
    held = _own_course(live, 1)  # neutropenia hold since yesterday
    r = _record(clinician, held, "dose", dose_mg="30", route="iv")
    assert r.status_code == 409
    assert "dose-during-hold" in _codes(r.text)
    # The escalating course moved back: last dose 9 days ago, so 30 mg needs re-escalation.
    doc = demo_courses(TODAY)[0]
    start = TODAY - dt.timedelta(days=10)
    doc["start_date"] = start.isoformat()
    doc["baseline"]["date"] = (start - dt.timedelta(days=2)).isoformat()
    doses = [e for e in doc["events"] if e["type"] == "dose"]
    assert len(doses) == 2
    doses[0]["date"], doses[1]["date"] = (
        start.isoformat(),
        (start + dt.timedelta(days=1)).isoformat(),
    )
    doc["events"] = [e for e in doc["events"] if e["date"] <= TODAY.isoformat()]
    course = _own_course(live, 0, **{k: doc[k] for k in ("start_date", "baseline", "events")})
    r = _record(clinician, course, "dose", dose_mg="30", route="iv")
    assert r.status_code == 409
    assert "re-escalation-required" in _codes(r.text)


def test_stop_treatment_discontinues_and_a_later_dose_is_stopped(
    clinician: httpx.Client, live: Live
) -> None:
    course = _own_course(live)  # escalating: 3 and 10 mg given, 30 mg due today
    # "Other" needs the details; the value is kept and nothing is saved.
    before = live.store.get_course(course)["version"]
    r = _record(clinician, course, "stop", reason="other")
    assert r.status_code == 422
    assert 'id="stop-text-err"' in r.text
    assert live.store.get_course(course)["version"] == before
    r = _record(clinician, course, "stop", reason="toxicity", text="grade 3 rigors")
    assert r.status_code == 303, r.text[:2000]
    stored = live.store.get_course(course)["document"]["events"][-1]
    assert {k: stored[k] for k in ("type", "reason", "text")} == {
        "type": "treatment_stopped", "reason": "toxicity", "text": "grade 3 rigors"
    }  # fmt: skip
    page = clinician.get(f"/app/courses/{course}").text
    assert "Treatment stopped" in page
    assert "clinician decision — Toxicity: grade 3 rigors" in page
    assert "Discontinued" in page
    state = assess_course(live.store.get_course(course)["document"])
    assert (state["status"], state["next_dose"]) == ("discontinued", None)
    # A dose recorded on the day of the stop is stopped before it is saved (the order within the
    # day is unknown without times); one on a later day is a dose after discontinuation.
    r = _record(clinician, course, "dose", dose_mg="30", route="iv")
    assert r.status_code == 409
    assert "dose-possibly-after-discontinuation" in _codes(r.text)
    stop_day = (TODAY - dt.timedelta(days=1)).isoformat()
    later = _own_course(live)
    assert (
        _record(clinician, later, "stop", reason="patient_choice", date=stop_day).status_code == 303
    )
    r = _record(clinician, later, "dose", dose_mg="30", route="iv")
    assert r.status_code == 409
    assert "dose-after-discontinuation" in _codes(r.text)


def test_correction_and_retraction_stay_visible(clinician: httpx.Client, live: Live) -> None:
    course = _own_course(live)
    assert _record(clinician, course, "labs", ANC="0.2", PLT="90").status_code == 303
    page = clinician.get(f"/app/courses/{course}").text
    assert 'data-code="cytopenia-hold"' in page
    doc = live.store.get_course(course)["document"]
    anc = next(e for e in doc["events"] if e.get("code") == "ANC" and e["value"] == 0.2)
    url = f"/app/courses/{course}/events/{anc['id']}/correct"
    form = clinician.get(url).text
    assert 'value="0.2"' in form  # the entry's values, ready to correct
    data = {"csrf_token": _csrf(clinician), "kind": "labs", "version": _version(form),
            "nonce": uuid.uuid4().hex, "date": TODAY.isoformat(), "ANC": "2.0"}  # fmt: skip
    r = clinician.post(url, data=data)
    assert r.status_code == 422
    assert 'id="correct-reason-err"' in r.text
    r = clinician.post(url, data={**data, "reason_for_change": "typed 0.2 for 2.0"})
    assert r.status_code == 303
    page = clinician.get(f"/app/courses/{course}").text
    assert 'data-code="cytopenia-hold"' not in page  # the engine reads the correction
    assert "ANC 0.2" in page  # the corrected entry stays, marked
    assert "replaced by entry" in page
    assert "typed 0.2 for 2.0" in page
    audit = live.store.audit_entries(course, "event", 100, 0).items
    assert audit[-1]["action"] == "event.supersede"
    assert audit[-1]["after"]["reason"] == "typed 0.2 for 2.0"
    # Retract the 10 mg dose: it stays, struck through, with the reason.
    dose = next(e for e in doc["events"] if e["type"] == "dose" and e["dose_mg"] == 10)
    r = clinician.post(
        f"/app/courses/{course}/events/{dose['id']}/retract",
        data={"csrf_token": _csrf(clinician), "reason_for_change": "recorded on wrong patient"},
    )
    assert r.status_code == 303
    page = clinician.get(f"/app/courses/{course}").text
    assert f"Retracted {dose['id']} (dose): recorded on wrong patient" in page
    state = cs.stored_course_state(live.store, course)
    assert state["cumulative_dose_mg"] == 3


def test_admin_manages_accounts(live: Live) -> None:
    name = f"nurse{uuid.uuid4().hex[:6]}"
    with _client(live, "admin") as a:
        r = a.post("/app/users", data={"csrf_token": _csrf(a), "username": name,
                                        "password": "short", "role": "viewer"})  # fmt: skip
        assert r.status_code == 422
        assert 'id="new-password-err"' in r.text
        new = {"csrf_token": _csrf(a), "username": name, "password": "first-password"}
        r = a.post("/app/users", data={**new, "role": "viewer"})
        assert r.status_code == 303
        role = {"csrf_token": _csrf(a), "role": "clinician"}
        r = a.post(f"/app/users/{name}/role", data=role)
        assert r.status_code == 303
        assert live.store.get_user(name)["role"] == "clinician"
        r = a.post("/app/users/admin/role", data={"csrf_token": _csrf(a), "role": "viewer"})
        assert r.status_code == 422  # an admin cannot demote themself (and lock admins out)
        assert live.store.get_user("admin")["role"] == "admin"
        a.post(f"/app/users/{name}/disable", data={"csrf_token": _csrf(a)})
        with httpx.Client(base_url=live.base_url) as u:
            r = web_login(u, name, "first-password")
            assert r.status_code == 401
        a.post(f"/app/users/{name}/enable", data={"csrf_token": _csrf(a)})
        r = a.post(f"/app/users/{name}/password",
                   data={"csrf_token": _csrf(a), "password": "second-password"})  # fmt: skip
        assert r.status_code == 303
        with httpx.Client(base_url=live.base_url) as u:
            r = web_login(u, name, "second-password")
            assert r.status_code == 303
        actions = [
            e["action"]
            for e in live.store.audit_entries(None, "user", 5000, 0).items
            if e["entity_id"] == name
        ]
        assert actions == [
            "user.create", "user.role", "user.disable", "user.enable", "user.password_reset",
        ]  # fmt: skip
    with _client(live, "demo") as c:
        r = c.post(f"/app/users/{name}/disable", data={"csrf_token": _csrf(c)})
        assert r.status_code == 403


def test_summary_grades_overdue_and_charts(clinician: httpx.Client, live: Live) -> None:
    course = _own_course(live, 1)  # neutropenia hold: ANC 0.2
    r = _record(clinician, course, "labs", HGB="11.600000000000001", ALC="65")
    assert r.status_code == 303
    page = clinician.get(f"/app/courses/{course}").text
    row = re.search(r'<tr data-lab="ANC">.*?</tr>', page, re.S)
    assert row
    assert "0.2 ×10⁹/L" in row.group(0)
    assert "G4" in row.group(0)
    assert "11.600000000000001" not in page
    assert 'data-value="11.6"' in page
    # Each value of the data tables carries its grade, with its unit.
    assert re.search(r'<td class="num">0\.2 ×10⁹/L</td><td>CTCAE G4</td>', page)
    # Monitoring past its date says since when.
    stopped = clinician.get(f"/app/courses/{_own_course(live, 4)}").text
    assert re.search(r"CMV PCR overdue since \d{4}-\d{2}-\d{2} \(\d+ days?\)", stopped)
    # Lymphocytes on a log axis: 65 is drawn inside the chart, not clipped at the top.
    alc = re.search(r'<svg[^>]*data-chart="ALC".*?</svg>', page, re.S)
    assert alc
    assert "logarithmic scale" in alc.group(0)
    assert "point-offscale" not in alc.group(0)
    summary = clinician.get(f"/app/courses/{course}/summary").text
    for text in ("Cumulative dose", "On hold since", "PCP", "Next actions", "CTCAE v5", "printed"):
        assert text in summary


def test_every_event_type_of_the_course_document_has_a_form() -> None:
    from cllcds.services import course_schema_document
    from cllcds.web import _forms

    types = {
        v["properties"]["type"]["const"]
        for v in course_schema_document()["properties"]["events"]["items"]["oneOf"]
    }
    recorded = {f.event_type for f in _forms.FORMS if f.event_type} | _forms.COVERED_TYPES
    assert types <= recorded
    # A key the schema gains gets an input without code: a number, an enum, a date.
    assert _forms.schema_field("duration_h", {"type": "number"}, False) == _forms.Field(
        "duration_h", "Duration", "number", unit="h"
    )
    made = _forms.schema_field("intent", {"enum": ["prophylaxis", "pre-emptive"]}, True)
    assert made is not None
    assert made.kind == "select"
    assert ("prophylaxis", "prophylaxis") in made.options

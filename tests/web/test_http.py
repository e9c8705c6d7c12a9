"""Every record form over plain HTTP (what a browser without JavaScript sends), and the guards."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest

from .conftest import PASSWORDS, Live, web_login


@pytest.fixture
def clinician(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        r = web_login(c, "demo", PASSWORDS["demo"])
        assert r.status_code == 303
        yield c


def _course_url(c: httpx.Client, patient_id: str) -> str:
    listing = c.get("/app/").text
    m = re.search(rf'href="(/app/courses/[0-9a-f]+)" class="patient-link">{patient_id}<', listing)
    assert m, listing[:500]
    return m.group(1)


def _hidden(html: str, kind: str, name: str) -> str:
    form = html[html.index(f'id="form-{kind}"') :]
    m = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert m
    return m.group(1)


FORMS = [
    ("dose", {"dose_mg": "30", "route": "iv"}, "alemtuzumab 30 mg IV"),
    ("reaction", {"grade": "2"}, "Infusion reaction"),
    ("infection", {"grade": "3", "description": "pneumonia", "serious": "1"}, "pneumonia"),
    ("cmv", {"test": "pcr", "detected": "yes", "value": "1200"}, "1200 [IU]/mL"),
    ("assessment", {"node1_site": "left cervical", "node1_long": "15", "node1_short": "9",
                    "liver_cm": "0", "spleen_cm": "1", "mrd_sample": "blood",
                    "mrd_level": "0.00005"}, "1 node(s), spleen 1 cm, MRD 0.00005 (blood)"),
    ("hold", {"reason": "patient travelling"}, "patient travelling"),
    ("stop", {"reason": "other", "text": "moved abroad"},
     "clinician decision — Other reason: moved abroad"),
    ("autoimmune", {"kind": "other", "kind_text": "pure red cell aplasia"},
     "pure red cell aplasia"),
    ("antiviral", {"drug": "valganciclovir", "dose_mg": "900", "start": "2026-01-02"},
     "valganciclovir 900 mg from 2026-01-02"),
    ("growth_factor", {"drug": "filgrastim"}, "filgrastim"),
    ("transfusion", {"product": "irradiated red cells"}, "irradiated red cells"),
    ("note", {"text": "seen on the ward round"}, "seen on the ward round"),
    ("cmv", {"test": "pcr", "detected": "no"}, "not detected"),
    ("labs", {"time": "07:45", "HGB": "11.600000000000001"}, "HGB 11.6 g/dL"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "fields", "shown"), FORMS)
def test_each_form_records_an_event(
    clinician: httpx.Client, kind: str, fields: dict[str, str], shown: str
) -> None:
    url = _course_url(clinician, "demo-autoimmune-haemolysis")
    page = clinician.get(url).text
    data = {
        "csrf_token": clinician.cookies["cllcds_csrf"],
        "version": _hidden(page, kind, "version"),
        "nonce": _hidden(page, kind, "nonce"),
        "date": dt.date.today().isoformat(),
        **fields,
    }
    r = clinician.post(f"{url}/record/{kind}", data=data)
    if kind == "dose":
        # The course is discontinued: the safety check stops the dose before it is saved and
        # says why; an explicit override with a reason records it.
        assert r.status_code == 409
        assert 'data-code="dose-after-discontinuation"' in r.text
        codes = re.search(r'name="override_codes" value="([^"]*)"', r.text)
        assert codes
        data = {**data, "override": "1", "override_codes": codes.group(1),
                "override_reason": "test of the override"}  # fmt: skip
        r = clinician.post(f"{url}/record/{kind}", data=data)
    assert r.status_code == 303, r.text[:2000]
    assert shown in clinician.get(url).text
    # The same submission again (a double click) is not recorded twice: stale version.
    again = clinician.post(f"{url}/record/{kind}", data=data)
    assert again.status_code == 422
    assert "Your values are kept" in again.text


def test_refusals_name_the_field(clinician: httpx.Client) -> None:
    url = _course_url(clinician, "demo-autoimmune-haemolysis")
    page = clinician.get(url).text
    base = {
        "csrf_token": clinician.cookies["cllcds_csrf"],
        "version": _hidden(page, "dose", "version"),
        "date": dt.date.today().isoformat(),
    }
    r = clinician.post(f"{url}/record/dose", data={**base, "dose_mg": "-3", "route": "iv"})
    assert r.status_code == 422
    assert 'id="dose-dose_mg-err"' in r.text, re.findall(r"error-summary.*", r.text)
    assert 'value="-3"' in r.text
    r = clinician.post(f"{url}/record/reaction", data={**base, "grade": "7"})
    assert 'id="reaction-grade-err"' in r.text
    r = clinician.post(f"{url}/record/labs", data={**base})
    assert "enter at least one result" in r.text
    r = clinician.post(f"{url}/record/labs", data={**base, "date": "03/01/2026", "ANC": "1"})
    assert 'id="labs-date-err"' in r.text
    # An assessment before the baseline is refused at the date (not stored, page still works).
    r = clinician.post(
        f"{url}/record/assessment",
        data={
            **base,
            "date": (dt.date.today() - dt.timedelta(days=60)).isoformat(),
            "spleen_cm": "1",
        },
    )
    assert r.status_code == 422
    assert 'id="assessment-date-err"' in r.text
    assert "baseline" in r.text
    assert clinician.get(url).status_code == 200


def test_unauthenticated_and_cross_site(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        r = c.get("/")
        assert r.status_code == 307
        r = c.get("/app/")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/app/login?next=")
        r = c.get("/app/plan.pdf?regimen=alemtuzumab-iv-label")
        assert r.status_code == 401  # the API's own authentication
        r = web_login(c, "demo", "wrong")
        assert r.status_code == 401
        r = web_login(c, "demo", PASSWORDS["demo"], next="//evil.example/")
        assert r.headers["location"] == "/app/"  # no open redirect
        # A bearer token from the API works for the downloads too.
        tok = c.post("/auth/token", json={"username": "demo", "password": PASSWORDS["demo"]})
        headers = {"Authorization": f"Bearer {tok.json()['access_token']}"}
        q = "regimen=alemtuzumab-iv-label&height_cm=170&weight_kg=70&start=2027-01-04"
        r = httpx.get(f"{live.base_url}/app/plan.ics?{q}", headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/calendar")


def test_sign_out_ends_the_session(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        web_login(c, "viewer", PASSWORDS["viewer"])
        session = c.cookies["cllcds_session"]
        assert c.get("/app/").status_code == 200
        r = c.post("/app/logout", data={"csrf_token": c.cookies["cllcds_csrf"]})
        assert r.status_code == 303
        c.cookies.set("cllcds_session", session)  # replaying the old cookie does not work
        assert c.get("/app/").status_code == 303

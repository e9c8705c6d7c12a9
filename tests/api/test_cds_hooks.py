"""CDS Hooks 2.0 over real HTTP: a uvicorn server on a free loopback port, requests shaped as an
EHR sends them (``hookInstance``, ``fhirServer``, ``hook``, ``context``, ``prefetch``).

The patient is the realistic bundle of ``tests/fhir/data`` (CLL, alemtuzumab 3 → 10 → 30 mg then
30 mg three times a week from 2024-03-04; on 2024-04-15 ANC 200/µL and CMV PCR 2400 IU/mL).
The prefetch is cut at a date to give the course as the EHR would have seen it then.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cllcds.api._cds_hooks import TOKEN_ENV, make_router

BUNDLE = Path(__file__).resolve().parents[1] / "fhir" / "data" / "cll-patient-bundle.json"
FHIR_SERVER = "https://ehr.example.org/fhir"
PATIENT_ID = "cll-042"
INDICATORS = {"info", "warning", "critical"}


class Clock:
    """The day the hooks judge the course on (the EHR's 'now')."""

    today = dt.date(2024, 4, 16)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = FastAPI()
    app.include_router(make_router(today=lambda: Clock.today))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


HOOK_TOKEN = "ehr-shared-secret"


@pytest.fixture
def client(base_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """An EHR's client: it calls the hooks with the bearer token the service was given."""
    monkeypatch.setenv(TOKEN_ENV, HOOK_TOKEN)
    headers = {"Authorization": f"Bearer {HOOK_TOKEN}"}
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as c:
        yield c


def _day(res: dict[str, Any]) -> str | None:
    when = res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")
    return None if when is None else str(when)[:10]


def prefetch(until: str | None = None) -> dict[str, Any]:
    """The prefetch an EHR fills from the discovery templates, with data up to ``until``."""
    with BUNDLE.open(encoding="utf-8") as fh:
        bundle = json.load(fh)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for e in bundle["entry"]:
        res = e["resource"]
        day = _day(res)
        if until is not None and day is not None and day > until:
            continue
        by_type.setdefault(res["resourceType"], []).append(
            {"fullUrl": f"{FHIR_SERVER}/{res['resourceType']}/{res['id']}", "resource": res}
        )

    def searchset(rtype: str) -> dict[str, Any]:
        entries = by_type.get(rtype, [])
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "entry": [dict(e, search={"mode": "match"}) for e in entries],
        }

    return {
        "patient": by_type["Patient"][0]["resource"],
        "conditions": searchset("Condition"),
        "observations": searchset("Observation"),
        "medications": searchset("MedicationAdministration"),
        "careplans": searchset("CarePlan"),
        "adverseEvents": searchset("AdverseEvent"),
        "medicationStatements": searchset("MedicationStatement"),
        "procedures": searchset("Procedure"),
        "communications": searchset("Communication"),
    }


def hook_request(hook: str, context: dict[str, Any], pf: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": FHIR_SERVER,
        "hook": hook,
        "fhirAuthorization": {
            "access_token": "opaque-ehr-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/Patient.read user/Observation.read",
            "subject": "cds-service",
        },
        "context": {"userId": "Practitioner/onc-7", "patientId": PATIENT_ID, **context},
    }
    if pf is not None:
        body["prefetch"] = pf
    return body


def medication_request(dose_mg: float, day: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-alem-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "117055",
                    "display": "alemtuzumab",
                }
            ],
            "text": "Alemtuzumab",
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": f"{day}T08:00:00-04:00",
        "requester": {"reference": "Practitioner/onc-7"},
        "dosageInstruction": [
            {
                "text": f"{dose_mg:g} mg IV over 2 hours",
                "timing": {"repeat": {"boundsPeriod": {"start": day}}},
                "route": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "47625008",
                            "display": "Intravenous route",
                        }
                    ]
                },
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": dose_mg,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }


def order_sign(
    client: httpx.Client, dose_mg: float, day: str, until: str | None
) -> list[dict[str, Any]]:
    draft = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": medication_request(dose_mg, day)}],
    }
    body = hook_request(
        "order-sign", {"encounterId": "enc-1", "draftOrders": draft}, prefetch(until)
    )
    r = client.post("/cds-services/cllcds-order-sign", json=body)
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    for card in cards:
        check_card(card)
    return cards


def check_card(card: dict[str, Any]) -> None:
    """CDS Hooks 2.0 card attributes."""
    assert uuid.UUID(card["uuid"])
    assert 0 < len(card["summary"]) < 140
    assert card["indicator"] in INDICATORS
    assert card["source"]["label"]
    assert isinstance(card["detail"], str)
    assert "suggested_dose_mg" not in card
    assert "order_index" not in card
    for s in card.get("suggestions", []):
        assert card["selectionBehavior"] == "at-most-one"
        assert s["label"]
        for action in s["actions"]:
            assert action["type"] in {"create", "update", "delete"}


# ------------------------------------------------------------------------------------------


def test_discovery(client: httpx.Client) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    services = r.json()["services"]
    by_hook = {s["hook"]: s for s in services}
    assert set(by_hook) == {"patient-view", "order-sign"}
    for s in services:
        assert {"hook", "id", "title", "description", "prefetch"} <= set(s)
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "{{context.patientId}}" in s["prefetch"]["observations"]
        assert "MedicationAdministration?patient=" in s["prefetch"]["medications"]
    assert by_hook["patient-view"]["id"] == "cllcds-patient-view"
    assert by_hook["order-sign"]["id"] == "cllcds-order-sign"


def test_patient_view_hold_and_cmv(client: httpx.Client) -> None:
    Clock.today = dt.date(2024, 4, 16)
    body = hook_request("patient-view", {"encounterId": "enc-1"}, prefetch())
    r = client.post("/cds-services/cllcds-patient-view", json=body)
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    for card in cards:
        check_card(card)
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    hold = by_rule["hold"]
    assert hold["indicator"] == "critical"
    assert "on hold" in hold["summary"]
    assert "cytopenia" in hold["summary"]
    assert "ANC ≥ 500/µL" in hold["detail"]  # the resume condition
    assert "US PLR §2.3" in hold["detail"]  # its source
    cmv = by_rule["cmv"]
    assert cmv["indicator"] == "critical"
    assert cmv["summary"].startswith("CMV positive")
    assert "2400" in cmv["detail"]
    due = by_rule["due-actions"]
    assert "blood-count-recovery" in due["summary"]
    assert "| Due | Action | Source |" in due["detail"]
    assert "start date 2024-03-04 assumed" in hold["detail"]  # what was assumed is said


def test_patient_view_due_actions_and_next_dose(client: httpx.Client) -> None:
    Clock.today = dt.date(2024, 4, 1)
    body = hook_request("patient-view", {}, prefetch("2024-03-29"))
    r = client.post("/cds-services/cllcds-patient-view", json=body)
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    assert "hold" not in by_rule
    due = by_rule["due-actions"]
    assert {"blood-count", "cmv-surveillance", "dose"} <= set(
        due["summary"].split(": ", 1)[1].split(", ")
    )
    assert by_rule["next-dose"]["summary"].startswith(
        "Next alemtuzumab dose: 30 mg IV on 2024-04-01"
    )
    assert all(c["indicator"] != "critical" for c in cards)


def test_order_sign_40_mg(client: httpx.Client) -> None:
    cards = order_sign(client, 40, "2024-03-29", until="2024-03-27")
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    single = by_rule["ceiling-single-dose"]
    assert single["indicator"] == "critical"
    assert "30 mg single-dose ceiling" in single["summary"]
    assert single["overrideReasons"]
    (suggestion,) = single["suggestions"]
    resource = suggestion["actions"][0]["resource"]
    assert resource["resourceType"] == "MedicationRequest"
    assert resource["id"] == "draft-alem-1"
    assert resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 30
    # Treatment week 4 (from day 1, Mon 2024-03-04): 30 (03-25) + 30 (03-27) + 40 = 100 mg.
    weekly = by_rule["ceiling-weekly-dose"]
    assert weekly["indicator"] == "critical"
    assert "100 mg" in weekly["summary"]
    # The label's own schedule is never flagged: 30 mg on Monday 2024-04-01 opens week 5.
    assert "ceiling-weekly-dose" not in {
        c["source"]["topic"]["code"] for c in order_sign(client, 30, "2024-04-01", "2024-03-29")
    }


def test_order_sign_during_hold(client: httpx.Client) -> None:
    Clock.today = dt.date(2024, 4, 17)
    cards = order_sign(client, 30, "2024-04-17", until=None)
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    hold = by_rule["hold"]
    assert hold["indicator"] == "critical"
    assert "on hold" in hold["summary"]
    assert "neutropenia/thrombocytopenia" in hold["detail"]
    assert "Resume when: ANC ≥ 500/µL" in hold["detail"]
    assert "next-dose" not in by_rule  # no dose is recommended during a hold


def test_order_sign_30_mg_after_a_10_day_gap(client: httpx.Client) -> None:
    """Last dose Friday 2024-04-05; 30 mg proposed for 2024-04-15: 10 days → restart at 3 mg."""
    cards = order_sign(client, 30, "2024-04-15", until="2024-04-05")
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    card = by_rule["re-escalation"]
    assert card["indicator"] == "critical"
    assert card["summary"] == "Re-escalation required: start at 3 mg, not 30 mg"
    assert "10 days" in card["detail"]
    dose = card["suggestions"][0]["actions"][0]["resource"]["dosageInstruction"][0]
    assert dose["doseAndRate"][0]["doseQuantity"]["value"] == 3
    assert "hold" not in by_rule


def test_order_sign_the_recommended_dose_is_quiet(client: httpx.Client) -> None:
    assert order_sign(client, 30, "2024-04-01", until="2024-03-29") == []


def test_order_sign_other_drug_is_not_ours(client: httpx.Client) -> None:
    draft_order = medication_request(375, "2024-04-01")
    draft_order["medicationCodeableConcept"] = {"text": "Acetaminophen"}
    draft = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft_order}]}
    body = hook_request("order-sign", {"draftOrders": draft}, prefetch("2024-03-29"))
    r = client.post("/cds-services/cllcds-order-sign", json=body)
    assert r.status_code == 200
    assert r.json() == {"cards": []}


def test_missing_prefetch_is_412(client: httpx.Client) -> None:
    body = hook_request("patient-view", {}, None)
    r = client.post("/cds-services/cllcds-patient-view", json=body)
    assert r.status_code == 412


def test_bad_request_is_400(client: httpx.Client) -> None:
    body = hook_request("patient-view", {}, prefetch())
    del body["hookInstance"]
    r = client.post("/cds-services/cllcds-patient-view", json=body)
    assert r.status_code == 400
    assert "hookInstance" in r.json()["error"]


def test_implausible_ehr_data_is_a_critical_no_advice_card(client: httpx.Client) -> None:
    pf = prefetch("2024-03-29")
    pf = copy.deepcopy(pf)
    obs = next(
        e["resource"]
        for e in pf["observations"]["entry"]
        if e["resource"]["id"] == "cbc-20240325-plt"
    )
    obs["valueQuantity"]["code"] = "10*9/L"  # 71000 in 10*9/L
    r = client.post("/cds-services/cllcds-patient-view", json=hook_request("patient-view", {}, pf))
    assert r.status_code == 200
    (card,) = r.json()["cards"]
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Data incomplete")
    assert "Observation/cbc-20240325-plt" in card["detail"]


def test_data_cllcds_cannot_represent_is_a_critical_no_advice_card(client: httpx.Client) -> None:
    """A qualitative CMV DNA 'detected' without a viral load cannot be carried into the course:
    the service says the data are incomplete instead of advising on the rest (issue 12)."""
    pf = copy.deepcopy(prefetch("2024-03-29"))
    pf["observations"]["entry"].append(
        {
            "resource": {
                "resourceType": "Observation",
                "id": "cmv-qual",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "30246-3"}]},
                "subject": {"reference": "Patient/cll-042"},
                "effectiveDateTime": "2024-03-27",
                "valueCodeableConcept": {"text": "Detected"},
            }
        }
    )
    r = client.post("/cds-services/cllcds-patient-view", json=hook_request("patient-view", {}, pf))
    assert r.status_code == 200
    (card,) = r.json()["cards"]
    assert card["indicator"] == "critical"
    assert card["summary"] == "Data incomplete: no alemtuzumab advice for this patient"
    assert "Observation/cmv-qual" in card["detail"]


def test_bearer_token_when_configured(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    body = hook_request("patient-view", {}, prefetch("2024-03-29"))
    r = client.post("/cds-services/cllcds-patient-view", json=body, headers={"Authorization": ""})
    assert r.status_code == 401
    r = client.post("/cds-services/cllcds-patient-view", json=body)  # the old secret
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.post(
        "/cds-services/cllcds-patient-view",
        json=body,
        headers={"Authorization": "Bearer s3cret"},
    )
    assert r.status_code == 200
    assert client.get("/cds-services").status_code == 200  # discovery stays public


def test_patient_without_alemtuzumab_gets_no_cards(client: httpx.Client) -> None:
    pf = prefetch("2024-02-29")  # before the first administration
    assert pf["medications"]["entry"] == []
    r = client.post("/cds-services/cllcds-patient-view", json=hook_request("patient-view", {}, pf))
    assert r.status_code == 200
    assert r.json() == {"cards": []}


def test_order_sign_first_dose_must_be_3_mg(client: httpx.Client) -> None:
    cards = order_sign(client, 30, "2024-03-04", until="2024-02-29")
    by_rule = {c["source"]["topic"]["code"]: c for c in cards}
    card = by_rule["escalation-start"]
    assert card["indicator"] == "critical"
    assert card["summary"] == "Escalation required: start at 3 mg, not 30 mg"
    assert "no alemtuzumab has been given yet" in card["detail"]
    assert "start date 2024-03-04 assumed" in card["detail"]
    assert order_sign(client, 3, "2024-03-04", until="2024-02-29") == []

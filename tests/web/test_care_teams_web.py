"""Care teams in the web app: a patient of another team is neither listed nor shown, and its
forms refuse to record; patients in no team (the demo) are seen by everyone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from cllcds import services as cs
from cllcds.services import Actor

from .conftest import PASSWORDS, Live, web_login

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "courses" / "escalating.json"


def test_other_teams_patients_are_hidden(live: Live) -> None:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    pid = f"team-{uuid.uuid4().hex[:8]}"
    doc["patient"]["id"] = pid
    course = cs.create_course(live.store, doc, Actor("setup"), team="oncology-b")
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        assert web_login(c, "demo", PASSWORDS["demo"]).status_code == 303
        listing = c.get("/app/")
        assert listing.status_code == 200
        assert pid not in listing.text
        page = c.get(f"/app/courses/{course['id']}")
        assert page.status_code == 403
        assert "care team oncology-b" in page.text
        assert c.get(f"/app/patients/{pid}").status_code == 403
        r = c.post(
            f"/app/courses/{course['id']}/record/dose",
            data={
                "csrf_token": c.cookies["cllcds_csrf"],
                "version": str(course["version"]),
                "date": "2007-01-10",
                "dose_mg": "10",
                "route": "iv",
            },
        )
        assert r.status_code == 403
    assert cs.get_course(live.store, course["id"])["version"] == course["version"]


def test_every_course_and_patient_page_of_another_team_refuses(live: Live) -> None:
    """Corrections, retractions, the printable summary, the record's edit form and the plan
    forms check the care team as the course page does; nothing is stored."""
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    doc.pop("as_of", None)
    pid = f"team-{uuid.uuid4().hex[:8]}"
    doc["patient"]["id"] = pid
    course = cs.create_course(live.store, doc, Actor("setup"), team="oncology-b")
    cid = course["id"]
    event_id = cs.get_course(live.store, cid)["document"]["events"][0]["id"]
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        assert web_login(c, "demo", PASSWORDS["demo"]).status_code == 303
        token = c.cookies["cllcds_csrf"]
        for path in (
            f"/app/courses/{cid}/summary",
            f"/app/courses/{cid}/events/{event_id}/correct",
            f"/app/patients/{pid}/edit",
        ):
            page = c.get(path)
            assert page.status_code == 403, path
            assert "care team oncology-b" in page.text, path
        for path, data in (
            (f"/app/courses/{cid}/events/{event_id}/retract", {"reason_for_change": "typo"}),
            (f"/app/patients/{pid}/plans", {"regimen": "alemtuzumab-iv-label"}),
            (f"/app/patients/{pid}/edit", {"name": "x"}),
        ):
            r = c.post(path, data={"csrf_token": token, **data})
            assert r.status_code == 403, path
    assert cs.get_course(live.store, cid)["version"] == course["version"]

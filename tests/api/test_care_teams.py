"""Care teams over real HTTP on SQLite and PostgreSQL: a clinician sees and writes only the
patients of their teams (and those in no team, the default set-up); an admin assigns teams;
break-the-glass access is possible and audited."""

from __future__ import annotations

import uuid

import httpx

from cllcds import services as cs
from cllcds.services import Actor, Role

from .conftest import PASSWORD, Live

NOTE = {"date": "2007-01-09", "type": "note", "text": "seen"}


def _token(live: Live, username: str) -> dict[str, str]:
    r = httpx.post(f"{live.base_url}/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_care_teams_and_break_the_glass(live: Live) -> None:
    tag = uuid.uuid4().hex[:6]
    a, b = f"ca-{tag}", f"cb-{tag}"
    for name in (a, b):
        cs.add_user(live.store, name, PASSWORD, Role.CLINICIAN, Actor("setup"))
    with live.client("admin") as admin:
        for name, team in ((a, f"haem-a-{tag}"), (b, f"haem-b-{tag}")):
            r = admin.post(f"/users/{name}/teams", json={"team": team})
            assert r.status_code == 200, r.text
            assert r.json()["teams"] == [team]
    ha, hb = _token(live, a), _token(live, b)
    with httpx.Client(base_url=live.base_url, timeout=30) as c:
        doc = live.course_doc()
        course = c.post("/courses", json=doc, headers=ha)
        assert course.status_code == 201, course.text
        cid, pid = course.json()["id"], doc["patient"]["id"]
        assert c.get(f"/patients/{pid}", headers=ha).json()["team"] == f"haem-a-{tag}"
        # The other team's clinician neither sees nor writes this patient.
        for path in (f"/patients/{pid}", f"/courses/{cid}", f"/courses/{cid}/state"):
            r = c.get(path, headers=hb)
            assert r.status_code == 403, (path, r.text)
            assert "break-glass" in r.json()["fix"]
        listed = c.get("/patients", params={"limit": 200}, headers=hb).json()
        assert pid not in [p["id"] for p in listed["items"]]
        courses = c.get("/courses", params={"limit": 200}, headers=hb).json()
        assert cid not in [x["id"] for x in courses["items"]]
        r = c.post(f"/courses/{cid}/events", json=NOTE, headers={**hb, "If-Match": "*"})
        assert r.status_code == 403
        # A patient in no team (the default set-up) is seen by both.
        shared = live.new_course()
        assert c.get(f"/courses/{shared['id']}", headers=hb).status_code == 200
        # Break the glass: access, audited with the reason.
        r = c.post(f"/patients/{pid}/break-glass", json={"reason": "on call, patient in ED"},
                   headers=hb)  # fmt: skip
        assert r.status_code == 200, r.text
        assert c.get(f"/courses/{cid}", headers=hb).status_code == 200
        r = c.post(f"/courses/{cid}/events", json=NOTE, headers={**hb, "If-Match": "*"})
        assert r.status_code == 201
    with live.client("admin") as admin:
        audit = admin.get("/audit", params={"entity": "patient", "limit": 200}).json()
        last = admin.get(
            "/audit",
            params={"entity": "patient", "limit": 200, "offset": max(audit["total"] - 200, 0)},
        ).json()["items"]
        glass = [e for e in last if e["action"] == "access.break_glass" and e["entity_id"] == pid]
        assert glass
        assert glass[0]["actor"] == b
        assert glass[0]["after"]["reason"] == "on call, patient in ED"
        # An admin moves the patient back to the default team: everyone sees it again.
        assert admin.put(f"/patients/{pid}/team", json={"team": None}).status_code == 200
        r = admin.delete(f"/users/{b}/teams/haem-b-{tag}")
        assert r.json()["teams"] == []

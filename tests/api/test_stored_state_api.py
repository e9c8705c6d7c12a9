"""``GET /courses/{id}/state`` over real HTTP answers the state kept with the course: the same
bytes the endpoint answered when it computed every state per request, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import sqlalchemy as sa
from fastapi.responses import JSONResponse

from cllcds.services._course import assess_course
from cllcds.services._stored_state import state_engine

from .conftest import Live

DOSE_10 = {
    "date": "2007-01-09",
    "type": "dose",
    "drug": "alemtuzumab",
    "dose_mg": 10,
    "route": "iv",
}


def _as_computed(document: dict[str, Any], day: dt.date) -> bytes:
    """What the endpoint answered before states were stored: FastAPI's JSON of the state
    computed from the course document for the request."""
    return bytes(JSONResponse(assess_course(document, as_of=day)).body)


def test_state_is_served_as_stored_and_equals_the_computed_answer(live: Live) -> None:
    course = live.new_course()
    cid = course["id"]
    today = dt.date.today()
    with live.client("clinician") as c:
        for step in range(3):
            r = c.get(f"/courses/{cid}/state")
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "application/json"
            doc = c.get(f"/courses/{cid}").json()
            assert r.headers["ETag"] == f'"{doc["version"]}"'
            assert r.content == _as_computed(doc["document"], today)
            stored = live.store.course_state_record(cid)["stored"]
            assert stored is not None
            assert (stored["version"], stored["as_of"], stored["engine"]) == (
                doc["version"],
                today.isoformat(),
                state_engine(),
            )
            assert stored["state"].encode("utf-8") == r.content
            if step == 0:  # a dose
                event: dict[str, Any] = DOSE_10
            elif step == 1:  # a correction of it
                event = {**DOSE_10, "dose_mg": 3, "supersedes": "ev-4"}
            else:
                break
            w = c.post(
                f"/courses/{cid}/events", json=event, headers={"If-Match": r.headers["ETag"]}
            )
            assert w.status_code == 201, w.text
        # another date: computed for the request, and the stored state is left as it was
        for day in ("2007-01-10", "2007-01-08"):
            r = c.get(f"/courses/{cid}/state", params={"as_of": day})
            assert r.status_code == 200
            assert r.content == _as_computed(doc["document"], dt.date.fromisoformat(day))
        assert live.store.course_state_record(cid)["stored"]["as_of"] == today.isoformat()
        # refused as before
        bad = c.get(f"/courses/{cid}/state", params={"as_of": "2006-01-01"})
        assert bad.status_code in (400, 422)
        assert "start date" in bad.text
        assert c.get("/courses/nope/state").status_code == 404


def test_a_stale_stored_state_is_recomputed_over_http(live: Live) -> None:
    course = live.new_course()
    cid = course["id"]
    with live.store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE course_states SET engine = 'old', state = :s WHERE course_id = :cid"),
            {"s": json.dumps({"status": "bogus"}), "cid": cid},
        )
    with live.client("viewer") as c:
        r = c.get(f"/courses/{cid}/state")
        assert r.status_code == 200
        assert r.content == _as_computed(course["document"], dt.date.today())
    assert live.store.course_state_record(cid)["stored"]["engine"] == state_engine()


def test_the_care_team_check_comes_before_the_stored_state(live: Live) -> None:
    doc = live.course_doc()
    doc["patient"]["id"] = f"p-team-{uuid.uuid4().hex[:8]}"
    with live.client("clinician") as c:
        r = c.post("/courses", json=doc)
        assert r.status_code == 201
        cid = r.json()["id"]
    with live.client("admin") as a:
        pid = doc["patient"]["id"]
        assert a.put(f"/patients/{pid}/team", json={"team": "elsewhere"}).status_code == 200
    with live.client("viewer") as c:
        r = c.get(f"/courses/{cid}/state")
        assert r.status_code == 403
        assert "cllcds.state" not in r.text

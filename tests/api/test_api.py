"""The REST API over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest

from .conftest import PASSWORD, Live

DOSE_10 = {
    "date": "2007-01-09",
    "type": "dose",
    "drug": "alemtuzumab",
    "dose_mg": 10,
    "route": "iv",
}
NOTE = {"date": "2007-01-09", "type": "note", "text": "seen in clinic"}
PROBLEM = "application/problem+json"


def test_health_needs_no_auth(live: Live) -> None:
    r = httpx.get(f"{live.base_url}/health")
    assert r.status_code == 200
    assert r.json()["database"] == live.database
    assert r.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/patients"),
        ("GET", "/courses/x"),
        ("GET", "/courses/x/state"),
        ("POST", "/courses/x/events"),
        ("GET", "/regimens"),
        ("GET", "/users"),
        ("GET", "/audit"),
        ("POST", "/plans"),
        ("GET", "/evidence/tables/1"),
    ],
)
def test_unauthenticated_is_401(live: Live, method: str, path: str) -> None:
    r = httpx.request(method, f"{live.base_url}{path}", json={})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    bad = httpx.request(
        method, f"{live.base_url}{path}", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401


def test_wrong_password_is_401(live: Live) -> None:
    r = httpx.post(
        f"{live.base_url}/auth/token", json={"username": "u-viewer", "password": "wrong-one"}
    )
    assert r.status_code == 401
    assert r.json()["field"] == "password"


# (role, may read, may record, may manage users, may read audit)
PERMISSIONS = [
    ("clinician", True, True, False, True),
    ("pharmacist", True, False, False, True),
    ("viewer", True, False, False, False),
    ("admin", True, False, True, True),
]


@pytest.mark.parametrize(("role", "read", "record", "users", "audit"), PERMISSIONS)
def test_roles(live: Live, role: str, read: bool, record: bool, users: bool, audit: bool) -> None:
    course = live.new_course()
    cid = course["id"]

    def allowed(r: httpx.Response, ok: bool) -> None:
        if ok:
            assert r.status_code < 400, r.text
        else:
            assert r.status_code == 403, r.text
            assert r.headers["content-type"].startswith(PROBLEM)

    with live.client(role) as c:
        allowed(c.get(f"/courses/{cid}"), read)
        allowed(c.get(f"/courses/{cid}/state"), read)
        allowed(c.get(f"/courses/{cid}/events"), read)
        allowed(c.get("/patients"), read)
        allowed(c.get("/regimens"), read)
        allowed(c.post(f"/courses/{cid}/events", json=NOTE, headers={"If-Match": '"3"'}), record)
        allowed(c.post("/courses", json=live.course_doc()), record)
        allowed(c.post("/patients", json={"id": f"pp-{role}-{cid[:6]}"}), record)
        allowed(c.get("/users"), users)
        allowed(
            c.post(
                "/users",
                json={"username": f"n-{role}-{cid[:6]}", "password": PASSWORD, "role": "viewer"},
            ),
            users,
        )
        allowed(c.get("/audit", params={"course_id": cid}), audit)


def test_course_lifecycle_and_etag(live: Live) -> None:
    course = live.new_course()
    cid = course["id"]
    with live.client("clinician") as c:
        got = c.get(f"/courses/{cid}")
        assert got.headers["ETag"] == '"3"'
        assert got.json()["document"]["format"] == "cllcds.course/1"
        r = c.post(
            f"/courses/{cid}/events", json=DOSE_10, headers={"If-Match": got.headers["ETag"]}
        )
        assert r.status_code == 201, r.text
        assert r.headers["ETag"] == '"4"'
        assert r.json()["seq"] == 4
        state_response = c.get(f"/courses/{cid}/state", params={"as_of": "2007-01-10"})
        assert state_response.headers["ETag"] == '"4"'
        state = state_response.json()
        assert state["format"] == "cllcds.state/1"
        assert state["next_dose"]["dose_mg"] == 30
        # Without as_of a stored course is judged today, not on its last event's day.
        today = c.get(f"/courses/{cid}/state").json()
        assert today["as_of"] == dt.date.today().isoformat()
        early = c.get(f"/courses/{cid}/state", params={"as_of": "2007-01-08"}).json()
        assert early["next_dose"]["dose_mg"] == 10
        resp = c.get(f"/courses/{cid}/response", params={"criteria": "iwcll-2018"})
        assert resp.status_code == 200
        pid = course["patient_id"]
        assert c.get(f"/patients/{pid}/courses").json()["items"][0]["id"] == cid
        assert c.get("/courses/nope").status_code == 404


def test_if_match_required_and_checked(live: Live) -> None:
    cid = live.new_course()["id"]
    with live.client("clinician") as c:
        missing = c.post(f"/courses/{cid}/events", json=NOTE)
        assert missing.status_code == 428
        assert missing.json()["field"] == "If-Match"
        stale = c.post(f"/courses/{cid}/events", json=NOTE, headers={"If-Match": '"1"'})
        assert stale.status_code == 412
        assert stale.json()["current_version"] == 3
        assert c.get(f"/courses/{cid}").json()["version"] == 3


def test_two_writers_one_wins(live: Live) -> None:
    cid = live.new_course()["id"]
    results: list[int] = []
    barrier = threading.Barrier(6)

    def writer(i: int) -> None:
        with live.client("clinician") as c:
            barrier.wait()
            event = {**NOTE, "text": f"writer {i}"}
            r = c.post(f"/courses/{cid}/events", json=event, headers={"If-Match": '"3"'})
            results.append(r.status_code)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [412] * 5
    with live.client("viewer") as c:
        body = c.get(f"/courses/{cid}").json()
    assert body["version"] == 4
    assert len(body["document"]["events"]) == 4


def test_idempotent_retry_records_once(live: Live) -> None:
    cid = live.new_course()["id"]
    headers = {"If-Match": '"3"', "Idempotency-Key": "retry-1"}
    with live.client("clinician") as c:
        first = c.post(f"/courses/{cid}/events", json=DOSE_10, headers=headers)
        again = c.post(f"/courses/{cid}/events", json=DOSE_10, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        other = c.post(
            f"/courses/{cid}/events",
            json={**DOSE_10, "dose_mg": 3},
            headers={**headers, "If-Match": '"4"'},
        )
        assert other.status_code == 422
        assert other.json()["field"] == "Idempotency-Key"
        assert c.get(f"/courses/{cid}/events").json()["total"] == 4


def test_invalid_event_is_422_and_store_unchanged(live: Live) -> None:
    cid = live.new_course()["id"]
    bad = {"date": "2007-01-10", "type": "lab", "code": "PLT", "value": 150000, "unit": "10*9/L"}
    with live.client("clinician") as c:
        r = c.post(f"/courses/{cid}/events", json=bad, headers={"If-Match": '"3"'})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["field"].startswith("events[3]")
        assert body["errors"][0]["fix"]
        assert "did you mean /uL" in body["errors"][0]["fix"]
        typo = c.post(
            f"/courses/{cid}/events", json={**NOTE, "txet": "x"}, headers={"If-Match": '"3"'}
        )
        assert typo.status_code == 422
        assert typo.json()["field"].startswith("events[3]")
        after = c.get(f"/courses/{cid}").json()
    assert after["version"] == 3
    assert len(after["document"]["events"]) == 3


def test_correction_supersedes(live: Live) -> None:
    cid = live.new_course()["id"]
    lab = {"date": "2007-01-09", "type": "lab", "code": "ANC", "value": 0.2, "unit": "10*9/L"}
    with live.client("clinician") as c:
        first = c.post(f"/courses/{cid}/events", json=lab, headers={"If-Match": '"3"'}).json()
        fix = {**lab, "value": 2.0, "supersedes": first["id"]}
        second = c.post(f"/courses/{cid}/events", json=fix, headers={"If-Match": '"4"'})
        assert second.status_code == 201, second.text
        assert second.json()["supersedes"] == first["id"]
        events = c.get(f"/courses/{cid}/events").json()["items"]
    assert [e["event"]["value"] for e in events if e["type"] == "lab"] == [0.2, 2.0]


def test_audit_records_who_before_after(live: Live) -> None:
    cid = live.new_course()["id"]
    with live.client("clinician") as c:
        c.post(
            f"/courses/{cid}/events",
            json=NOTE,
            headers={"If-Match": '"3"', "X-Request-ID": "req-audit-1"},
        )
        items = c.get("/audit", params={"course_id": cid}).json()["items"]
    assert [i["action"] for i in items] == ["course.create", "event.append"]
    last = items[-1]
    assert last["actor"] == "u-clinician"
    assert last["request_id"] == "req-audit-1"
    assert last["before"] == {"version": 3}
    assert last["after"]["event"]["text"] == "seen in clinic"


def test_pagination(live: Live) -> None:
    cid = live.new_course()["id"]
    with live.client("clinician") as c:
        for i in range(3):
            r = c.post(f"/courses/{cid}/events", json=NOTE, headers={"If-Match": f'"{3 + i}"'})
            assert r.status_code == 201
        p1 = c.get(f"/courses/{cid}/events", params={"limit": 4}).json()
        p2 = c.get(
            f"/courses/{cid}/events", params={"limit": 4, "offset": p1["next_offset"]}
        ).json()
        assert (p1["total"], p1["next_offset"], p2["next_offset"]) == (6, 4, None)
        assert [e["seq"] for e in p1["items"] + p2["items"]] == [1, 2, 3, 4, 5, 6]
        assert c.get(f"/courses/{cid}/events", params={"limit": 0}).status_code == 422


def test_session_cookie_needs_csrf(live: Live) -> None:
    cid = live.new_course()["id"]
    with httpx.Client(base_url=live.base_url) as c:
        r = c.post("/auth/login", json={"username": "u-clinician", "password": PASSWORD})
        assert r.status_code == 200
        csrf = r.json()["csrf_token"]
        cookie = r.headers.get_list("set-cookie")[0]
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert c.get(f"/courses/{cid}").status_code == 200  # safe method: cookie suffices
        no_csrf = c.post(f"/courses/{cid}/events", json=NOTE, headers={"If-Match": '"3"'})
        assert no_csrf.status_code == 403
        assert no_csrf.json()["field"] == "X-CSRF-Token"
        wrong = c.post(
            f"/courses/{cid}/events", json=NOTE, headers={"If-Match": '"3"', "X-CSRF-Token": "x"}
        )
        assert wrong.status_code == 403
        ok = c.post(
            f"/courses/{cid}/events", json=NOTE, headers={"If-Match": '"3"', "X-CSRF-Token": csrf}
        )
        assert ok.status_code == 201
        assert c.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        c.cookies.clear()
        assert c.get(f"/courses/{cid}").status_code == 401


def test_disabled_user_is_locked_out(live: Live) -> None:
    with live.client("admin") as admin:
        r = admin.post(
            "/users", json={"username": "temp-clin", "password": PASSWORD, "role": "clinician"}
        )
        assert r.status_code == 201, r.text
        tok = httpx.post(
            f"{live.base_url}/auth/token", json={"username": "temp-clin", "password": PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {tok}"}
        assert httpx.get(f"{live.base_url}/patients", headers=auth).status_code == 200
        assert admin.post("/users/temp-clin/disable").status_code == 200
        assert httpx.get(f"{live.base_url}/patients", headers=auth).status_code == 401
        dup = admin.post(
            "/users", json={"username": "temp-clin", "password": PASSWORD, "role": "viewer"}
        )
        assert dup.status_code == 409


def test_reference_endpoints(live: Live) -> None:
    with live.client("viewer") as c:
        regimens = c.get("/regimens").json()["items"]
        rid = regimens[0]["id"]
        assert c.get(f"/regimens/{rid}").status_code == 200
        assert c.get("/regimens/nope").status_code == 404
        plan = c.post(
            "/plans",
            json={
                "regimen": "alemtuzumab-iv-label",
                "start": "2024-01-08",
                "height_cm": 170,
                "weight_kg": 70,
            },
        )
        assert plan.status_code == 200, plan.text
        ics = c.post(
            "/plans",
            params={"format": "ics"},
            json={
                "regimen": "alemtuzumab-iv-label",
                "start": "2024-01-08",
                "height_cm": 170,
                "weight_kg": 70,
            },
        )
        assert ics.text.startswith("BEGIN:VCALENDAR")
        bad = c.post(
            "/plans",
            json={"regimen": "nope", "start": "2024-01-08", "height_cm": 170, "weight_kg": 70},
        )
        assert bad.status_code in (404, 422)
        assert bad.json()["field"] == "regimen"
        assert c.get("/evidence/tables/1").status_code == 200
        assert c.get("/evidence/discrepancies").status_code == 200
        pool = c.get("/evidence/pool")
        assert pool.status_code == 200, pool.text
        svg = c.get("/evidence/forest.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml")


def test_pk_simulation(live: Live) -> None:
    with live.client("viewer") as c:
        r = c.post("/pk/simulate", json={"regimen": "label-iv"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["profile"]
        assert "summary" in body
        assert c.get("/pk/parameters").json()["items"]
        bad = c.post("/pk/simulate", json={"regimen": "nope", "start": "2024-01-01"})
        assert bad.status_code == 404
        assert bad.json()["field"] == "regimen"
        assert c.post("/pk/simulate", json={"n": 0}).status_code == 422


def test_pharmacist_verifies_plans(live: Live) -> None:
    inputs = {
        "regimen": "alemtuzumab-iv-label",
        "start": "2024-01-08",
        "height_cm": 170,
        "weight_kg": 70,
    }
    with live.client("clinician") as c:
        plan_id = c.post("/plans", json=inputs).json()["plan_id"]
        refused = c.post("/plans/verify", json={**inputs, "plan_id": plan_id})
        assert refused.status_code == 403
    with live.client("pharmacist") as p:
        ok = p.post("/plans/verify", json={**inputs, "plan_id": plan_id})
        assert ok.status_code == 200, ok.text
        assert ok.json()["verified_by"] == "u-pharmacist"
        wrong = p.post("/plans/verify", json={**inputs, "weight_kg": 71, "plan_id": plan_id})
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "plan_id"
        log = p.get("/audit", params={"entity": "plan"}).json()["items"]
    assert any(e["action"] == "plan.verify" and e["entity_id"] == plan_id for e in log)

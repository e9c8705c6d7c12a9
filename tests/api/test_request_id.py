"""Every response names its request (``X-Request-ID``: the caller's, cut to size, or a new one)
and is not cached unless the route says otherwise; the audit log records the same id."""

from __future__ import annotations

import httpx

from .conftest import Live


def test_request_id_is_echoed_cut_and_made_when_absent(live: Live) -> None:
    r = httpx.get(f"{live.base_url}/health", headers={"X-Request-ID": "trace-42"})
    assert r.headers["X-Request-ID"] == "trace-42"
    assert r.headers["Cache-Control"] == "no-store"
    r = httpx.get(f"{live.base_url}/health", headers={"X-Request-ID": "x" * 500})
    assert r.headers["X-Request-ID"] == "x" * 64
    made = {httpx.get(f"{live.base_url}/health").headers["X-Request-ID"] for _ in range(3)}
    assert len(made) == 3
    assert all(len(rid) == 32 for rid in made)


def test_errors_carry_the_request_id_and_security_headers(live: Live) -> None:
    r = httpx.get(f"{live.base_url}/courses/nope/state", headers={"X-Request-ID": "e-1"})
    assert r.status_code == 401
    assert r.headers["X-Request-ID"] == "e-1"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert len(r.headers.get_list("X-Request-ID")) == 1


def test_a_route_s_own_cache_control_is_kept(live: Live) -> None:
    r = httpx.get(f"{live.base_url}/app/static/app.css")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["X-Request-ID"]


def test_audit_log_records_the_callers_request_id(live: Live) -> None:
    course = live.new_course()
    with live.client("clinician") as c:
        r = c.post(
            f"/courses/{course['id']}/events",
            json={"date": "2007-01-09", "type": "note", "text": "rid"},
            headers={"If-Match": "*", "X-Request-ID": "rid-audit-7"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["X-Request-ID"] == "rid-audit-7"
        log = c.get("/audit", params={"course_id": course["id"]}).json()["items"]
    assert any(e["request_id"] == "rid-audit-7" for e in log)

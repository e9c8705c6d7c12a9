"""End to end in headless Chromium: sign in, the patient list, a course, plan, evidence, roles.

Each test drives the pages as a user would (clicks, typing, Tab) against the live server; the
main pages are saved as screenshots in ``docs/screenshots/`` for the README when
``CLLCDS_SCREENSHOTS=1`` (so that an ordinary run leaves the working tree alone).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from typing import Any

import pytest

from cllcds.services import _clinical_store as cs
from cllcds.services._repository import Actor
from cllcds.web import demo_courses

from .conftest import PASSWORDS, SCREENSHOTS, Live

pytestmark = pytest.mark.slow


def _shot(page: Any, name: str) -> None:
    """Save a screenshot for the README when ``CLLCDS_SCREENSHOTS=1`` (otherwise just take it)."""
    png = page.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("CLLCDS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(png)


def _open_course(page: Any, patient_id: str) -> None:
    page.goto("/app/")
    page.click(f"a.patient-link:text-is('{patient_id}')")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == patient_id


def test_sign_in_is_required_and_checked(browser: Any, live: Live) -> None:
    ctx = browser.new_context(base_url=live.base_url)
    page = ctx.new_page()
    page.goto("/app/evidence")
    assert "/app/login" in page.url
    page.fill("#username", "demo")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "wrong password" in page.inner_text("[role=alert]")
    assert page.input_value("#username") == "demo"
    page.fill("#password", PASSWORDS["demo"])
    page.click("button[type=submit]")
    page.wait_for_url("**/app/evidence")  # back where the user was going
    ctx.close()


def test_patient_list_shows_badges_and_due_today(page_for: Any) -> None:
    page = page_for("demo")
    rows = page.locator("table.patients tbody tr")
    assert rows.count() >= 5
    text = page.inner_text("table.patients")
    for badge in ("On hold", "CMV on treatment", "Discontinued", "Completed", "Active"):
        assert badge in text
    escalating = page.locator("tr", has=page.locator("a:text-is('demo-escalating')"))
    assert "Alemtuzumab 30 mg IV" in escalating.inner_text()  # the dose due today
    _shot(page, "patients")
    page.fill("#q", "cmv-pre")
    page.press("#q", "Enter")
    page.wait_for_url("**q=cmv-pre**")
    assert page.locator("table.patients tbody tr").count() == 1


def _anc_points(page: Any) -> list[tuple[float, float]]:
    pts = page.locator("svg[data-chart=ANC] .point")
    return [
        (float(pts.nth(i).get_attribute("data-value")), _y(pts.nth(i))) for i in range(pts.count())
    ]


def _y(el: Any) -> float:
    box = el.bounding_box()
    return float(box["y"] + box["height"] / 2)


def test_lab_panel_triggers_hold_alert_and_chart_point(page_for: Any, live: Live) -> None:
    # A course of its own (escalating, as the demo's), so that other tests do not depend on order.
    doc = demo_courses(dt.date.today())[0]
    doc["patient"]["id"] = f"web-{uuid.uuid4().hex[:8]}"
    course = cs.create_course(live.store, doc, Actor("web-test"))
    page = page_for("demo")
    page.goto(f"/app/courses/{course['id']}")
    assert page.inner_text("h1") == doc["patient"]["id"]
    assert page.locator("[data-code=cytopenia-hold]").count() == 0
    before = _anc_points(page)
    page.click("#form-labs summary")
    page.fill("#labs-ANC", "0.2")
    page.fill("#labs-PLT", "90")
    page.click("#form-labs button[type=submit]")
    page.wait_for_url(re.compile(r".*recorded=labs.*"))
    assert "Lab panel recorded" in page.inner_text("[role=status]")
    alert = page.locator("[data-code=cytopenia-hold]")
    assert alert.is_visible()
    assert "Withhold alemtuzumab" in alert.inner_text()
    # A click shows the rule, its inputs and the citation.
    alert.locator("summary").click()
    why = alert.locator("dl.why").inner_text()
    assert "cytopenia.trigger" in why
    assert "ANC = 0.2" in why
    assert "US PLR" in why
    # The chart has the new point, drawn below the dashed hold line.
    after = _anc_points(page)
    assert len(after) == len(before) + 1
    low = page.locator("svg[data-chart=ANC] .point-hold")
    assert low.count() == 1
    assert low.get_attribute("data-value") == "0.2"
    hold_line = page.locator("svg[data-chart=ANC] line.threshold-hold")
    assert _y(low) > _y(hold_line)  # SVG y grows downwards: below the line
    assert "On hold" in page.inner_text(".badges")


def test_course_page_screenshot(page_for: Any) -> None:
    page = page_for("demo")
    _open_course(page, "demo-neutropenia-hold")
    assert page.locator("[data-code=cytopenia-hold]").is_visible()
    assert page.locator("svg[data-chart=ANC] .point-hold").count() == 1
    _shot(page, "course")


def test_rejected_form_keeps_values_and_says_why_next_to_the_field(page_for: Any) -> None:
    page = page_for("demo")
    _open_course(page, "demo-cmv-preemptive")
    version = page.get_attribute("#form-labs input[name=version]", "value")
    page.click("#form-labs summary")
    page.fill("#labs-ANC", "1.1")
    page.fill("#labs-PLT", "150000")
    page.click("#form-labs button[type=submit]")
    page.wait_for_selector("#labs-PLT-err")
    message = page.inner_text("#labs-PLT-err")
    assert "implausible for platelets" in message
    assert "/uL" in message  # says how to fix it
    assert page.input_value("#labs-ANC") == "1.1"
    assert page.input_value("#labs-PLT") == "150000"
    assert page.get_attribute("#labs-PLT", "aria-invalid") == "true"
    # The caret is put in the bad field, and nothing was recorded.
    assert page.evaluate("document.activeElement.id") == "labs-PLT"
    assert page.get_attribute("#form-labs input[name=version]", "value") == version
    _shot(page, "record-form")
    page.fill("#labs-PLT", "bad")
    page.click("#form-labs button[type=submit]")
    page.wait_for_selector("#labs-PLT-err")
    assert "not a number" in page.inner_text("#labs-PLT-err")


def test_plan_print_and_calendar(page_for: Any) -> None:
    page = page_for("demo")
    page.click("nav >> text=Plan")
    page.select_option("#plan-regimen", "alemtuzumab-iv-label")
    page.fill("#plan-height_cm", "abc")
    page.fill("#plan-weight_kg", "70")
    page.click("#make-plan")
    assert "height" in page.inner_text("#plan-height_cm-err")
    page.fill("#plan-height_cm", "172")
    page.fill("#plan-start", "2027-01-04")
    page.click("#make-plan")
    page.wait_for_selector("#plan-pdf")
    assert "Alemtuzumab 3 mg" in page.inner_text("table.plan-items")
    _shot(page, "plan")
    pdf = page.request.get(page.get_attribute("#plan-pdf", "href"))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    ics = page.request.get(page.get_attribute("#plan-ics", "href"))
    assert ics.status == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in ics.text()


def test_pooled_analysis_with_forest_plot(page_for: Any) -> None:
    page = page_for("demo")
    page.click("nav >> text=Evidence")
    assert "Osterborg" in page.inner_text("table.review")
    page.select_option("#ev-view", "recomputed")
    page.select_option("#ev-route", "sc")
    page.click("form.filters:has(#ev-table) button")
    assert "iv" not in [
        c.strip() for c in page.locator("table.review td:nth-child(6)").all_inner_texts()
    ]
    page.select_option("#pool-by", "route")
    page.click("#run-pool")
    page.wait_for_selector("#forest-img")
    page.wait_for_function(
        "document.getElementById('forest-img').complete && "
        "document.getElementById('forest-img').naturalWidth > 0"
    )
    assert "%" in page.inner_text("#pool-result")
    assert "k = " in page.inner_text("#pool-result")
    page.locator("#pool").scroll_into_view_if_needed()
    _shot(page, "evidence")


def test_viewer_cannot_record(page_for: Any, live: Live) -> None:
    page = page_for("viewer")
    _open_course(page, "demo-completed-pr")
    assert page.locator("#record").count() == 0
    assert page.locator("#alerts").is_visible()
    course_url = page.url
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "cllcds_csrf")
    r = page.request.post(
        course_url + "/record/fever",
        form={"csrf_token": csrf, "version": "1", "date": "2026-01-01", "temperature_c": "39"},
    )
    assert r.status == 403
    assert "may not record" in r.text()
    # Without the CSRF token even a clinician's post is refused.
    clin = page_for("demo")
    r = clin.request.post(course_url + "/record/fever", form={"date": "2026-01-01"})
    assert r.status == 403


def test_keyboard_reaches_main_actions_with_visible_focus(page_for: Any) -> None:
    page = page_for("demo")
    _open_course(page, "demo-neutropenia-hold")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    reached: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        label = page.evaluate(
            "(() => { const e = document.activeElement;"
            " return (e.tagName + ':' + (e.id || e.textContent || '').trim()).slice(0, 60); })()"
        )
        reached.append(label)
        style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none", f"no visible focus on {label}"
        if label.startswith("SUMMARY:Lab panel"):
            break
    assert any(r.startswith("A:Patients") for r in reached)
    assert any(r.startswith("SELECT:criteria") for r in reached)
    assert reached[-1].startswith("SUMMARY:Lab panel"), reached
    page.keyboard.press("Enter")  # opens the form
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "labs-date"


def test_audit_and_patient_views_for_admin_and_pharmacist(page_for: Any) -> None:
    admin = page_for("admin")
    admin.click("nav >> text=Audit")
    assert "course.create" in admin.inner_text("table.audit")
    admin.click("nav >> text=Users")
    assert "pharmacist" in admin.inner_text("table")
    pharm = page_for("pharmacist")
    pharm.goto("/app/patients/demo-neutropenia-hold")
    assert "Prior therapies" in pharm.inner_text("main")
    assert pharm.locator("nav >> text=Users").count() == 0
    r = pharm.request.get("/app/users")
    assert r.status == 403


def test_assets_are_served_locally(page_for: Any, live: Live) -> None:
    page = page_for("demo")
    outside: list[str] = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(live.base_url) else None,
    )
    _open_course(page, "demo-cmv-preemptive")
    page.click("nav >> text=Evidence")
    assert outside == []
    css = page.request.get("/app/static/app.css")
    assert css.status == 200
    assert css.headers["content-type"].startswith("text/css")


def test_forms_work_without_javascript(browser: Any, live: Live) -> None:
    ctx = browser.new_context(base_url=live.base_url, java_script_enabled=False)
    page = ctx.new_page()
    page.goto("/app/login")
    page.fill("#username", "demo")
    page.fill("#password", PASSWORDS["demo"])
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")
    _open_course(page, "demo-completed-pr")
    page.click("#form-fever summary")
    page.fill("#fever-temperature_c", "38.7")
    page.click("#form-fever button[type=submit]")
    page.wait_for_url(re.compile(r".*recorded=fever.*"))
    assert "38.7 °C" in page.inner_text("ol.timeline")
    page.select_option("#criteria", "nci-wg-1996")
    page.click("#response button")
    assert "by nci-wg-1996" in page.inner_text("#response")
    ctx.close()


def test_tablet_layout_has_no_sideways_scrolling(browser: Any, live: Live) -> None:
    ctx = browser.new_context(base_url=live.base_url, viewport={"width": 820, "height": 1180})
    page = ctx.new_page()
    page.goto("/app/login")
    page.fill("#username", "demo")
    page.fill("#password", PASSWORDS["demo"])
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")
    for path in ("/app/", "/app/evidence"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    _open_course(page, "demo-neutropenia-hold")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    ctx.close()

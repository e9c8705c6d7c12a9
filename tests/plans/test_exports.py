"""Exports: JSON, CSV, iCalendar (RFC 5545), HTML and PDF treatment sheets."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cllcds import services
from cllcds.domain import Drug, InputError, Plan, PlanOptions
from cllcds.services._plan_export import ics_fold

from .conftest import make

STAMP = datetime(2024, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def label_plan() -> Plan:
    return make("alemtuzumab-iv-label", name="Jane Example")


def test_json_lists_administrations(label_plan: Plan) -> None:
    doc = json.loads(services.plan_json(label_plan))
    assert doc["format"] == "cllcds.plan/1"
    adm = doc["administrations"]
    assert len(adm) == len(label_plan.administrations)
    assert {k: adm[0][k] for k in ("date", "drug", "dose_mg", "route")} == {
        "date": "2024-01-01",
        "drug": "alemtuzumab",
        "dose_mg": 3.0,
        "route": "iv",
    }
    assert adm[0]["dose"]["calculated_mg"] == 3.0
    assert adm[0]["dose"]["formula"]
    assert adm[0]["premedication"]["drugs"][0]["name"] == "diphenhydramine"
    assert doc["rule_sets"] == {"label": "us-2007"}
    assert doc["ceilings"]["alemtuzumab_max_mg_in_7_days_planned"] <= 90
    assert doc["prophylaxis"][0]["earliest_stop_date"] == "2024-05-22"
    assert {s["source"] for s in doc["sources"]} >= {"L1", "P1", "seed", "E2", "L9"}


def test_csv_has_one_row_per_item(label_plan: Plan) -> None:
    rows = list(csv.DictReader(io.StringIO(services.plan_csv(label_plan))))
    items = services.plan_items(label_plan)
    assert len(rows) == len(items)
    adm = [r for r in rows if r["kind"] == "administration"]
    assert len(adm) == len(label_plan.administrations)
    assert (adm[0]["date"], adm[0]["drug"], adm[0]["dose_mg"], adm[0]["route"]) == (
        "2024-01-01", "alemtuzumab", "3", "iv",
    )  # fmt: skip
    kinds = {r["kind"] for r in rows}
    assert {"premedication", "prophylaxis-start", "prophylaxis-earliest-stop"} <= kinds
    assert {"monitoring-blood-count", "monitoring-cmv-pcr", "monitoring-cd4"} <= kinds
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def check_rfc5545(text: str, n_events: int) -> list[str]:
    """A small RFC 5545 check: CRLF line ends, 75-octet lines, calendar and event framing."""
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
    lines = unfold(text)[:-1]
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(x.startswith("PRODID:") for x in lines)
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == n_events
    events = text.count("BEGIN:VEVENT")
    assert events == n_events
    uids = [x for x in lines if x.startswith("UID:")]
    assert len(uids) == len(set(uids)) == n_events
    assert sum(x.startswith("DTSTAMP:") for x in lines) == n_events
    return [x.split(":", 1)[1] for x in lines if x.startswith("DTSTART;VALUE=DATE:")]


def test_ics_is_rfc5545(label_plan: Plan) -> None:
    text = services.plan_ics(label_plan, STAMP)
    items = services.plan_items(label_plan)
    starts = check_rfc5545(text, len(items))
    assert starts == [i.date.strftime("%Y%m%d") for i in items]
    assert "DTSTAMP:20240101T093000Z" in text


def test_ics_parses_with_icalendar(label_plan: Plan) -> None:
    icalendar = pytest.importorskip("icalendar")
    cal = icalendar.Calendar.from_ical(services.plan_ics(label_plan, STAMP))
    events = list(cal.walk("VEVENT"))
    items = services.plan_items(label_plan)
    assert len(events) == len(items)
    assert [e.decoded("DTSTART") for e in events] == [i.date for i in items]
    first_dose = next(e for e in events if str(e.get("SUMMARY")).startswith("Alemtuzumab 3 mg"))
    assert first_dose.decoded("DTSTART") == date(2024, 1, 1)
    assert "0.10 mL" in str(first_dose.get("DESCRIPTION"))


def test_ics_fold_keeps_utf8_characters_whole() -> None:
    line = "DESCRIPTION:" + "µ≥ 200 cells/µL, 30 mg → 90 mg; " * 8
    folded = ics_fold(line)
    for part in folded.encode("utf-8").split(b"\r\n"):
        assert len(part) <= 75
        part.decode("utf-8")  # no character split across lines
    assert folded.replace("\r\n ", "") == line


def test_html_sheet_is_self_contained_and_printable(label_plan: Plan) -> None:
    html = services.plan_html(label_plan, STAMP)
    assert html.startswith("<!DOCTYPE html>")
    assert "Jane Example" in html
    assert "@page" in html
    assert "@media print" in html
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)  # nothing fetched
    for a in label_plan.administrations:
        assert a.date.strftime("%a %d %b %Y") in html
    assert "Anti-infective prophylaxis" in html
    assert "Monitoring" in html
    assert "Sources" in html
    assert "Wed 22 May 2024" in html  # earliest prophylaxis stop


def test_html_escapes_user_text() -> None:
    p = make("flucam", name="<b>Bob & Co</b>")
    html = services.plan_html(p, STAMP)
    assert "&lt;b&gt;Bob &amp; Co&lt;/b&gt;" in html
    assert "<b>Bob" not in html


def test_pdf_opens_and_holds_the_sheet(tmp_path: Path, label_plan: Plan) -> None:
    data = services.plan_pdf(label_plan, STAMP)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "plan.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Jane Example" in text
    assert "Dose table" in text
    for a in label_plan.administrations:
        assert a.date.strftime("%a %d %b %Y") in text
    assert re.search(r"Mon 01 Jan 2024.*?3 mg", text, re.S)
    assert "famciclovir 250 mg" in text
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert re.search(r"Pages:\s+[2-9]", info.stdout)


@pytest.mark.slow
def test_every_regimen_exports_in_every_format() -> None:
    from cllcds import knowledge

    for rid in knowledge.regimens():
        p = make(rid, name="Test Patient")
        assert json.loads(services.plan_json(p))["regimen"]["id"] == rid
        assert services.plan_csv(p).count("\n") == len(services.plan_items(p)) + 1
        check_rfc5545(services.plan_ics(p, STAMP), len(services.plan_items(p)))
        html = services.plan_html(p, STAMP)
        assert "Test Patient" in html
        assert services.plan_pdf(p, STAMP).startswith(b"%PDF-")
        if any(a.drug is not Drug.ALEMTUZUMAB for a in p.administrations):
            assert "mg/m2 ×" in html


def test_exports_state_the_reading_of_the_weekly_ceiling() -> None:
    """The plan says which reading of the label's "90 mg per week" (L1) it follows: the
    treatment week by default (the course engine's reading), rolling 7 days as a setting."""
    default = make("alemtuzumab-iv-label")
    doc = json.loads(services.plan_json(default))
    assert doc["options"]["weekly_ceiling"] == "treatment-week"
    assert doc["ceilings"]["weekly_ceiling_reading"] == "treatment-week"
    assert doc["ceilings"]["alemtuzumab_max_mg_in_7_days_planned"] == 90
    assert "90 mg a treatment week" in services.plan_html(default, STAMP)
    rolling = make("alemtuzumab-iv-label", options=PlanOptions(weekly_ceiling="rolling-7-days"))
    doc = json.loads(services.plan_json(rolling))
    assert doc["options"]["weekly_ceiling"] == "rolling-7-days"
    assert "any 7 consecutive days (rolling-7-days setting)" in services.plan_html(rolling, STAMP)


def test_make_plan_takes_the_reading_and_refuses_an_unknown_one() -> None:
    p = services.make_plan(
        "alemtuzumab-iv-label", "2024-01-01", 170, 70, weekly_ceiling="rolling-7-days"
    )
    assert date(2024, 1, 8) not in {a.date for a in p.alemtuzumab()}
    p = services.make_plan("alemtuzumab-iv-label", "2024-01-01", 170, 70)
    assert date(2024, 1, 8) in {a.date for a in p.alemtuzumab()}
    with pytest.raises(InputError) as exc:
        services.make_plan("alemtuzumab-iv-label", "2024-01-01", 170, 70, weekly_ceiling="x")
    assert exc.value.field == "weekly_ceiling"

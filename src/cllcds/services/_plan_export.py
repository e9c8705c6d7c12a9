"""Exports of a plan: JSON document, CSV, iCalendar, printable HTML and PDF treatment sheets.

* :func:`plan_document` — the plan as plain data (``format: cllcds.plan/1``); the JSON export.
* :func:`plan_items` — every dated item (administration, premedication, prophylaxis start and
  earliest stop, monitoring), in date order: one CSV row and one calendar event each.
* :func:`plan_ics` — RFC 5545 iCalendar: all-day VEVENTs, CRLF line ends, lines folded at 75
  octets, TEXT values escaped.
* :func:`plan_html` — a self-contained, print-friendly sheet (inline CSS, no scripts or fonts
  from the network), rendered from ``cllcds/web/templates/plan_sheet.html`` with Jinja2.
* :func:`plan_pdf` — the same sheet as a PDF (fpdf2, pure Python, core fonts).

The HTML template is read as package data (not imported), so this module does not depend on the
web adapter.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

from cllcds.domain import (
    ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
    ALEMTUZUMAB_MAX_WEEKLY_MG,
    Administration,
    Drug,
    Plan,
    ProphylaxisKind,
)

from ._planning import citation_dict

__all__ = [
    "PLAN_FORMAT",
    "PlanItem",
    "plan_csv",
    "plan_document",
    "plan_html",
    "plan_ics",
    "plan_items",
    "plan_json",
    "plan_pdf",
]

PLAN_FORMAT = "cllcds.plan/1"
"""Format tag of the JSON plan document."""

_PROPHYLAXIS_NAMES = {
    ProphylaxisKind.PCP: "PCP prophylaxis",
    ProphylaxisKind.HERPES: "Herpes prophylaxis",
    ProphylaxisKind.CMV: "CMV prophylaxis",
}


_WEEK_TEXT = {
    "treatment-week": "a treatment week (weeks from day 1, realigned at each restart)",
    "rolling-7-days": "any 7 consecutive days (rolling-7-days setting)",
}
"""How each reading of the weekly ceiling is printed (``PlanOptions.weekly_ceiling``)."""


def _num(x: float) -> str:
    return f"{x:g}"


def _course_label(a: Administration) -> str:
    return f"run-in D{a.cycle_day}" if a.cycle == 0 else f"C{a.cycle} D{a.cycle_day}"


def plan_id(plan: Plan) -> str:
    """A stable id for the plan's inputs (calendar UIDs keep it, so a re-import updates)."""
    key = "|".join(
        [
            plan.regimen.id,
            plan.start.isoformat(),
            f"{plan.body.height_cm:g}",
            f"{plan.body.weight_kg:g}",
            plan.patient.identifier,
            plan.patient.name,
            repr(plan.options),
        ]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Document (JSON)
# ---------------------------------------------------------------------------------------------


def _administration(a: Administration) -> dict[str, Any]:
    return {
        "date": a.date.isoformat(),
        "day": a.day,
        "cycle": a.cycle,
        "cycle_day": a.cycle_day,
        "drug": a.drug.value,
        "dose_mg": a.dose_mg,
        "route": a.route.value,
        "phase": a.phase.value,
        "infusion": a.infusion,
        "dose": {
            "basis": a.dose.basis.value,
            "amount": a.dose.amount,
            "calculated_mg": a.dose.calculated_mg,
            "ordered_mg": a.dose.ordered_mg,
            "formula": a.dose.formula,
            "bsa_m2": None if a.dose.bsa_m2 is None else round(a.dose.bsa_m2, 4),
            "weight_kg": a.dose.weight_kg,
        },
        "preparation": (
            None
            if a.preparation is None
            else {
                "product": a.preparation.product,
                "volume_ml": a.preparation.volume_ml,
                "diluent": a.preparation.diluent,
                "administration": a.preparation.administration,
                "citation": citation_dict(a.preparation.citation),
            }
        ),
        "premedication": (
            None
            if a.premedication is None
            else {
                "reason": a.premedication.reason,
                "timing": a.premedication.timing,
                "drugs": [
                    {"name": d.name, "dose": d.dose, "route": d.route, "frequency": d.frequency}
                    for d in a.premedication.drugs
                ],
                "citation": citation_dict(a.premedication.citation),
            }
        ),
        "note": a.note,
        "citation": citation_dict(a.citation),
    }


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (the JSON export, ``format: cllcds.plan/1``)."""
    reg = plan.regimen
    o = plan.options
    return {
        "format": PLAN_FORMAT,
        "plan_id": plan_id(plan),
        "regimen": {
            "id": reg.id,
            "name": reg.name,
            "status": reg.status.value,
            "summary": reg.summary,
            "studies": list(reg.studies),
        },
        "rule_sets": {"label": o.rule_set.value},
        "patient": {
            "name": plan.patient.name,
            "id": plan.patient.identifier,
            "birth_date": (
                None if plan.patient.birth_date is None else plan.patient.birth_date.isoformat()
            ),
            "height_cm": plan.body.height_cm,
            "weight_kg": plan.body.weight_kg,
            "bsa_m2": round(plan.bsa_m2, 4),
            "bsa_uncapped_m2": round(plan.bsa_uncapped_m2, 4),
            "bsa_formula": o.bsa_formula.value,
        },
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "cycles": plan.cycles,
        "options": {
            "bsa_cap_m2": o.bsa_cap_m2,
            "rounding": {
                "mode": o.rounding.mode.value,
                "increment_mg": o.rounding.increment_mg,
                "oral_increment_mg": o.rounding.oral_increment_mg,
                "max_deviation_pct": o.rounding.max_deviation_pct,
            },
            "tiw_weekdays": list(o.tiw_weekdays),
            "prophylaxis_start_day": o.prophylaxis_start_day,
            "cmv_pcr_interval_days": o.cmv_pcr_interval_days,
            "cd4_interval_days": o.cd4_interval_days,
            "include_optional": o.include_optional,
            "monitoring_weekdays_only": o.monitoring_weekdays_only,
            "weekly_ceiling": o.weekly_ceiling,
            "overrides": [
                {
                    "drug": ov.drug.value,
                    "amount": ov.amount,
                    "cycles": None if ov.cycles is None else list(ov.cycles),
                }
                for ov in o.overrides
            ],
        },
        "ceilings": {
            "alemtuzumab_max_single_dose_mg": ALEMTUZUMAB_MAX_SINGLE_DOSE_MG,
            "alemtuzumab_max_mg_in_7_days": ALEMTUZUMAB_MAX_WEEKLY_MG,
            "alemtuzumab_max_single_dose_planned_mg": max(
                (a.dose_mg for a in plan.alemtuzumab()), default=0.0
            ),
            "alemtuzumab_max_mg_in_7_days_planned": plan.max_window_mg(),
            "weekly_ceiling_reading": plan.options.weekly_ceiling,
        },
        "totals_mg": {d.value: plan.total_mg(d) for d in plan.regimen.drugs},
        "administrations": [_administration(a) for a in plan.administrations],
        "prophylaxis": [
            {
                "kind": p.kind.value,
                "drugs": [
                    {"name": d.name, "dose": d.dose, "route": d.route, "frequency": d.frequency}
                    for d in p.drugs
                ],
                "start_date": p.start_date.isoformat(),
                "start_rule": p.start_rule,
                "earliest_stop_date": (
                    None if p.earliest_stop_date is None else p.earliest_stop_date.isoformat()
                ),
                "stop_condition": p.stop_condition,
                "citation": citation_dict(p.citation),
                "start_citation": citation_dict(p.start_citation),
            }
            for p in plan.prophylaxis
        ],
        "monitoring": [
            {
                "date": m.date.isoformat(),
                "kind": m.kind.value,
                "description": m.description,
                "citation": citation_dict(m.citation),
            }
            for m in plan.monitoring
        ],
        "notes": [
            {
                "level": n.level.value,
                "text": n.text,
                "citation": None if n.citation is None else citation_dict(n.citation),
            }
            for n in plan.notes
        ],
        "sources": [citation_dict(c) for c in plan.sources()],
    }


def plan_json(plan: Plan) -> str:
    """The plan document as indented JSON."""
    return json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# Items (CSV rows, calendar events)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One dated thing to do: a CSV row and a calendar event."""

    date: date
    kind: str
    title: str
    detail: str
    drug: str = ""
    dose_mg: float | None = None
    route: str = ""
    cycle: int | None = None
    cycle_day: int | None = None
    day: int | None = None


def _premed_text(a: Administration) -> str:
    pm = a.premedication
    if pm is None:
        return ""
    drugs = " + ".join(f"{d.name} {d.dose}".strip() for d in pm.drugs)
    return f"{drugs}, {pm.timing} ({pm.reason})"


def plan_items(plan: Plan) -> tuple[PlanItem, ...]:
    """Every dated item of the plan, in date order (administrations first within a day)."""
    items: list[tuple[date, int, int, PlanItem]] = []
    seq = 0

    def add(rank: int, item: PlanItem) -> None:
        nonlocal seq
        items.append((item.date, rank, seq, item))
        seq += 1

    for a in plan.administrations:
        if a.premedication is not None:
            add(
                0,
                PlanItem(
                    a.date,
                    "premedication",
                    f"Premedication before {a.drug.value} {_num(a.dose_mg)} mg",
                    _premed_text(a),
                    drug=a.drug.value,
                    cycle=a.cycle,
                    cycle_day=a.cycle_day,
                    day=a.day,
                ),
            )
        detail = [a.dose.formula]
        if a.infusion:
            detail.append(a.infusion)
        if a.preparation is not None:
            prep = a.preparation
            detail.append(
                f"Preparation: {prep.volume_ml:.2f} mL of {prep.product}; diluent: "
                f"{prep.diluent}; {prep.administration}"
            )
        if a.note:
            detail.append(a.note)
        add(
            1,
            PlanItem(
                a.date,
                "administration",
                f"{a.drug.label} {_num(a.dose_mg)} mg {a.route.label} ({_course_label(a)})",
                "; ".join(detail),
                drug=a.drug.value,
                dose_mg=a.dose_mg,
                route=a.route.value,
                cycle=a.cycle,
                cycle_day=a.cycle_day,
                day=a.day,
            ),
        )
    for p in plan.prophylaxis:
        drugs = "; ".join(d.text() for d in p.drugs)
        name = _PROPHYLAXIS_NAMES[p.kind]
        add(2, PlanItem(p.start_date, "prophylaxis-start", f"Start {name}", drugs))
        if p.earliest_stop_date is not None:
            add(
                2,
                PlanItem(
                    p.earliest_stop_date,
                    "prophylaxis-earliest-stop",
                    f"Earliest stop of {name} (check CD4 first)",
                    p.stop_condition,
                ),
            )
    for m in plan.monitoring:
        add(
            3,
            PlanItem(
                m.date, f"monitoring-{m.kind.value}", _monitor_title(m.kind.value), m.description
            ),
        )
    return tuple(i for *_, i in sorted(items, key=lambda t: t[:3]))


def _monitor_title(kind: str) -> str:
    return {
        "blood-count": "Blood count (FBC, differential, platelets)",
        "cmv-pcr": "CMV PCR",
        "cd4": "CD4+ count",
        "response": "Response assessment",
        "marrow": "Bone marrow assessment",
    }[kind]


CSV_COLUMNS = (
    "date",
    "kind",
    "title",
    "drug",
    "dose_mg",
    "route",
    "cycle",
    "cycle_day",
    "day",
    "detail",
)


def plan_csv(plan: Plan) -> str:
    """One row per dated item (:func:`plan_items`), with a header."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for it in plan_items(plan):
        w.writerow(
            [
                it.date.isoformat(),
                it.kind,
                it.title,
                it.drug,
                "" if it.dose_mg is None else _num(it.dose_mg),
                it.route,
                "" if it.cycle is None else it.cycle,
                "" if it.cycle_day is None else it.cycle_day,
                "" if it.day is None else it.day,
                it.detail,
            ]
        )
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# iCalendar (RFC 5545)
# ---------------------------------------------------------------------------------------------


def ics_escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma, newline."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        # Fold before a character that would pass the limit; keep an escape ("\\,") together.
        if size + n > limit or (size + n == limit and ch == "\\"):
            out.append(current)
            current, size, limit = " ", 1, 75
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def plan_ics(plan: Plan, stamp: datetime | None = None) -> str:
    """The plan as an iCalendar file: one all-day VEVENT per :func:`plan_items` item."""
    now = (stamp or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    pid = plan_id(plan)
    who = plan.patient.name or plan.patient.identifier
    calname = f"{plan.regimen.name}" + (f" — {who}" if who else "")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//cllcds//treatment plan//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_escape(calname)}",
    ]
    for i, it in enumerate(plan_items(plan), start=1):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{pid}-{i:04d}@cllcds",
            f"DTSTAMP:{now}",
            f"DTSTART;VALUE=DATE:{it.date.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(it.date + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{ics_escape(it.title)}",
            f"DESCRIPTION:{ics_escape(it.detail)}",
            f"CATEGORIES:{ics_escape(it.kind)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


# ---------------------------------------------------------------------------------------------
# Treatment sheet (HTML, PDF)
# ---------------------------------------------------------------------------------------------


def _sheet(plan: Plan, generated: datetime | None) -> dict[str, Any]:
    """Everything the treatment sheet prints, as strings."""
    doc = plan_document(plan)
    when = (generated or datetime.now(UTC)).astimezone(UTC)
    rows = []
    for a in plan.administrations:
        prep = a.infusion
        if a.preparation is not None:
            p = a.preparation
            prep = f"draw {p.volume_ml:.2f} mL; {p.diluent}" + (
                f"; {a.infusion}" if a.infusion else ""
            )
        rows.append(
            {
                "date": a.date.strftime("%a %d %b %Y"),
                "iso": a.date.isoformat(),
                "day": a.day,
                "course": _course_label(a),
                "drug": a.drug.label,
                "alemtuzumab": a.drug is Drug.ALEMTUZUMAB,
                "dose": f"{_num(a.dose_mg)} mg",
                "route": a.route.label,
                "phase": a.phase.value,
                "calc": a.dose.formula,
                "prep": prep,
                "premed": _premed_text(a),
                "note": a.note,
            }
        )
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    patient = doc["patient"]
    return {
        "doc": doc,
        "title": f"Treatment plan — {plan.regimen.name}",
        "generated": when.strftime("%Y-%m-%d %H:%M UTC"),
        "patient_name": plan.patient.name or "(name not given)",
        "patient_id": plan.patient.identifier or "—",
        "birth_date": patient["birth_date"] or "—",
        "height": f"{plan.body.height_cm:g} cm",
        "weight": f"{plan.body.weight_kg:g} kg",
        "bsa": (
            f"{plan.bsa_m2:.2f} m² ({plan.options.bsa_formula.value.capitalize()})"
            + (
                f", capped from {plan.bsa_uncapped_m2:.2f} m²"
                if plan.bsa_m2 < plan.bsa_uncapped_m2
                else ""
            )
        ),
        "rule_set": plan.options.rule_set.value,
        "status": plan.regimen.status.value,
        "start": plan.start.strftime("%a %d %b %Y"),
        "end": plan.end.strftime("%a %d %b %Y"),
        "cycles": plan.cycles,
        "tiw": (
            "-".join(weekdays[d] for d in plan.options.tiw_weekdays)
            if any(r.tiw is not None for r in plan.regimen.components)
            else ""
        ),
        "rows": rows,
        "totals": ", ".join(f"{k} {_num(v)} mg" for k, v in doc["totals_mg"].items()),
        "ceiling": (
            f"Alemtuzumab ceilings: ≤ {_num(ALEMTUZUMAB_MAX_SINGLE_DOSE_MG)} mg a dose and ≤ "
            f"{_num(ALEMTUZUMAB_MAX_WEEKLY_MG)} mg {_WEEK_TEXT[plan.options.weekly_ceiling]} "
            "(label L1). This plan: max "
            f"{_num(doc['ceilings']['alemtuzumab_max_single_dose_planned_mg'])} mg a dose, "
            f"{_num(plan.max_window_mg())} mg in a week."
        ),
        "prophylaxis": [
            {
                "name": _PROPHYLAXIS_NAMES[p.kind],
                "drugs": "; ".join(d.text() for d in p.drugs),
                "start": p.start_date.strftime("%a %d %b %Y"),
                "start_rule": p.start_rule,
                "earliest_stop": (
                    "no duration set by the label"
                    if p.earliest_stop_date is None
                    else p.earliest_stop_date.strftime("%a %d %b %Y")
                ),
                "condition": p.stop_condition,
                "source": p.citation.short(),
            }
            for p in plan.prophylaxis
        ],
        "premedication": _premed_summary(plan),
        "preparation": _preparation_summary(plan),
        "monitoring": _monitoring_summary(plan),
        "notes": [{"level": n.level.value, "text": n.text} for n in plan.notes],
        "sources": [
            {
                "source": c.source,
                "locator": c.locator,
                "text": c.quote or c.note,
                "quoted": bool(c.quote),
            }
            for c in plan.sources()
        ],
    }


def _preparation_summary(plan: Plan) -> list[dict[str, str]]:
    """One line per alemtuzumab route used: product, how it is given, source."""
    out: dict[str, dict[str, str]] = {}
    for a in plan.administrations:
        p = a.preparation
        if p is not None and a.route.label not in out:
            out[a.route.label] = {
                "route": a.route.label,
                "text": f"{p.product}; diluent: {p.diluent}; {p.administration}.",
                "source": p.citation.short(),
            }
    return list(out.values())


def _premed_summary(plan: Plan) -> list[dict[str, str]]:
    out = []
    for a in plan.administrations:
        if a.premedication is not None:
            out.append(
                {
                    "date": a.date.strftime("%a %d %b %Y"),
                    "before": f"{a.drug.label} {_num(a.dose_mg)} mg",
                    "text": _premed_text(a),
                }
            )
    return out


def _dates_text(dates: Iterable[date]) -> str:
    ds = sorted(dates)
    if len(ds) <= 4:
        return ", ".join(d.strftime("%d %b %Y") for d in ds)
    return f"{ds[0].strftime('%d %b %Y')} to {ds[-1].strftime('%d %b %Y')} ({len(ds)} dates)"


def _monitoring_summary(plan: Plan) -> list[dict[str, str]]:
    groups: dict[str, list[date]] = {}
    desc: dict[str, str] = {}
    src: dict[str, str] = {}
    for m in plan.monitoring:
        key = f"{m.kind.value}|{m.description}"
        groups.setdefault(key, []).append(m.date)
        desc[key] = m.description
        src[key] = m.citation.short()
    return [
        {
            "what": _monitor_title(key.split("|", 1)[0]),
            "description": desc[key],
            "dates": _dates_text(ds),
            "source": src[key],
        }
        for key, ds in groups.items()
    ]


def _template_text() -> str:
    path = resources.files("cllcds").joinpath("web", "templates", "plan_sheet.html")
    return path.read_text(encoding="utf-8")


def plan_html(plan: Plan, generated: datetime | None = None) -> str:
    """The printable treatment sheet as one self-contained HTML page."""
    import jinja2  # noqa: PLC0415 - only the HTML export needs it

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(_template_text()).render(**_sheet(plan, generated))


_PDF_REPLACE = {
    "≥": ">=",
    "≤": "<=",
    "→": "->",
    "—": "-",
    "–": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "•": "-",
}


def _latin1(text: str) -> str:
    """Core PDF fonts are Latin-1: spell out the few symbols outside it."""
    for k, v in _PDF_REPLACE.items():
        text = text.replace(k, v)
    return text.encode("latin-1", "replace").decode("latin-1")


def plan_pdf(plan: Plan, generated: datetime | None = None) -> bytes:
    """The printable treatment sheet as a PDF (A4 landscape, fpdf2 core fonts)."""
    return _render_pdf(_sheet(plan, generated))


_DARK = (34, 34, 34)
_RED = (176, 0, 0)
_GREY = (243, 243, 243)


def _render_pdf(sheet: dict[str, Any]) -> bytes:
    from fpdf import FPDF  # noqa: PLC0415 - fpdf2 only for the PDF export
    from fpdf.fonts import FontFace  # noqa: PLC0415

    t = _latin1
    footer_text = t(
        f"{sheet['patient_name']} | {sheet['patient_id']} | {sheet['doc']['regimen']['id']} | "
        f"generated {sheet['generated']} by cllcds - decision support, not a prescription"
    )

    class SheetPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("Helvetica", "", 7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, footer_text, align="L")
            self.set_x(-40)
            self.cell(30, 5, f"page {self.page_no()}/{{nb}}", align="R")
            self.set_text_color(0, 0, 0)

    pdf = SheetPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(t(sheet["title"]))
    pdf.set_author("cllcds")
    pdf.set_creator("cllcds")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw
    heading = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=_DARK, size_pt=8)

    def h1(text: str) -> None:
        pdf.set_font("Helvetica", "B", 15)
        pdf.multi_cell(width, 7, t(text), new_x="LMARGIN", new_y="NEXT")

    def h2(text: str) -> None:
        if pdf.get_y() > pdf.h - 40:
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(width, 6, t(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(*_DARK)
        pdf.set_line_width(0.5)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(1.5)

    def para(text: str, size: float = 8, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, size * 0.45, t(text), new_x="LMARGIN", new_y="NEXT")

    doc = sheet["doc"]
    h1(sheet["title"])
    para(
        f"Regimen {doc['regimen']['id']} [{sheet['status'].upper()}] - label rule set "
        f"{sheet['rule_set']} - generated {sheet['generated']} - plan {doc['plan_id']}",
        8,
    )
    pdf.ln(1)

    # Patient and regimen boxes side by side.
    top = pdf.get_y()
    half = (width - 4) / 2
    left = [
        ("Patient", sheet["patient_name"]),
        ("ID", sheet["patient_id"]),
        ("Date of birth", sheet["birth_date"]),
        ("Height / weight", f"{sheet['height']} / {sheet['weight']}"),
        ("BSA", sheet["bsa"]),
    ]
    right = [
        ("Regimen", doc["regimen"]["name"]),
        ("Start (day 1)", sheet["start"]),
        ("Last dose", sheet["end"]),
        (
            "Cycles / TIW days" if sheet["tiw"] else "Cycles",
            f"{sheet['cycles']} / {sheet['tiw']}" if sheet["tiw"] else str(sheet["cycles"]),
        ),
        ("Totals", sheet["totals"]),
    ]
    for col, pairs in ((0, left), (1, right)):
        x = pdf.l_margin + col * (half + 4)
        pdf.set_xy(x + 2, top + 2)
        for label, value in pairs:
            pdf.set_x(x + 2)
            pdf.set_font("Helvetica", "B", 8.5)
            pdf.cell(30, 5.2, t(label))
            big = col == 0 and label == "Patient"
            pdf.set_font("Helvetica", "B" if big else "", 12 if big else 8.5)
            pdf.multi_cell(half - 34, 5.2, t(str(value)), new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y() + 2
    pdf.set_draw_color(*_DARK)
    pdf.set_line_width(0.4)
    for col in (0, 1):
        pdf.rect(pdf.l_margin + col * (half + 4), top, half, bottom - top)
    pdf.set_y(bottom + 2)
    para(doc["regimen"]["summary"], 8)
    pdf.ln(1)
    pdf.set_draw_color(*_RED)
    pdf.set_fill_color(255, 244, 244)
    pdf.set_font("Helvetica", "B", 9)
    pdf.multi_cell(
        width, 5, t(sheet["ceiling"]), border=1, fill=True, new_x="LMARGIN", new_y="NEXT"
    )
    warnings = [n["text"] for n in sheet["notes"] if n["level"] == "warning"]
    if warnings:
        pdf.ln(1)
        pdf.set_text_color(*_RED)
        for w in warnings:
            para(f"WARNING: {w}", 8, "B")
        pdf.set_text_color(0, 0, 0)

    h2("Dose table")
    para(
        "Ordered doses in mg. Escalation steps assume the previous step was tolerated; "
        "re-escalate from 3 mg after a grade 3-4 infusion reaction or a gap of 7 days or more.",
        7.5,
    )
    pdf.ln(1)
    pdf.set_draw_color(85, 85, 85)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_line_width(0.2)
    pdf.set_font("Helvetica", "", 7.5)
    with pdf.table(
        col_widths=(24, 9, 16, 28, 16, 11, 60, 46, 45, 22),
        headings_style=heading,
        line_height=3.6,
        text_align="LEFT",
        cell_fill_color=_GREY,
        cell_fill_mode="ROWS",
        padding=0.8,
    ) as table:
        head = table.row()
        for title in (
            "Date",
            "Day",
            "Course",
            "Drug",
            "Dose",
            "Route",
            "Calculation",
            "Preparation / infusion",
            "Premedication",
            "Given (time, initials)",
        ):
            head.cell(title)
        for r in sheet["rows"]:
            row = table.row()
            row.cell(t(r["date"]), style=FontFace(emphasis="BOLD"))
            row.cell(str(r["day"]))
            row.cell(t(r["course"]))
            drug = r["drug"] + ("\n(escalation)" if r["phase"] == "escalation" else "")
            row.cell(t(drug), style=FontFace(emphasis="BOLD") if r["alemtuzumab"] else None)
            row.cell(t(r["dose"]), style=FontFace(emphasis="BOLD", size_pt=10))
            row.cell(t(r["route"]))
            calc = r["calc"] + (f"\n{r['note']}" if r["note"] else "")
            row.cell(t(calc), style=FontFace(size_pt=6.5))
            row.cell(t(r["prep"]), style=FontFace(size_pt=6.5))
            row.cell(t(r["premed"]), style=FontFace(size_pt=6.5))
            row.cell("")
    for prep in sheet["preparation"]:
        para(f"Alemtuzumab {prep['route']}: {prep['text']} ({prep['source']})", 7)

    h2("Anti-infective prophylaxis")
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(
        col_widths=(32, 60, 45, 32, 88, 20),
        headings_style=heading,
        line_height=4,
        text_align="LEFT",
        padding=0.8,
    ) as table:
        head = table.row()
        for title in (
            "Prophylaxis",
            "Drug and dose",
            "Start",
            "Earliest stop",
            "Stop rule",
            "Source",
        ):
            head.cell(title)
        for p in sheet["prophylaxis"]:
            row = table.row()
            row.cell(t(p["name"]), style=FontFace(emphasis="BOLD"))
            row.cell(t(p["drugs"]))
            row.cell(t(f"{p['start']}\n{p['start_rule']}"))
            row.cell(t(p["earliest_stop"]), style=FontFace(emphasis="BOLD"))
            row.cell(t(p["condition"]))
            row.cell(t(p["source"]), style=FontFace(size_pt=6.5))

    h2("Premedication")
    if sheet["premedication"]:
        pdf.set_font("Helvetica", "", 8)
        with pdf.table(
            col_widths=(30, 40, 207),
            headings_style=heading,
            line_height=4,
            text_align="LEFT",
            padding=0.8,
        ) as table:
            head = table.row()
            for title in ("Date", "Before", "Premedication"):
                head.cell(title)
            for pm in sheet["premedication"]:
                row = table.row()
                row.cell(t(pm["date"]), style=FontFace(emphasis="BOLD"))
                row.cell(t(pm["before"]))
                row.cell(t(pm["text"]))
    else:
        para("None required by the rule set for this schedule.", 8)

    h2("Monitoring")
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(
        col_widths=(45, 120, 85, 27),
        headings_style=heading,
        line_height=4,
        text_align="LEFT",
        padding=0.8,
    ) as table:
        head = table.row()
        for title in ("Test", "What and how often", "Dates", "Source"):
            head.cell(title)
        for m in sheet["monitoring"]:
            row = table.row()
            row.cell(t(m["what"]), style=FontFace(emphasis="BOLD"))
            row.cell(t(m["description"]))
            row.cell(t(m["dates"]))
            row.cell(t(m["source"]), style=FontFace(size_pt=6.5))

    h2("Notes, assumptions and conflicts between sources")
    for i, n in enumerate(sheet["notes"], start=1):
        prefix = "WARNING: " if n["level"] == "warning" else ""
        para(f"{i}. {prefix}{n['text']}", 7.5)
    h2("Sources")
    for i, s in enumerate(sheet["sources"], start=1):
        text = f"\u201c{s['text']}\u201d" if s["quoted"] else s["text"]
        para(f"{i}. {s['source']}, {s['locator']}" + (f": {text}" if text else ""), 7)

    if pdf.get_y() > pdf.h - 35:
        pdf.add_page()
    pdf.ln(8)
    y = pdf.get_y()
    third = (width - 12) / 3
    pdf.set_draw_color(*_DARK)
    pdf.set_font("Helvetica", "", 8)
    for i, label in enumerate(
        (
            "Prescriber (name, signature, date)",
            "Pharmacist verification (name, signature, date)",
            "Nurse (name, signature, date)",
        )
    ):
        x = pdf.l_margin + i * (third + 6)
        pdf.line(x, y, x + third, y)
        pdf.set_xy(x, y + 0.5)
        pdf.cell(third, 4, label)
    return bytes(pdf.output())

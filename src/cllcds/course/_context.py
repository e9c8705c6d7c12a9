"""Patient context: fludarabine-refractory or relapsed, and risk features with what the
review's trials report for such patients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cllcds import knowledge
from cllcds.domain import Course, Measure, NotFoundError, Reported

REFRACTORY_MONTHS = 6
"""Fludarabine-refractory: no response, or progression within 6 months of a fludarabine-
containing regimen (P12 operational definition; P11: response lasting ≤ 6 months)."""

BULKY_NODE_MM = 50
"""Nodes over 50 mm: the review reports how rarely they respond (Keating 2002b: "only 10% of
patients with lymphnodes greater than 50 mm achieved more than 50% reduction")."""


CLL2H_SUBTYPES = {
    "study": "Stilgenbauer et al 2004",
    "population": "CLL2H, prognostic genetic subtypes",
    "value": "response rates similar to the whole study population",
    "locator": "Subcutaneous alemtuzumab, CLL2H paragraph",
    "quote": "Response rates similar to the overall study population were observed in patients "
    "with prognostic genetic subtypes",
}
"""The review's statement on del(17p), del(11q) and unmutated IGHV in CLL2H (no numbers)."""


def _months_between(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 30.4375


def _evidence(study_id: str, measure: Measure, population_contains: str) -> dict[str, Any] | None:
    try:
        st = knowledge.study(study_id)
    except NotFoundError:
        return None
    for r in st.reported(measure):
        if population_contains.lower() in r.population.lower():
            return _cite(st.cited_as, r)
    return None


def _cite(cited_as: str, r: Reported) -> dict[str, Any]:
    value = (
        f"{r.count}/{r.denominator}"
        if r.count is not None and r.denominator
        else (f"{r.percent:g}%" if r.percent is not None else "")
    )
    if r.percent is not None and r.count is not None:
        value += f" ({r.percent:g}%)"
    return {
        "study": cited_as,
        "population": r.population,
        "value": value,
        "locator": r.citation.locator,
        "quote": r.citation.quote,
    }


def fludarabine_status(course: Course) -> dict[str, Any]:
    """Refractory, relapsed or naive to fludarabine, from the prior therapies."""
    flu = [p for p in course.patient.prior_therapies if p.contains_fludarabine]
    if not flu:
        return {
            "status": "no prior fludarabine",
            "rationale": "No fludarabine-containing regimen among the prior therapies.",
            "citation": "P12",
        }
    last = max(flu, key=lambda p: p.end or p.start or dt.date.min)
    if last.best_response is None:
        return {
            "status": "indeterminate",
            "rationale": f"Best response to {last.regimen} not recorded.",
            "citation": "P12",
            "inputs_missing": ["best_response"],
        }
    if not last.best_response.is_response:
        return {
            "status": "fludarabine-refractory",
            "rationale": f"No response ({last.best_response.value}) to {last.regimen}.",
            "citation": "P12",
        }
    if last.progression is not None and last.end is not None:
        months = _months_between(last.end, last.progression)
        if months <= REFRACTORY_MONTHS:
            return {
                "status": "fludarabine-refractory",
                "rationale": f"Progression {months:.1f} months after {last.regimen} "
                f"(within {REFRACTORY_MONTHS} months).",
                "citation": "P12",
            }
        return {
            "status": "relapsed",
            "rationale": f"Progression {months:.1f} months after responding to {last.regimen}.",
            "citation": "S7",
        }
    if last.progression is not None and last.end is None:
        return {
            "status": "indeterminate",
            "rationale": f"End date of {last.regimen} not recorded.",
            "citation": "P12",
            "inputs_missing": ["end"],
        }
    return {
        "status": "responding, not progressed",
        "rationale": f"Responded to {last.regimen}; no progression recorded.",
        "citation": "S7",
    }


def patient_context(course: Course) -> dict[str, Any]:
    """Fludarabine status and risk features, each with what the review's trials report."""
    cg = course.patient.cytogenetics
    features: list[dict[str, Any]] = []
    if cg.del17p or cg.tp53_mutation:
        ev = [
            e
            for e in (
                _evidence("lozanski2004", Measure.ORR, "p53"),
                _evidence("sayala2006", Measure.ORR, "poor-risk"),
            )
            if e
        ]
        features.append({"feature": "del(17p) / TP53 mutation", "evidence": [*ev, CLL2H_SUBTYPES]})
    if cg.del11q:
        ev = [e for e in (_evidence("sayala2006", Measure.ORR, "poor-risk"),) if e]
        features.append({"feature": "del(11q)", "evidence": [*ev, CLL2H_SUBTYPES]})
    if cg.ighv_unmutated:
        features.append({"feature": "unmutated IGHV", "evidence": [CLL2H_SUBTYPES]})
    base = course.baseline.assessment if course.baseline else None
    if base is not None and base.nodes:
        biggest = max(n.long_mm for n in base.nodes)
        if biggest > BULKY_NODE_MM:
            ev = [e for e in (_evidence("keating2002b", Measure.NODE_RESPONSE, "50 mm"),) if e]
            features.append({"feature": f"bulky lymph node ({biggest:g} mm)", "evidence": ev})
    return {"fludarabine": fludarabine_status(course), "risk_features": features}

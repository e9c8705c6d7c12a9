"""Patient context: fludarabine status from the prior therapies, risk features with what the
review reports for them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cllcds.course._context import CLL2H_SUBTYPES, fludarabine_status, patient_context
from cllcds.domain import Course, Cytogenetics, Patient, PriorResponse, PriorTherapy
from cllcds.evidence import ReviewText

D = dt.date


def ctx(*prior: PriorTherapy, cyto: Cytogenetics | None = None) -> Course:
    return Course(
        Patient("p", prior_therapies=prior, cytogenetics=cyto or Cytogenetics()),
        "alemtuzumab-iv-label",
        D(2007, 1, 8),
    )


def test_no_response_to_fludarabine_is_refractory():
    """Fludarabine-refractory: no CR/PR, or progression within 6 months (P12)."""
    c = ctx(PriorTherapy("FCR", D(2005, 1, 1), D(2005, 6, 1), PriorResponse.SD))
    assert fludarabine_status(c)["status"] == "fludarabine-refractory"


def test_progression_within_6_months_is_refractory_after_is_relapsed():
    early = PriorTherapy(
        "fludarabine", D(2005, 1, 1), D(2005, 6, 1), PriorResponse.PR, D(2005, 11, 1)
    )
    late = PriorTherapy(
        "fludarabine", D(2005, 1, 1), D(2005, 6, 1), PriorResponse.PR, D(2006, 3, 1)
    )
    assert fludarabine_status(ctx(early))["status"] == "fludarabine-refractory"
    assert fludarabine_status(ctx(late))["status"] == "relapsed"


def test_unknown_best_response_is_indeterminate():
    c = ctx(PriorTherapy("fludarabine", D(2005, 1, 1), D(2005, 6, 1)))
    assert fludarabine_status(c)["status"] == "indeterminate"


def test_del17p_cites_the_trials_that_report_it(seed_path: Path):
    out = patient_context(ctx(cyto=Cytogenetics(del17p=True)))
    (feature,) = out["risk_features"]
    studies = {e["study"] for e in feature["evidence"]}
    assert {"Lozanski et al 2004", "Sayala et al 2006", "Stilgenbauer et al 2004"} <= studies
    review = ReviewText.from_file(seed_path)
    for e in feature["evidence"]:
        assert review.contains(e["quote"]), e


def test_cll2h_statement_is_quoted_from_the_review(seed_path: Path):
    assert ReviewText.from_file(seed_path).contains(CLL2H_SUBTYPES["quote"])

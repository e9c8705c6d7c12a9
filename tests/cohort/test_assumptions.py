"""Cohort assumptions come from the evidence base, with their study ids and locators."""

from __future__ import annotations

import math

import pytest

from cllcds.cohort import base_assumptions, response_assumptions
from cllcds.cohort._assumptions import apply_overrides
from cllcds.domain import InputError, NotFoundError


@pytest.fixture(scope="module")
def base():
    return base_assumptions()


def test_population_and_subgroups_from_studies(base):
    """Lozanski 2004 (seed): p53 abnormal in 15/36; ORR 6/15 with vs 4/21 without.
    Moreton 2005: "13 of 33 patients (39%) who were free from lymphadenopathy" of 91."""
    assert (base["p53_abnormal"].count, base["p53_abnormal"].n) == (15, 36)
    assert base["p53_abnormal"].citation.source == "lozanski2004"
    assert base["or_p53"].value == pytest.approx((6 / 9) / (4 / 17))
    assert base["nodes_none"].value == pytest.approx(33 / 91)
    assert base["nodes_bulky"].citation.source == "assumption"  # not in the evidence: labelled
    # Keating 2002b: node response 91% (< 20 mm) vs 10% (> 50 mm)
    assert base["or_bulky"].value == pytest.approx((0.10 / 0.90) / (0.91 / 0.09))


def test_survival_by_response_and_mrd_from_moreton(base):
    """Moreton 2005 (seed): median OS "60 months for patients with MRD-positive CR, 70 months
    for patients with PR, and 15 months for non-responders"; MRD-negative CR "84% at 60
    months"; treatment-free survival 20 / 13 / 6 months."""
    assert base["os_median_months.mrd_pos_cr"].value == 60
    assert base["os_median_months.pr"].value == 70
    assert base["os_median_months.nr"].value == 15
    assert math.exp(-math.log(2) * 60 / base["os_median_months.mrd_neg_cr"].value) == (
        pytest.approx(0.84)
    )
    assert [base[f"tfs_median_months.{k}"].value for k in ("mrd_pos_cr", "pr", "nr")] == [20, 13, 6]
    assert (base["mrd_neg_given_cr"].count, base["mrd_neg_given_cr"].n) == (12, 32)
    assert (base["mrd_neg_given_pr"].count, base["mrd_neg_given_pr"].n) == (6, 17)
    assert all(base[k].citation.source == "moreton2005" for k in base if k.startswith("os_median"))


def test_cmv_by_strategy(base):
    """Seed, CMV section: symptomatic reactivation in previously treated CLL "from
    approximately 30% to 9% with the regular CMV surveillance and preemptive therapy"
    (O'Brien 2006); O'Brien 2008: 0/20 on valganciclovir (clinical-rules.md §5.3)."""
    assert base["cmv_symptomatic.none"].value == pytest.approx(0.30)
    assert base["cmv_symptomatic.pre-emptive"].value == pytest.approx(0.09)
    assert base["cmv_symptomatic.none"].citation.source == "obrien2006"
    assert (base["cmv_symptomatic.prophylaxis"].count, base["cmv_symptomatic.prophylaxis"].n) == (
        0,
        20,
    )
    assert base["cmv_onset_median_days"].value == 34
    assert (base["cmv_discontinue"].count, base["cmv_discontinue"].n) == (2, 7)
    assert (base["infection_g34.responder"].count, base["infection_g34.responder"].n) == (3, 31)
    assert (base["infection_g34.nonresponder"].count, base["infection_g34.nonresponder"].n) == (
        22,
        62,
    )


def test_response_from_a_study():
    """Keating 2002b: "The overall response rate (ORR) was 33% (31/93)"; CR 2/93."""
    r = response_assumptions("keating2002b")
    assert (r["orr"].count, r["orr"].n, r["cr"].count) == (31, 93, 2)
    assert "31/93" in r["orr"].citation.quote
    with pytest.raises(NotFoundError):
        response_assumptions("nosuchstudy")


def test_overrides(base):
    out = apply_overrides(
        base,
        {"cmv_symptomatic.none": 0.25, "or_p53": {"value": 1.5, "source": "local", "note": "x"}},
        "scenario.assumptions",
    )
    assert out["cmv_symptomatic.none"].value == 0.25
    assert out["cmv_symptomatic.none"].overridden
    assert out["or_p53"].citation.source == "local"
    with pytest.raises(InputError) as err:
        apply_overrides(base, {"nope": 1}, "scenario.assumptions")
    assert err.value.field == "scenario.assumptions.nope"
    with pytest.raises(InputError, match="probability"):
        apply_overrides(base, {"cmv_symptomatic.none": 1.5}, "arms[1].assumptions")

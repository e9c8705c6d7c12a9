"""The virtual-cohort model reproduces its inputs, and results do not depend on workers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cllcds.cohort import (
    COUNTS,
    load_example,
    plan_chunks,
    report,
    run_cohort,
    scenario_from_mapping,
)
from cllcds.cohort._simulate import calibrate_intercept

MC_SIGMAS = 4.5
"""Monte-Carlo tolerance: |simulated − expected| ≤ 4.5 binomial SEs (false alarm < 1e-5);
the seeds are fixed, so the tests are deterministic anyway."""


def _close(count: int, n: int, p: float) -> bool:
    return abs(count / n - p) <= MC_SIGMAS * math.sqrt(p * (1 - p) / n) + 1e-12


def _idx(name: str) -> int:
    return COUNTS.index(name)


def fixed(arms, **top):
    """A scenario whose inputs are fixed numbers (no replicate uncertainty)."""
    return scenario_from_mapping({"name": "test", **top, "arms": arms})


def test_calibration_reproduces_the_study_orr_in_its_population():
    for orr in (0.05, 0.33, 0.83):
        alpha = calibrate_intercept(orr, 15 / 36, 0.2, 2.83, 0.011)
        strata = [(0, 0), (1, 0), (0, 1), (1, 1)]
        w = [(1 - 15 / 36) * 0.8, 15 / 36 * 0.8, (1 - 15 / 36) * 0.2, 15 / 36 * 0.2]
        mean = sum(
            wi / (1 + math.exp(-(alpha + p * math.log(2.83) + b * math.log(0.011))))
            for wi, (p, b) in zip(w, strata, strict=True)
        )
        assert mean == pytest.approx(orr, abs=1e-9)


def test_rates_match_their_inputs():
    """Fixed inputs: ORR 33%, CR/ORR, no-surveillance symptomatic CMV 30% (O'Brien 2006)."""
    sc = fixed(
        [
            {
                "id": "a",
                "response_study": "keating2002b",
                "cmv": "none",
                "treatment_weeks": 52,
                "assumptions": {"orr": 0.33, "cr": 0.11},
            }
        ],
        population={"p53_abnormal": 15 / 36, "nodes_none": 33 / 91, "nodes_bulky": 0.2},
    )
    run = run_cohort(sc, 100_000, seed=3, workers=1)
    c = run.arms["a"].counts
    n = int(c[_idx("patients")])
    assert _close(int(c[_idx("responders")]), n, 0.33)
    assert _close(int(c[_idx("cr")]), n, 0.11)
    assert _close(int(c[_idx("cmv_symptomatic")]), n, 0.30)
    assert c[_idx("cmv_holds")] <= c[_idx("cmv_symptomatic")]  # onset after the last dose
    assert c[_idx("cmv_holds")] >= 0.99 * c[_idx("cmv_symptomatic")]  # 52 weeks: nearly all


def test_subgroups_move_the_response():
    """p53 abnormal responds better with alemtuzumab (Lozanski 2004, OR 2.8); bulky nodes
    respond rarely (Keating 2002b) and never reach MRD negativity (Moreton 2005)."""
    arm = [{"id": "a", "response_study": "moreton2005", "cmv": "none"}]
    base = run_cohort(fixed(arm, population={"p53_abnormal": 0.0}), 20_000, 1, workers=1)
    p53 = run_cohort(fixed(arm, population={"p53_abnormal": 1.0}), 20_000, 1, workers=1)
    bulky = run_cohort(
        fixed(arm, population={"nodes_none": 0.0, "nodes_bulky": 1.0}), 20_000, 1, workers=1
    )
    r = {k: v.arms["a"].counts for k, v in (("base", base), ("p53", p53), ("bulky", bulky))}
    assert r["p53"][_idx("responders")] > 1.3 * r["base"][_idx("responders")]
    assert r["bulky"][_idx("responders")] < 0.1 * r["base"][_idx("responders")]
    assert r["bulky"][_idx("mrd_negative")] == 0


def test_survival_medians_by_category():
    """Everyone a non-responder: the KM median OS is Moreton's 15 months, TFS 6 months."""
    sc = fixed(
        [
            {
                "id": "nr",
                "response_study": "keating2002b",
                "assumptions": {"orr": 0.0, "cr": 0.0},
            }
        ]
    )
    doc = report(run_cohort(sc, 50_000, 2, workers=1), curves=False)
    arm = doc["arms"][0]
    assert arm["overall_survival"]["median_months"] == pytest.approx(15, abs=0.5)
    assert arm["treatment_free_survival"]["median_months"] == pytest.approx(6, abs=0.5)
    lo, hi = arm["overall_survival"]["median_ci_months"]
    assert lo <= 15.25
    assert hi >= 14.75
    assert arm["overall_survival"]["landmarks"]["12"] == pytest.approx(2 ** (-12 / 15), abs=0.01)


def test_cmv_strategies_order_events_and_holds():
    doc = report(run_cohort(load_example("cmv_strategy"), 20_000, 5, workers=1), curves=False)
    arms = {a["id"]: a["rates"] for a in doc["arms"]}
    assert arms["none"]["cmv_symptomatic"]["rate"] == pytest.approx(0.30, abs=0.02)
    assert arms["pre-emptive"]["cmv_symptomatic"]["rate"] == pytest.approx(0.09, abs=0.01)
    assert arms["prophylaxis"]["cmv_holds"]["rate"] < arms["pre-emptive"]["cmv_holds"]["rate"]
    # Same response model in every arm and common random numbers: identical response.
    assert arms["none"]["orr"] == arms["prophylaxis"]["orr"]
    for a in doc["arms"][1:]:
        assert a["vs_first_arm"]["orr"]["difference"] == 0
        assert a["rates"]["orr"]["low"] <= a["rates"]["orr"]["rate"] <= a["rates"]["orr"]["high"]


def test_chunks_depend_on_n_only():
    sc = load_example("iv_vs_sc")
    a = plan_chunks(sc, 1_000_000, 7)
    assert len(a) == 100
    assert sum(s.size for s in a) == 1_000_000
    small = plan_chunks(sc, 1001, 7)
    assert len(small) == 20
    assert sum(s.size for s in small) == 1001


def _same(a, b) -> None:
    for arm in a.arms:
        assert np.array_equal(a.arms[arm].counts, b.arms[arm].counts)
        assert np.array_equal(a.arms[arm].os_hist, b.arms[arm].os_hist)
        assert np.array_equal(a.arms[arm].per_chunk, b.arms[arm].per_chunk)


def test_result_does_not_depend_on_the_number_of_workers():
    sc = load_example("iv_vs_sc")
    one = run_cohort(sc, 30_000, 11, workers=1)
    two = run_cohort(sc, 30_000, 11, workers=2)
    again = run_cohort(sc, 30_000, 11, workers=1)
    _same(one, two)
    _same(one, again)
    other = run_cohort(sc, 30_000, 12, workers=1)
    assert not np.array_equal(one.arms["iv"].counts, other.arms["iv"].counts)
    assert two.backend.startswith("process pool")

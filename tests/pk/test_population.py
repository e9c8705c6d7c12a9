"""Population statistics on the label schedule against the label (US Campath PK section, S6;
EU SmPC §5.2, S7) and Hale 2004 (S5), with the tolerances shared/reference/pk-model.md §4
justifies. The model reproduces the label only at population level and within about 2×; the
windows below are the reference's "suggested test use" column, quoted per test.

Seeds are fixed; the tolerances are wide enough that any seed passes (the reference's own runs
used seeds 1/7/11 and N = 150-300; N = 600 here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cllcds.pk import label_iv_schedule, simulate

N = 600
SEED = 7
FIRST_30MG_END = 50.0
"""The first 30 mg infusion (day 3, 48 h) ends at 50 h; the next dose starts at 96 h."""
LAST_END = 83 * 24.0 + 2.0
"""The last dose (day 83) ends at 1994 h."""
UNMEASURABLE = 1e-3
"""µg/mL: a patient whose level has fallen below this has no measurable terminal phase and is
left out of the half-life statistics, as a non-compartmental analysis would (Hale's assay floor
was 0.5 µg/mL)."""


def half_life(c1: np.ndarray, c2: np.ndarray, dt_h: float) -> np.ndarray:
    """Apparent t½ (h) from two concentrations ``dt_h`` apart: ln2·Δt / ln(c1/c2)."""
    ok = (c1 > UNMEASURABLE) & (c2 > UNMEASURABLE) & (c1 > c2)
    return math.log(2) * dt_h / np.log(c1[ok] / c2[ok])


@pytest.fixture(scope="module")
def label_population():
    times = [FIRST_30MG_END + 6, 96.0, LAST_END + 24, LAST_END + 168]
    return simulate(
        label_iv_schedule(),
        n=N,
        seed=SEED,
        times_h=times,
        keep_profiles=True,
        keep_interval_auc=True,
    )


def test_first_30mg_half_life(label_population):
    """Label: t½ 11 h (range 2-32) after the first 30 mg dose (EU: 8 h). pk-model.md §4:
    "population median within 2–32 h" (their sim: median ≈ 12 h, mean 16.5-16.9 h).
    t½ is log-linear from 6 h after the infusion to the next dose."""
    c = label_population.patient_profiles[0]
    hl = half_life(c[:, 0], c[:, 1], 96.0 - (FIRST_30MG_END + 6))
    assert 2 <= np.median(hl) <= 32
    assert 8 <= np.median(hl) <= 16  # close to the label's 11 h (and the reference's 12 h)


def test_last_dose_half_life(label_population):
    """Label: t½ 6 days (range 1-14) after the last dose. pk-model.md §4: "population mean
    within 3–12 d" (their sim: median 2.1-2.4 d, mean 7.0-7.7 d with a heavy right tail).
    t½ is log-linear from 1 to 7 days after the last infusion ends."""
    c = label_population.patient_profiles[0]
    hl_days = half_life(c[:, 2], c[:, 3], 144.0) / 24
    assert 3 <= np.mean(hl_days) <= 12
    assert np.median(hl_days) < np.mean(hl_days)  # the heavy right tail


def test_auc_accumulation(label_population):
    """Label: "7-fold increase in mean AUC" by week 12. pk-model.md §4: "ratio of means within
    3.5–14" (their sim 4.2-4.8; typical patient 1.6): mean AUC of the last dosing interval over
    mean AUC of the first 30 mg interval (both 48 h)."""
    starts, auc = label_population.interval_auc
    first = starts.index(48.0)
    last = len(starts) - 1
    assert starts[last] == 83 * 24.0 - 48.0
    ratio = auc[:, last].mean() / auc[:, first].mean()
    assert 3.5 <= ratio <= 14


def test_hale_highest_trough_known_underprediction(label_population):
    """Hale 2004 IV: highest trough <0.5-18.3 µg/mL, mean 5.4. pk-model.md §4: "known
    under-prediction ~2.5×; gate only at a 3× tolerance (sim mean ≥ 1.8 µg/mL)"."""
    s = label_population.summary["max_trough"]
    assert s["mean"] >= 5.4 / 3
    assert s["mean"] < 5.4  # the under-prediction is stated as a known limit
    assert any("under-predicted" in n for n in label_population.notes)


def test_responder_threshold_fraction(label_population):
    """pk-model.md §4: "3% of virtual patients reach ≥ 13.2 (IV label regimen); observed ORR
    33%" — a consistency check: a few percent, far below the ORR."""
    frac = label_population.fractions["max_trough_ge_13.2"]
    assert 0.005 <= frac <= 0.10


def test_same_seed_same_population():
    """Seeded: the same seed gives identical numbers; another seed different ones."""
    a = simulate(label_iv_schedule(1), n=50, seed=3)
    b = simulate(label_iv_schedule(1), n=50, seed=3)
    c = simulate(label_iv_schedule(1), n=50, seed=4)
    assert np.array_equal(a.per_patient["cmax"], b.per_patient["cmax"])
    assert a.profile == b.profile
    assert not np.array_equal(a.per_patient["cmax"], c.per_patient["cmax"])


def test_patient_specific_baseline_wbc():
    """pk-model.md §2: W(0) set to the observed baseline by Kin_i = Kout × WBC0; a higher
    tumour burden raises Vmax (power 0.194) and lowers exposure."""
    low = simulate(label_iv_schedule(2), wbc0=5.0, t_end_h=14 * 24)
    high = simulate(label_iv_schedule(2), wbc0=300.0, t_end_h=14 * 24)
    assert low.summary["wbc0"]["value"] == pytest.approx(5.0)
    assert high.profile[0]["wbc"]["value"] == pytest.approx(300.0)
    assert low.summary["auc"]["value"] > high.summary["auc"]["value"]


def test_residual_error_changes_profile_not_summaries():
    """Residual error (Mould: proportional 37.2 %, additive 0.0647 µg/mL) is added to the
    observed profile on request only."""
    base = simulate(label_iv_schedule(1), n=200, seed=5)
    noisy = simulate(label_iv_schedule(1), n=200, seed=5, residual_error=True)
    assert np.array_equal(base.per_patient["auc"], noisy.per_patient["auc"])
    assert base.profile != noisy.profile
    assert noisy.residual_error

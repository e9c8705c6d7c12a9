"""Summaries on cases with a closed-form answer.

With Km far above any concentration, Q ≈ 0, no WBC effect (Emax ≈ 0) and WBC at the reference
10 × 10⁹/L, the model is a one-compartment linear model with clearance CL = Vmax/Km, whose
concentration, AUC, Cmax, time to a level and time above a level are known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cllcds.pk import Individuals, dose_table, label_iv_schedule, simulate

ANALYTIC_REL = 2e-3
"""Relative tolerance against closed forms: the integrator's measured error against tight
reference solutions is below 0.4 % (test_reference.py); MM non-linearity here is C/Km < 1e-4."""
CL, V, KM = 1.0, 10.0, 1e5
K = CL / V


def linear_patient(ka: float = 0.05) -> Individuals:
    one = np.ones(1)
    return Individuals(
        vmax_mg_per_h=CL * KM * one,
        km_mg_per_l=KM * one,
        v1_l=V * one,
        v2_l=one,
        q_l_per_h=1e-12 * one,
        emax=1e-12 * one,
        ec50_mg_per_l=one,
        kin_1e9_per_l_h=0.29 * one,
        kout_per_h=0.029 * one,
        ka_per_h=ka * one,
        f_sc=one,
        wbc_exponent=0.194,
    )


def test_iv_infusion_closed_form():
    dose, t_inf = 30.0, 2.0
    rate = dose / t_inf
    c_end = rate / CL * (1 - math.exp(-K * t_inf))
    t_reach = -math.log(1 - CL / rate) / K  # C = 1 µg/mL during the infusion
    t_fall = t_inf + math.log(c_end) / K  # back to 1 µg/mL after it
    r = simulate(
        dose_table([{"time_h": 0, "dose_mg": dose, "route": "iv", "duration_h": t_inf}]),
        individuals_override=linear_patient(),
        t_end_h=300,
        thresholds_mg_per_l=(1.0,),
        targets_mg_per_l=(1.0,),
        times_h=[1.0, 10.0],
    )
    s = r.summary
    assert s["cmax"]["value"] == pytest.approx(c_end, rel=ANALYTIC_REL)
    assert s["tmax"]["value"] == pytest.approx(t_inf)
    assert s["auc"]["value"] == pytest.approx(dose / CL, rel=ANALYTIC_REL)  # AUC(0-∞) = D/CL
    assert s["auc_tau_max"]["value"] == pytest.approx(dose / CL, rel=ANALYTIC_REL)
    assert s["time_to_1"]["value"] == pytest.approx(t_reach, rel=ANALYTIC_REL)
    assert s["time_above_1"]["value"] == pytest.approx(t_fall - t_reach, rel=ANALYTIC_REL)
    c1 = rate / CL * (1 - math.exp(-K))
    c10 = c_end * math.exp(-K * 8)
    got = [p["concentration"]["value"] for p in r.profile]
    assert got == pytest.approx([c1, c10], rel=ANALYTIC_REL)
    assert s["wbc_nadir"]["value"] == pytest.approx(10.0, rel=1e-6)  # no drug effect


def test_sc_depot_closed_form_peak_inside_a_step():
    """Bateman function: tmax = ln(ka/k)/(ka − k), a peak between two step ends."""
    ka, dose = 0.05, 30.0
    tmax = math.log(ka / K) / (ka - K)
    cmax = dose * ka / (V * (ka - K)) * (math.exp(-K * tmax) - math.exp(-ka * tmax))
    r = simulate(
        dose_table([{"time_h": 0, "dose_mg": dose, "route": "sc", "duration_h": 0}]),
        individuals_override=linear_patient(ka),
        t_end_h=600,
    )
    s = r.summary
    assert s["cmax"]["value"] == pytest.approx(cmax, rel=ANALYTIC_REL)
    assert s["tmax"]["value"] == pytest.approx(tmax, rel=0.01)
    assert s["auc"]["value"] == pytest.approx(dose / CL, rel=ANALYTIC_REL)
    assert any("APPROXIMATION" in n for n in r.notes)


def test_zero_dose_gives_zero_concentration():
    r = simulate(
        dose_table([{"time_h": 0, "dose_mg": 0, "route": "iv", "duration_h": 2}]),
        n=20,
        seed=1,
        t_end_h=100,
    )
    assert np.all(r.per_patient["cmax"] == 0)
    assert np.all(r.per_patient["auc"] == 0)
    assert np.allclose(r.per_patient["wbc_nadir"], r.per_patient["wbc0"])
    assert np.all(np.isnan(r.per_patient["time_to_1"]))
    assert r.fractions["reached_1"] == 0


def test_weekly_troughs_are_predose_concentrations():
    """Each week's trough statistics come from the pre-dose concentrations in that week."""
    r = simulate(label_iv_schedule(2), times_h=[96.0, 144.0, 216.0, 264.0, 312.0])
    pre = dict(zip(r.times_h, (p["concentration"]["value"] for p in r.profile), strict=True))
    wk2 = r.weekly_troughs[1]
    assert wk2.week == 2
    assert wk2.doses == 3
    assert wk2.lowest["value"] == pytest.approx(min(pre[216.0], pre[264.0], pre[312.0]))
    assert wk2.highest["value"] == pytest.approx(max(pre[216.0], pre[264.0], pre[312.0]))
    assert r.summary["max_trough"]["value"] == pytest.approx(
        max(w.highest["value"] for w in r.weekly_troughs)
    )

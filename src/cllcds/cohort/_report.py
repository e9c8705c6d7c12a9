"""From aggregated counts to the comparison: rates with intervals, Kaplan–Meier, log-rank.

* A rate is the pooled count over all virtual patients; its 95 % interval is the 2.5th–97.5th
  percentile of the rate across replicates (chunks), so it carries the uncertainty of the
  evidence (each replicate draws its inputs from their posteriors) and the Monte-Carlo noise.
* Kaplan–Meier curves come from :class:`lifelines.KaplanMeierFitter` fitted to the binned
  event times (bins of 0.25 month, weights = counts; exact at the bin edges since all censoring
  is at the end of follow-up), with Greenwood confidence bands. The log-rank test compares
  each arm with the first (lifelines ``logrank_test`` with the same weights). With many
  virtual patients any difference is "significant": the p-value describes the simulation, not
  a trial.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from ._run import CohortRun
from ._simulate import BIN_MONTHS, COUNTS, IntArray

RATES: tuple[tuple[str, str], ...] = (
    ("orr", "responders"),
    ("cr", "cr"),
    ("pr", "pr"),
    ("mrd_negative", "mrd_negative"),
    ("cmv_symptomatic", "cmv_symptomatic"),
    ("cmv_detected", "cmv_detected"),
    ("cmv_holds", "cmv_holds"),
    ("cmv_discontinued", "cmv_discontinued"),
    ("infection_g34", "infection_g34"),
)
LANDMARKS_MONTHS = (12.0, 24.0, 60.0)

LIMITS: tuple[str, ...] = (
    "Virtual patients are drawn from published summary data, not from individual patient "
    "data: covariates are independent, and subgroup effects are odds ratios from single "
    "small studies (p53: Lozanski 2004, 36 patients; nodes: Keating 2002b node response).",
    "Survival by response and MRD status (Moreton 2005) is assumed exponential and the same "
    "for every regimen and route; only the response rates differ between arms.",
    "CMV rates by strategy come from the seed's summary of O'Brien 2006 (approximate "
    "percentages without denominators) and O'Brien 2008 (0/20 on valganciclovir).",
    "Response rates of small studies (e.g. CLL2H interim, FluCam) carry wide uncertainty, "
    "and trials differ in populations and response criteria (NCI-WG 1996).",
    "Intervals describe the uncertainty of the inputs plus Monte-Carlo noise; they are not "
    "the confidence intervals of a trial of that size.",
)


def _lifelines() -> Any:
    """lifelines, imported when a curve is estimated (an optional dependency, untyped)."""
    try:
        return importlib.import_module("lifelines")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Kaplan-Meier needs lifelines: pip install 'cllcds[cohort]'") from exc


def _idx(name: str) -> int:
    return COUNTS.index(name)


def _interval(per_chunk: IntArray, num: str) -> tuple[float, float]:
    rates = per_chunk[:, _idx(num)] / np.maximum(per_chunk[:, _idx("patients")], 1)
    lo, hi = np.percentile(rates, [2.5, 97.5])
    return float(lo), float(hi)


def _km_data(hist: IntArray, n: int, follow_up: float) -> tuple[Any, Any, Any]:
    times = (np.arange(hist.size) + 1) * BIN_MONTHS
    keep = hist > 0
    durations = np.append(times[keep], follow_up)
    events = np.append(np.ones(int(keep.sum())), 0.0)
    weights = np.append(hist[keep].astype(np.float64), float(n - hist.sum()))
    if weights[-1] <= 0:  # everyone had the event before the end
        durations, events, weights = durations[:-1], events[:-1], weights[:-1]
    return durations, events, weights


def kaplan_meier(hist: IntArray, n: int, follow_up: float) -> dict[str, Any]:
    """Kaplan–Meier estimate (lifelines) from binned event counts; all others censored at the
    end of follow-up."""
    lifelines = _lifelines()
    durations, events, weights = _km_data(hist, n, follow_up)
    kmf = lifelines.KaplanMeierFitter()
    kmf.fit(durations, event_observed=events, weights=weights)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    median = float(kmf.median_survival_time_)
    med_ci = importlib.import_module("lifelines.utils").median_survival_times(ci)
    lo, hi = (float(med_ci.iloc[0, 0]), float(med_ci.iloc[0, 1]))

    def at(t: float) -> float:
        return float(kmf.survival_function_at_times(t).iloc[0])

    return {
        "median_months": median if math.isfinite(median) else None,
        "median_ci_months": [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
        "landmarks": {f"{t:g}": at(t) for t in LANDMARKS_MONTHS if t <= follow_up},
        "curve": {
            "time_months": [float(x) for x in sf.index],
            "survival": [float(x) for x in sf.to_numpy()],
            "lower": [float(x) for x in ci.iloc[:, 0].to_numpy()],
            "upper": [float(x) for x in ci.iloc[:, 1].to_numpy()],
        },
    }


def logrank_p(a: IntArray, na: int, b: IntArray, nb: int, follow_up: float) -> float:
    """Log-rank p-value between two arms' binned event counts (lifelines)."""
    logrank_test = importlib.import_module("lifelines.statistics").logrank_test
    da, ea, wa = _km_data(a, na, follow_up)
    db, eb, wb = _km_data(b, nb, follow_up)
    res = logrank_test(da, db, event_observed_A=ea, event_observed_B=eb, weights_A=wa, weights_B=wb)
    return float(res.p_value)


def report(run: CohortRun, *, curves: bool = True) -> dict[str, Any]:
    """The comparison as JSON-ready data: per arm rates, survival and CMV counts; differences
    from the first arm; the assumptions of every arm; the limits."""
    sc = run.scenario
    fu = sc.follow_up_months
    arms_out: list[dict[str, Any]] = []
    first = sc.arms[0]
    for arm in sc.arms:
        tot = run.arms[arm.id]
        n = int(tot.counts[_idx("patients")])
        rates: dict[str, Any] = {}
        for key, num in RATES:
            count = int(tot.counts[_idx(num)])
            lo, hi = _interval(tot.per_chunk, num)
            rates[key] = {"count": count, "rate": count / n, "low": lo, "high": hi}
        os_km = kaplan_meier(tot.os_hist, n, fu)
        tfs_km = kaplan_meier(tot.tfs_hist, n, fu)
        if not curves:
            os_km.pop("curve")
            tfs_km.pop("curve")
        entry: dict[str, Any] = {
            "id": arm.id,
            "label": arm.label,
            "response_study": arm.response_study,
            "cmv_strategy": arm.cmv.value,
            "treatment_weeks": arm.treatment_weeks,
            "patients": n,
            "p53_abnormal": int(tot.counts[_idx("p53_abnormal")]) / n,
            "bulky_nodes": int(tot.counts[_idx("bulky")]) / n,
            "rates": rates,
            "overall_survival": os_km,
            "treatment_free_survival": tfs_km,
            "assumptions": [a.row() for a in arm.assumptions.values()],
        }
        if arm is not first:
            ref = run.arms[first.id]
            diffs: dict[str, Any] = {}
            for key, num in (("orr", "responders"), ("cr", "cr"), ("cmv_holds", "cmv_holds")):
                per_a = tot.per_chunk[:, _idx(num)] / tot.per_chunk[:, _idx("patients")]
                per_b = ref.per_chunk[:, _idx(num)] / ref.per_chunk[:, _idx("patients")]
                d = per_a - per_b
                lo, hi = np.percentile(d, [2.5, 97.5])
                diffs[key] = {
                    "difference": rates[key]["rate"]
                    - int(ref.counts[_idx(num)]) / int(ref.counts[_idx("patients")]),
                    "low": float(lo),
                    "high": float(hi),
                }
            diffs["os_logrank_p"] = logrank_p(
                tot.os_hist, n, ref.os_hist, int(ref.counts[_idx("patients")]), fu
            )
            entry["vs_first_arm"] = diffs
        arms_out.append(entry)
    return {
        "scenario": {
            "name": sc.name,
            "description": sc.description,
            "file": sc.source,
            "follow_up_months": fu,
            "population": [a.row() for a in sc.population.values()],
        },
        "n": run.n,
        "seed": run.seed,
        "replicates": run.chunks,
        "backend": run.backend,
        "arms": arms_out,
        "intervals": "2.5th-97.5th percentile across replicates (evidence uncertainty + "
        "Monte-Carlo noise)",
        "limits": list(LIMITS),
    }

"""Simulating one chunk of virtual patients under every arm of a scenario (vectorised).

A chunk is a *replicate*: its uncertain inputs (proportions printed with a count and a
denominator) are drawn once from their Jeffreys posteriors, Beta(x + ½, n − x + ½), then its
patients are drawn. Spread across chunks is therefore the uncertainty of the evidence plus the
Monte-Carlo noise, which gives the intervals of the results.

Per patient (common random numbers: the same patient and the same uniform draws under every arm,
so differences between arms are not blurred by sampling noise):

1. Covariates: p53 abnormal ~ Bernoulli(p53); lymph nodes none / non-bulky / bulky (> 50 mm).
2. Response: logit P(response) = α + ln(OR_p53)·p53 + ln(OR_bulky)·bulky, with α chosen so that
   the response rate over the *reference* population (the evidence defaults) equals the arm's
   ORR; a scenario population with other covariates then changes the rate through the odds
   ratios. CR | response ~ Bernoulli(CR/ORR).
3. MRD negativity: P(MRD− | CR) and P(MRD− | PR) from Moreton 2005; none with bulky nodes
   (Moreton 2005: "none of the patients with bulky lymphadenopathy achieved MRD-negative
   status").
4. Overall and treatment-free survival: exponential, with the medians Moreton 2005 reports by
   response and MRD status (MRD− CR, MRD+ CR, PR, NR; an MRD− PR counts as PR); censored at the
   end of follow-up.
5. CMV: symptomatic reactivation with probability by strategy (none 30 %, pre-emptive 9 %,
   O'Brien 2006; prophylaxis 0/20, O'Brien 2008); under surveillance also asymptomatic
   reactivations found (29 %, Ferrajoli 2003); log-normal onset (median 34 d, 95th percentile
   58 d, Moreton 2005). A reactivation during treatment holds alemtuzumab (symptomatic: always;
   found by surveillance: ``hold_on_preemptive``); 2/7 of symptomatic ones stop it (Keating
   2002b).
6. Grade 3–4 infection by response (Keating 2002b: responders 3/31, non-responders 22/62).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from ._assumptions import Assumption
from ._scenario import Arm, CmvStrategy, Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BIN_MONTHS = 0.25
"""Width of the survival-time bins (months): Kaplan–Meier is exact at the bin edges."""

COUNTS: tuple[str, ...] = (
    "patients",
    "responders",
    "cr",
    "pr",
    "nr",
    "mrd_negative",
    "mrd_negative_cr",
    "p53_abnormal",
    "bulky",
    "cmv_symptomatic",
    "cmv_detected",
    "cmv_holds",
    "cmv_discontinued",
    "infection_g34",
    "os_events",
    "tfs_events",
)
"""The event counts every chunk returns for every arm, in this order."""


@dataclass(frozen=True)
class ChunkSpec:
    """What one worker needs: the scenario, the chunk's size and its own seed."""

    scenario: Scenario
    index: int
    size: int
    seed: np.random.SeedSequence


@dataclass
class ArmChunk:
    """One arm's results in one chunk: counts and binned survival times."""

    counts: IntArray
    os_hist: IntArray
    tfs_hist: IntArray


@dataclass
class ChunkResult:
    """One chunk's results for every arm (small: a few hundred integers)."""

    index: int
    arms: dict[str, ArmChunk] = field(default_factory=dict)


class _Draws:
    """One replicate's draws of the uncertain inputs; the same input (same name, source and
    numbers) gets the same draw in every arm, so arms that share evidence differ only where
    their inputs differ."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.cache: dict[tuple[object, ...], float] = {}

    def __call__(self, a: Assumption) -> float:
        if not a.uncertain or a.overridden:
            return a.value
        key = (a.name, a.value, a.count, a.n, a.citation.source, a.citation.locator)
        if key not in self.cache:
            assert a.count is not None
            assert a.n is not None
            self.cache[key] = float(self.rng.beta(a.count + 0.5, a.n - a.count + 0.5))
        return self.cache[key]


def _expit(x: FloatArray | float) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return out


def calibrate_intercept(
    orr: float, p53: float, bulky: float, or_p53: float, or_bulky: float
) -> float:
    """α such that the mean of expit(α + β·x) over the reference strata equals ``orr``.

    Strata: p53 abnormal or not × bulky nodes or not (independent), weighted by the reference
    prevalences ``p53`` and ``bulky``.
    """
    orr = min(max(orr, 1e-9), 1 - 1e-9)
    b1, b2 = math.log(or_p53), math.log(or_bulky)
    weights = np.array([(1 - p53) * (1 - bulky), p53 * (1 - bulky), (1 - p53) * bulky, p53 * bulky])
    shift = np.array([0.0, b1, b2, b1 + b2])

    def gap(alpha: float) -> float:
        return float(np.dot(weights, _expit(alpha + shift))) - orr

    return float(brentq(gap, -60.0, 60.0, xtol=1e-12))


def _bins(follow_up: float) -> int:
    return math.ceil(follow_up / BIN_MONTHS)


def simulate_chunk(spec: ChunkSpec) -> ChunkResult:
    """Simulate ``spec.size`` virtual patients under every arm (see the module docstring)."""
    sc = spec.scenario
    rng = np.random.default_rng(spec.seed)
    # Inputs are drawn from their own stream (a child key made without spawn(), so that
    # simulating a spec twice gives the same result).
    draw = _Draws(
        np.random.default_rng(
            np.random.SeedSequence(entropy=spec.seed.entropy, spawn_key=(*spec.seed.spawn_key, 0))
        )
    )
    n = spec.size
    fu = sc.follow_up_months
    nbins = _bins(fu)
    # The replicate's population (drawn once per chunk) and its patients.
    p53_rate = draw(sc.population["p53_abnormal"])
    none_rate = draw(sc.population["nodes_none"])
    bulky_rate = min(draw(sc.population["nodes_bulky"]), 1 - none_rate)
    p53 = rng.random(n) < p53_rate
    u_nodes = rng.random(n)
    bulky = u_nodes >= 1 - bulky_rate
    # Common random numbers for every arm.
    u = {k: rng.random(n) for k in ("resp", "cr", "mrd", "os", "tfs", "cmv", "hold", "disc", "inf")}
    z_onset = rng.standard_normal(n)
    ref = sc.reference_population
    out = ChunkResult(spec.index)
    for arm in sc.arms:
        out.arms[arm.id] = _arm_chunk(
            arm,
            draw,
            p53,
            bulky,
            u,
            z_onset,
            fu,
            nbins,
            ref["p53_abnormal"].value,
            ref["nodes_bulky"].value,
        )
    return out


def _bin(times: FloatArray, nbins: int) -> IntArray:
    idx = np.clip(np.ceil(times / BIN_MONTHS).astype(np.int64) - 1, 0, nbins - 1)
    out: IntArray = np.bincount(idx, minlength=nbins).astype(np.int64)
    return out


def _arm_chunk(
    arm: Arm,
    draw: _Draws,
    p53: npt.NDArray[np.bool_],
    bulky: npt.NDArray[np.bool_],
    u: dict[str, FloatArray],
    z_onset: FloatArray,
    fu: float,
    nbins: int,
    ref_p53: float,
    ref_bulky: float,
) -> ArmChunk:
    a = arm.assumptions
    orr = draw(a["orr"])
    cr = min(draw(a["cr"]), orr)
    or_p53, or_bulky = a["or_p53"].value, a["or_bulky"].value
    alpha = calibrate_intercept(orr, ref_p53, ref_bulky, or_p53, or_bulky)
    p_resp = _expit(alpha + math.log(or_p53) * p53 + math.log(or_bulky) * bulky)
    resp = u["resp"] < p_resp
    is_cr = resp & (u["cr"] < (cr / orr if orr > 0 else 0.0))
    is_pr = resp & ~is_cr
    q_cr = draw(a["mrd_neg_given_cr"])
    q_pr = draw(a["mrd_neg_given_pr"])
    mrd_neg = ~bulky & ((is_cr & (u["mrd"] < q_cr)) | (is_pr & (u["mrd"] < q_pr)))
    # Survival category: 0 MRD− CR, 1 MRD+ CR, 2 PR, 3 NR.
    cat = np.where(is_cr & mrd_neg, 0, np.where(is_cr, 1, np.where(is_pr, 2, 3)))
    keys = ("mrd_neg_cr", "mrd_pos_cr", "pr", "nr")
    os_med = np.array([a[f"os_median_months.{k}"].value for k in keys])[cat]
    tfs_med = np.array([a[f"tfs_median_months.{k}"].value for k in keys])[cat]
    t_os = -np.log(u["os"]) * os_med / math.log(2)
    t_tfs = -np.log(u["tfs"]) * tfs_med / math.log(2)
    os_event = t_os <= fu
    tfs_event = t_tfs <= fu
    # Bin k (0-based) holds the events in ((k)·BIN, (k + 1)·BIN], recorded at its upper edge.
    os_hist = _bin(t_os[os_event], nbins)
    tfs_hist = _bin(t_tfs[tfs_event], nbins)
    # CMV
    strategy = arm.cmv.value
    p_symp = draw(a[f"cmv_symptomatic.{strategy}"])
    if arm.cmv is CmvStrategy.PRE_EMPTIVE:
        p_detect = max(draw(a["cmv_detected.pre-emptive"]), p_symp)
    else:
        p_detect = p_symp
    symptomatic = u["cmv"] < p_symp
    detected = u["cmv"] < p_detect
    median = a["cmv_onset_median_days"].value
    sigma = math.log(a["cmv_onset_p95_days"].value / median) / 1.6448536269514722
    onset = median * np.exp(sigma * z_onset)
    during = onset <= 7 * arm.treatment_weeks
    hold_pre = u["hold"] < a["hold_on_preemptive"].value
    holds = during & (symptomatic | (detected & hold_pre))
    discontinued = during & symptomatic & (u["disc"] < draw(a["cmv_discontinue"]))
    p_inf = np.where(
        resp, draw(a["infection_g34.responder"]), draw(a["infection_g34.nonresponder"])
    )
    infection = u["inf"] < p_inf
    counts = np.array(
        [
            p53.size,  # order: COUNTS
            resp.sum(),
            is_cr.sum(),
            is_pr.sum(),
            (~resp).sum(),
            mrd_neg.sum(),
            (mrd_neg & is_cr).sum(),
            p53.sum(),
            bulky.sum(),
            symptomatic.sum(),
            detected.sum(),
            holds.sum(),
            discontinued.sum(),
            infection.sum(),
            os_event.sum(),
            tfs_event.sum(),
        ],
        dtype=np.int64,
    )
    return ArmChunk(counts, os_hist.astype(np.int64), tfs_hist.astype(np.int64))

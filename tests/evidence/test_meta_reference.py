"""cllcds.evidence meta-analysis against R metafor 3.8.1 (stored reference values).

The reference values in ``data/metafor_reference.json`` were produced by
``Rscript scripts/r/metafor_reference.R`` (R 4.2.2, metafor 3.8.1); each case stores the
exact R calls that produced it (``case["calls"]``), and a failure message prints them. The
calls have the form::

    dat <- escalc(measure="PLO", xi=xi, ni=ni, data=d, slab=study)
    res <- rma(yi, vi, data=dat, method="REML", test="knha", level=95,
               control=list(threshold=1e-14, maxiter=10000, tol=1e-12))
    predict(res, transf=transf.ilogit)      # transf.ipft.hm, targs=list(ni=dat$ni) for PFT
    confint(res, control=list(tol=1e-12))   # Q-profile CIs of tau^2, I^2, H^2
    weights(res); summary(dat, transf=transf.ilogit); leave1out(res)
    binom.test(xi, ni)$conf.int             # Clopper-Pearson

These tests need no R; ``test_stored_values_are_what_r_gives`` reruns the script when R and
metafor are installed so the stored values cannot rot.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cllcds.evidence._meta import (
    METAFOR_VERSION,
    PoolResult,
    PredictionInterval,
    StudyData,
    TauMethod,
    leave_one_out,
    pool,
    subgroups,
)
from cllcds.evidence._transforms import ContinuityCorrection, Transform

# Absolute tolerance for every compared number. 1e-6 is the requirement; R prints
# 4-7 significant digits, far coarser. The port agrees to about 1e-8 (I^2 in %), the
# residue of R's own convergence criteria (threshold=1e-14, uniroot tol=1e-12).
ABS_TOL = 1e-6

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "metafor_reference.json"
SCRIPT = REPO / "scripts" / "r" / "metafor_reference.R"
REF: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))

TRANSFORM = {
    "PR": Transform.RAW,
    "PLO": Transform.LOGIT,
    "PFT": Transform.FREEMAN_TUKEY,
    "PAS": Transform.ARCSINE,
}
METHOD = {"DL": TauMethod.DL, "REML": TauMethod.REML, "PM": TauMethod.PM, "EE": TauMethod.FIXED}


def _data(name: str) -> list[StudyData]:
    ds = REF["datasets"][name]
    return [StudyData(s, x, n) for s, x, n in zip(ds["study"], ds["xi"], ds["ni"], strict=True)]


def _options(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "transform": TRANSFORM[case["measure"]],
        "method": METHOD[case["method"]],
        "knha": case["knha"],
    }


class Checker:
    """Collects every mismatch of a case, so one failure lists them all with the R calls."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.bad: list[str] = []

    def num(self, what: str, actual: float | None, expected: float | None) -> None:
        if expected is None:  # R: NA (e.g. no prediction interval)
            if actual is not None and not math.isnan(actual):
                self.bad.append(f"{what}: {actual!r} but R gives NA")
            return
        if actual is None or not abs(actual - expected) <= ABS_TOL:
            self.bad.append(f"{what}: {actual!r} but R gives {expected!r}")

    def seq(self, what: str, actual: list[float | None], expected: list[float | None]) -> None:
        if len(actual) != len(expected):
            self.bad.append(f"{what}: {len(actual)} values but R gives {len(expected)}")
            return
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            self.num(f"{what}[{i}]", a, e)

    def done(self) -> None:
        if self.bad:
            calls = "\n    ".join(self.case["calls"])
            pytest.fail(
                f"{self.case['id']}: {len(self.bad)} value(s) differ from R by more than "
                f"{ABS_TOL}:\n  " + "\n  ".join(self.bad[:30]) + f"\nR calls:\n    {calls}"
            )


def _check_fit(c: Checker, r: PoolResult, fit: dict[str, Any], predict: dict[str, Any]) -> None:
    c.num("k", r.k, fit["k"])
    c.num("estimate (transformed)", r.est_t, fit["b"])
    c.num("se", r.se_t, fit["se"])
    c.num("ci.lb (transformed)", r.ci_low_t, fit["ci_lb"])
    c.num("ci.ub (transformed)", r.ci_high_t, fit["ci_ub"])
    c.num("tau2", r.tau2, fit["tau2"])
    c.num("I2", r.i2, fit["I2"])
    c.num("H2", r.h2, fit["H2"])
    c.num("QE", r.q, fit["QE"])
    c.num("QEp", r.q_p, fit["QEp"])
    c.num("ddf", r.df, fit["ddf"])
    c.num("pred", r.estimate, predict["pred"])
    c.num("ci.lb", r.ci_low, predict["ci_lb"])
    c.num("ci.ub", r.ci_high, predict["ci_ub"])


def _ids(cases: list[dict[str, Any]]) -> Iterator[Any]:
    for case in cases:
        yield pytest.param(case, id=case["id"])


POOL = list(_ids(REF["pool_cases"]))
LOO = list(_ids([c for c in REF["pool_cases"] if "leave1out" in c]))
CONFINT = list(_ids([c for c in REF["pool_cases"] if "confint" in c]))


def test_reference_provenance() -> None:
    """The stored values say which R and metafor made them, and how."""
    meta = REF["meta"]
    assert meta["metafor_version"] == METAFOR_VERSION
    assert meta["r_version"].startswith("R version 4.")
    assert meta["script"] == "scripts/r/metafor_reference.R"
    assert len(REF["datasets"]) == 8
    assert len(REF["pool_cases"]) == 8 * 4 * 4 * 2  # data sets x measures x methods x tests


@pytest.mark.parametrize("case", POOL)
def test_pool_matches_metafor(case: dict[str, Any]) -> None:
    """``rma()`` + ``predict(res, transf=)`` + the HTS interval, for both interval types.

    R: ``res <- rma(yi, vi, data=dat, method=M, test=T)``; ``predict(res, transf=...)``;
    HTS by hand: ``c(res$b) + c(-1, 1) * qt(0.975, res$k - 2) * sqrt(res$tau2 + res$se^2)``.
    """
    c = Checker(case)
    data = _data(case["dataset"])
    r = pool(data, **_options(case))
    _check_fit(c, r, case["fit"], case["predict"])
    c.num("pi.lb (transformed)", r.pi_low_t, case["predict_t"]["pi_lb"])
    c.num("pi.ub (transformed)", r.pi_high_t, case["predict_t"]["pi_ub"])
    c.num("pi.lb", r.pi_low, case["predict"]["pi_lb"])
    c.num("pi.ub", r.pi_high, case["predict"]["pi_ub"])
    hts = pool(data, **_options(case), pi=PredictionInterval.HTS)
    c.num("HTS pi.lb (transformed)", hts.pi_low_t, case["hts_t"][0])
    c.num("HTS pi.ub (transformed)", hts.pi_high_t, case["hts_t"][1])
    c.num("HTS pi.lb", hts.pi_low, case["hts"][0])
    c.num("HTS pi.ub", hts.pi_high, case["hts"][1])
    c.done()


@pytest.mark.parametrize("case", POOL)
def test_studies_match_metafor(case: dict[str, Any]) -> None:
    """``escalc()`` yi/vi, ``weights(res)``, ``summary(dat, transf=)`` CIs, ``binom.test``."""
    c = Checker(case)
    ds = REF["datasets"][case["dataset"]]
    r = pool(_data(case["dataset"]), **_options(case))
    s = r.studies
    c.seq("yi", [x.yi for x in s], case["escalc"]["yi"])
    c.seq("vi", [x.vi for x in s], case["escalc"]["vi"])
    c.seq("weights", [x.weight_pct for x in s], case["weights"])
    c.seq("study estimate", [x.estimate for x in s], case["study"]["est"])
    c.seq("study ci.lb", [x.ci_low for x in s], case["study"]["ci_lb"])
    c.seq("study ci.ub", [x.ci_high for x in s], case["study"]["ci_ub"])
    c.seq("Clopper-Pearson lower", [x.cp_low for x in s], ds["cp_lb"])
    c.seq("Clopper-Pearson upper", [x.cp_high for x in s], ds["cp_ub"])
    c.done()


@pytest.mark.parametrize("case", CONFINT)
def test_confint_matches_metafor(case: dict[str, Any]) -> None:
    """Q-profile CIs: ``confint(res, control=list(tol=1e-12))$random``."""
    c = Checker(case)
    r = pool(_data(case["dataset"]), **_options(case))
    ci = case["confint"]
    for name, value, ours in (
        ("tau^2", r.tau2, r.tau2_ci),
        ("tau", r.tau, r.tau_ci),
        ("I^2(%)", r.i2, r.i2_ci),
        ("H^2", r.h2, r.h2_ci),
    ):
        key = {"tau^2": "tau2", "tau": "tau", "I^2(%)": "I2", "H^2": "H2"}[name]
        assert ours is not None
        c.seq(name, [value, *ours], ci[key])
    c.done()


def test_fixed_effect_has_no_heterogeneity_intervals() -> None:
    """``confint()`` refuses a common-effect model; cllcds gives None (and no PI, as predict)."""
    r = pool(_data("table1"), method=TauMethod.FIXED)
    assert r.tau2 == 0.0
    assert (r.tau2_ci, r.tau_ci, r.i2_ci, r.h2_ci) == (None, None, None, None)
    assert (r.pi_low, r.pi_high) == (None, None)


@pytest.mark.parametrize("case", LOO)
def test_leave_one_out_matches_metafor(case: dict[str, Any]) -> None:
    """``leave1out(res)`` and refits ``rma(..., subset=-i)`` + ``predict(ri, transf=)``."""
    c = Checker(case)
    rows = leave_one_out(_data(case["dataset"]), **_options(case))
    ref = case["leave1out"]
    ds = REF["datasets"][case["dataset"]]
    assert [label for label, _ in rows] == ds["study"]
    res = [r for _, r in rows]
    c.seq("estimate", [r.est_t for r in res], ref["estimate"])
    c.seq("se", [r.se_t for r in res], ref["se"])
    c.seq("ci.lb", [r.ci_low_t for r in res], ref["ci_lb"])
    c.seq("ci.ub", [r.ci_high_t for r in res], ref["ci_ub"])
    c.seq("Q", [r.q for r in res], ref["Q"])
    c.seq("Qp", [r.q_p for r in res], ref["Qp"])
    c.seq("tau2", [r.tau2 for r in res], ref["tau2"])
    c.seq("I2", [r.i2 for r in res], ref["I2"])
    c.seq("H2", [r.h2 for r in res], ref["H2"])
    c.seq("pred", [r.estimate for r in res], ref["pred"])
    c.seq("pred ci.lb", [r.ci_low for r in res], ref["pred_ci_lb"])
    c.seq("pred ci.ub", [r.ci_high for r in res], ref["pred_ci_ub"])
    c.seq("pred pi.lb", [r.pi_low for r in res], ref["pred_pi_lb"])
    c.seq("pred pi.ub", [r.pi_high for r in res], ref["pred_pi_ub"])
    c.done()


@pytest.mark.parametrize("case", list(_ids(REF["cc_cases"])))
def test_continuity_correction_matches_escalc(case: dict[str, Any]) -> None:
    """``escalc(measure, xi, ni, add=, to=)`` then ``rma(method="REML")`` + ``predict``.

    ``add`` is null where the call leaves it out (metafor's default: 1/2 for PR/PLO, 0 for
    PFT/PAS).
    """
    c = Checker(case)
    r = pool(
        _data(case["dataset"]),
        transform=TRANSFORM[case["measure"]],
        add=case["add"],
        to=ContinuityCorrection(case["to"]),
    )
    c.seq("yi", [s.yi for s in r.studies], case["escalc"]["yi"])
    c.seq("vi", [s.vi for s in r.studies], case["escalc"]["vi"])
    _check_fit(c, r, case["fit"], case["predict"])
    c.num("pi.lb", r.pi_low, case["predict"]["pi_lb"])
    c.num("pi.ub", r.pi_high, case["predict"]["pi_ub"])
    c.done()


@pytest.mark.parametrize("case", list(_ids(REF["subgroup_cases"])))
def test_subgroups_match_metafor(case: dict[str, Any]) -> None:
    """Subgroups: separate fits, the moderator model and Q-between.

    R: ``mod <- rma(yi, vi, mods = ~ factor(group), data=dat, method=M, test=T)`` (QM, QMdf,
    QMp, tau2, I2, H2, QE, QEp); ``rma(yi, vi, data=dat, subset=group==g, ...)`` per group;
    ``rma(est, sei=se, method="EE")$QE`` for Q-between.
    """
    c = Checker(case)
    ds = REF["datasets"][case["dataset"]]
    r = subgroups(_data(case["dataset"]), ds["group"], **_options(case))
    m = case["moderator"]
    c.num("QM", r.qm, m["QM"])
    c.num("QM df1", r.qm_df1, m["QMdf"][0])
    c.num("QM df2", r.qm_df2, m["QMdf"][1])
    c.num("QMp", r.qm_p, m["QMp"])
    c.num("tau2 (residual)", r.tau2_residual, m["tau2"])
    c.num("I2 (residual)", r.i2_residual, m["I2"])
    c.num("H2 (residual)", r.h2_residual, m["H2"])
    c.num("QE (residual)", r.qe_residual, m["QE"])
    c.num("QE df", r.qe_residual_df, m["QEdf"])
    c.num("QEp (residual)", r.qe_residual_p, m["QEp"])
    c.num("Q-between", r.q_between, case["between"]["Q"])
    c.num("Q-between df", r.q_between_df, case["between"]["df"])
    c.num("Q-between p", r.q_between_p, case["between"]["p"])
    ours = dict(r.subgroups)
    assert sorted(ours) == [s["group"] for s in case["subgroups"]]
    for s in case["subgroups"]:
        _check_fit(c, ours[s["group"]], s, s["predict"])
    c.done()


@pytest.mark.parametrize("case", list(_ids(REF["stepadj_cases"])))
def test_cycling_fisher_scoring_matches_damped_metafor(case: dict[str, Any]) -> None:
    """Undamped REML steps cycle here (``rma()`` stops: "did not converge"); cllcds damps
    them as ``rma(yi, vi, method="REML", control=list(stepadj=0.5))`` does."""
    assert case["undamped_fails"]
    c = Checker(case)
    data = [
        StudyData(s, x, n) for s, x, n in zip(case["study"], case["xi"], case["ni"], strict=True)
    ]
    r = pool(data, transform=TRANSFORM[case["measure"]], method=TauMethod.REML)
    _check_fit(c, r, case["fit"], case["predict"])
    c.done()


def _r_with_metafor() -> bool:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False
    probe = subprocess.run(
        [rscript, "-e", "quit(status = !requireNamespace('metafor', quietly = TRUE))"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return probe.returncode == 0


def _same(a: Any, b: Any, where: str = "$") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{where}: keys {list(a)} != {list(b)}"]
        return [d for key in a for d in _same(a[key], b[key], f"{where}.{key}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _same(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        # Same script, same R: equal up to floating-point noise of another BLAS or CPU.
        ok = isinstance(a, int | float) and isinstance(b, int | float)
        return (
            []
            if ok and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
            else [f"{where}: {a} != {b}"]
        )
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


@pytest.mark.slow
def test_stored_values_are_what_r_gives(tmp_path: Path) -> None:
    """Rerun ``Rscript scripts/r/metafor_reference.R`` and compare with the stored JSON."""
    if not _r_with_metafor():
        pytest.skip("Rscript with the metafor package is not installed; stored values are used")
    out = tmp_path / "metafor_reference.json"
    subprocess.run(
        ["Rscript", str(SCRIPT), str(out)], cwd=REPO, check=True, capture_output=True, timeout=900
    )
    fresh = json.loads(out.read_text(encoding="utf-8"))
    if fresh["meta"]["metafor_version"] != REF["meta"]["metafor_version"]:
        pytest.skip(f"installed metafor is {fresh['meta']['metafor_version']}, not 3.8.1")
    fresh["meta"]["r_version"] = REF["meta"]["r_version"]  # a patched R prints another date
    diffs = _same(fresh, REF)
    assert not diffs, "stored reference differs from a fresh R run:\n" + "\n".join(diffs[:20])

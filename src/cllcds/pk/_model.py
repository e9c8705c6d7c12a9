"""Parameters of the alemtuzumab PK/PD model (Mould 2007), each with its source.

The model (``shared/reference/pk-model.md`` §2) is a two-compartment model with Michaelis–Menten
elimination whose Vmax rises with the time-varying white-cell count (WBC), coupled to an
indirect-response (stimulated loss) model of WBC:

::

    C         = A1 / V1
    Vmax(t)   = Vmax_i · (W(t) / 10)^0.194
    dA1/dt    = R(t) + ka·Asc − Vmax(t)·C / (Km + C) − Q·C + Q·A2/V2
    dA2/dt    = Q·C − Q·A2/V2
    dW/dt     = Kin − Kout·(1 + Emax·C / (EC50 + C))·W,      W(0) = Kin/Kout
    dAsc/dt   = −ka·Asc            (SC only; APPROXIMATION A1; a dose adds F·Dose to Asc)

Units inside the package: time h, amounts mg, concentrations mg/L (= µg/mL), WBC 10⁹/L. The
paper's µg/h and µg/L values are converted once, here (÷ 1000).

Sources (ids of the register in ``pk-model.md`` §1): S2 = Mould 2007 Table 2 as transcribed in
nlmixr2lib ``Mould_2007_alemtuzumab.R``; S3 = Table 3, ``Mould_2007_alemtuzumab_wbc.R``
(commit 01483597); S4 = the nlmixr2lib vignette. The SC absorption values are our
APPROXIMATION A1, and the Vmax scale S is APPROXIMATION A2 (``pk-model.md`` §5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from cllcds.domain import Citation, InputError

FloatArray = npt.NDArray[np.float64]

MOULD = "mould2007"
"""Source id of Mould DR et al., Br J Clin Pharmacol 2007;64(3):278–291 (not in the review's
bibliography; pk-model.md register S2–S4)."""

_T2 = "Table 2, via nlmixr2lib Mould_2007_alemtuzumab.R (pk-model.md S2, §3)"
_T3 = "Table 3, via nlmixr2lib Mould_2007_alemtuzumab_wbc.R (pk-model.md S3, §3)"
_A1 = "pk-model.md §5 A1 (APPROXIMATION: no published SC absorption in CLL)"
_A2 = "pk-model.md §5 A2 (APPROXIMATION: SC / low-burden calibration)"
_CHECK = "Tables 2-3 not yet checked against the primary PDF (pk-model.md §3, missing 1)."

WBC_REFERENCE = 10.0
"""WBC at which Vmax takes its typical value, 10⁹/L (S2)."""


@dataclass(frozen=True, slots=True)
class PkParameters:
    """Typical values, inter-individual variances and residual errors of the model.

    Every field carries its unit in its name; ``omega2_*`` are variances of log-normal random
    effects (ω² = ln(CV² + 1)); ``*_sd`` are residual-error standard deviations. Change a value
    with :func:`dataclasses.replace` or :meth:`with_overrides` (validated).

    The three SC fields are APPROXIMATIONS (``pk-model.md`` §5): ``ka_per_h`` 0.0104 h⁻¹
    (0.25 d⁻¹, absorption t½ ≈ 2.8 d) and ``f_sc`` 0.6 (A1), and ``vmax_scale`` S = 1 (A2; 0.3
    reproduces the published SC exposure but breaks the IV label half-lives).
    """

    vmax_mg_per_h: float = 1.020
    km_mg_per_l: float = 0.338
    v1_l: float = 11.3
    v2_l: float = 41.5
    q_l_per_h: float = 1.05
    wbc_exponent: float = 0.194
    emax: float = 18.2
    ec50_mg_per_l: float = 0.306
    kin_1e9_per_l_h: float = 1.56
    kout_per_h: float = 0.029
    omega2_vmax: float = 0.097460
    omega2_km: float = 1.132194
    omega2_v1: float = 0.534032
    omega2_v2: float = 1.436193
    omega2_emax: float = 1.939168
    omega2_ec50: float = 4.111842
    omega2_kin: float = 1.376048
    prop_sd: float = 0.372
    add_sd_mg_per_l: float = 0.06473
    wbc_add_sd_1e9_per_l: float = 15.6
    ka_per_h: float = 0.25 / 24.0
    f_sc: float = 0.6
    vmax_scale: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f.name, value, "give a finite number")
            if f.name.startswith("omega2_") or f.name.endswith("_sd"):
                if value < 0:
                    raise InputError(f.name, value, "a variance or SD must be 0 or more")
            elif f.name != "wbc_exponent" and value <= 0:
                raise InputError(f.name, value, "must be positive")
        if self.f_sc > 1:
            raise InputError("f_sc", self.f_sc, "bioavailability is a fraction in (0, 1]")

    @property
    def wbc0_typical(self) -> float:
        """Typical baseline WBC implied by the PD parameters, Kin/Kout = 53.8 × 10⁹/L (S3/S4)."""
        return self.kin_1e9_per_l_h / self.kout_per_h

    def with_overrides(self, **overrides: Any) -> PkParameters:
        """A copy with some values changed; unknown names raise :class:`InputError`."""
        names = {f.name for f in fields(self)}
        for key, value in overrides.items():
            if key not in names:
                raise InputError(key, value, f"use one of {', '.join(sorted(names))}")
        return replace(self, **{k: float(v) for k, v in overrides.items()})


PARAMETER_SOURCES: dict[str, Citation] = {
    "vmax_mg_per_h": Citation(MOULD, _T2, note="TVVmax 1020 µg/h at WBC 10e9/L. " + _CHECK),
    "km_mg_per_l": Citation(MOULD, _T2, note="Km 338 µg/L."),
    "v1_l": Citation(MOULD, _T2, note="V1 11.3 L."),
    "v2_l": Citation(MOULD, _T2, note="V2 41.5 L (179% CV; poorly identified)."),
    "q_l_per_h": Citation(MOULD, _T2, note="Q 1.05 L/h, no IIV."),
    "wbc_exponent": Citation(MOULD, _T2, note="Power of WBC/10 on Vmax."),
    "emax": Citation(MOULD, _T3, note="Emax 18.2 (stimulation of WBC loss)."),
    "ec50_mg_per_l": Citation(MOULD, _T3, note="EC50 306 µg/L."),
    "kin_1e9_per_l_h": Citation(MOULD, _T3, note="Kin 1.56 × 10⁹/L/h."),
    "kout_per_h": Citation(MOULD, _T3, note="Kout 0.029 /h, IIV not estimated."),
    "omega2_vmax": Citation(MOULD, _T2, note="32% CV."),
    "omega2_km": Citation(MOULD, _T2, note="145% CV."),
    "omega2_v1": Citation(MOULD, _T2, note="84% CV."),
    "omega2_v2": Citation(MOULD, _T2, note="179% CV."),
    "omega2_emax": Citation(
        MOULD, _T3, note="244% CV; the Emax–EC50 correlation is not published (diagonal Ω)."
    ),
    "omega2_ec50": Citation(MOULD, _T3, note="775% CV."),
    "omega2_kin": Citation(MOULD, _T3, note="172% CV."),
    "prop_sd": Citation(MOULD, _T2, note="Proportional residual error 37.2%."),
    "add_sd_mg_per_l": Citation(MOULD, _T2, note="Additive residual error 64.73 µg/L."),
    "wbc_add_sd_1e9_per_l": Citation(MOULD, _T3, note="Additive WBC residual error 15.6."),
    "ka_per_h": Citation(
        "pk-model", _A1, note="0.25/d; sensitivity range 0.1–0.5/d. APPROXIMATION."
    ),
    "f_sc": Citation("pk-model", _A1, note="F 0.6; sensitivity range 0.4–0.8. APPROXIMATION."),
    "vmax_scale": Citation(
        "pk-model", _A2, note="Default 1 (published); 0.3 fits SC cohorts only. APPROXIMATION."
    ),
}

SC_APPROXIMATION = (
    "SC absorption is an APPROXIMATION (pk-model.md §5 A1): the Mould 2007 model is IV-only and "
    "no SC absorption parameters are published for alemtuzumab in CLL; a first-order depot with "
    "ka = {ka_per_day:.3g}/d and F = {f_sc:.2g} is assumed. With Vmax scale S = 1 the model "
    "under-predicts published SC concentrations about 5–10× (Hale 2004; pk-model.md §4)."
)

KNOWN_LIMITS: tuple[str, ...] = (
    "Parameters are the nlmixr2lib transcription of Mould 2007 Tables 2–3, not yet checked "
    "against the primary PDF; the typical patient sits near dose rate ≈ Vmax, so small "
    "transcription errors change predictions a lot (pk-model.md §3).",
    "Fitted to 67 B-CLL patients given 2-h IV infusions of 3–240 mg (WBC 1.3–522 × 10⁹/L); "
    "predictions outside that range are extrapolations.",
    "The typical patient accumulates much less than observed (AUC rise 1.6× vs the label's 7×); "
    "only population statistics match the label (within ~2×) (pk-model.md §4).",
    "Troughs are under-predicted about 2.5× on the mean against Hale 2004 IV data "
    "(pk-model.md §4).",
    "No linear (FcRn) clearance: the model cannot reproduce the 15–21-day half-life of "
    "lymphodepleted patients (pk-model.md §3, missing 4).",
    "The Emax–EC50 correlation is not published; random effects are independent (diagonal Ω).",
    "Continuous-infusion predictions have no published comparator (pk-model.md §5 A4).",
    "Model V1+V2 = 52.8 L vs label Vss 0.18 L/kg; V2 is poorly identified (pk-model.md §3).",
    "WBC is total white cells, not CLL cells; the WBC model is no measure of response.",
    "Exposure–response thresholds (max trough 13.2 µg/mL, AUC(0–τ) 484 µg·h/mL) are "
    "associations, not causes: fewer target cells also give higher levels (Vojdeman 2013).",
)

THRESHOLD_TROUGH_MG_PER_L = 13.2
"""Maximum trough ≥ 13.2 µg/mL: ≥ 50% probability of CR/PR (Mould 2007 via S4)."""
THRESHOLD_AUC_MG_H_PER_L = 484.0
"""AUC(0–τ) ≥ 484 µg·h/mL: ≥ 50% probability of CR/PR (Mould 2007 via S4)."""
THRESHOLD_SOURCE = Citation(
    MOULD,
    "abstract/results, as quoted in the nlmixr2lib vignette (pk-model.md S4, §3)",
    note="Associated with ≥ 50% probability of CR/PR; not causal (Vojdeman 2013, S13).",
)


@dataclass(frozen=True, slots=True)
class Individuals:
    """Per-patient parameters, one array element per virtual patient (length ``n``).

    ``vmax_mg_per_h`` already includes the scale S; ``wbc0`` is the baseline WBC
    (= Kin/Kout).
    """

    vmax_mg_per_h: FloatArray
    km_mg_per_l: FloatArray
    v1_l: FloatArray
    v2_l: FloatArray
    q_l_per_h: FloatArray
    emax: FloatArray
    ec50_mg_per_l: FloatArray
    kin_1e9_per_l_h: FloatArray
    kout_per_h: FloatArray
    ka_per_h: FloatArray
    f_sc: FloatArray
    wbc_exponent: float

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.v1_l.shape[0])

    @property
    def wbc0(self) -> FloatArray:
        """Baseline WBC, Kin/Kout (10⁹/L)."""
        return self.kin_1e9_per_l_h / self.kout_per_h

    def take(self, index: npt.NDArray[np.intp] | slice) -> Individuals:
        """The patients at ``index``."""
        kw: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[index] if isinstance(v, np.ndarray) else v
        return Individuals(**kw)


def _check_wbc0(wbc0: float | FloatArray, n: int) -> FloatArray:
    arr = np.broadcast_to(np.asarray(wbc0, dtype=np.float64), (n,)).copy()
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr > 2000)
    if bad.any():
        raise InputError(
            "wbc0",
            float(arr[bad][0]),
            "give a baseline WBC in 10⁹/L, above 0 and at most 2000 (the model was fitted "
            "on 1.3–522)",
        )
    return arr


def individuals(
    params: PkParameters,
    n: int = 1,
    *,
    rng: np.random.Generator | None = None,
    wbc0: float | FloatArray | None = None,
) -> Individuals:
    """Draw ``n`` virtual patients (or the typical patient when ``rng`` is None).

    Each random effect is η ~ N(0, ω²) and the individual value is ``typical · exp(η)``
    (log-normal, diagonal Ω; ``pk-model.md`` §6). Q, Kout, ka and F have no IIV. When ``wbc0``
    is given, the patient's baseline is fixed by Kin_i = Kout · WBC0 (``pk-model.md`` §2,
    our assumption) and the Kin random effect is not drawn.

    Parameters
    ----------
    params
        Typical values and variances.
    n
        Number of patients (1 or more).
    rng
        Random generator for the random effects; ``None`` gives ``n`` typical patients.
    wbc0
        Baseline WBC (10⁹/L), a scalar or one value per patient.

    Examples
    --------
    >>> ind = individuals(PkParameters())
    >>> round(float(ind.wbc0[0]), 1)
    53.8
    """
    if n < 1:
        raise InputError("n", n, "simulate at least 1 patient")
    ones = np.ones(n)

    def draw(omega2: float) -> FloatArray:
        if rng is None or omega2 == 0:
            return ones.copy()
        return np.exp(rng.normal(0.0, math.sqrt(omega2), n))

    # Draw in a fixed order so a seed always gives the same patients.
    e_vmax = draw(params.omega2_vmax)
    e_km = draw(params.omega2_km)
    e_v1 = draw(params.omega2_v1)
    e_v2 = draw(params.omega2_v2)
    e_emax = draw(params.omega2_emax)
    e_ec50 = draw(params.omega2_ec50)
    e_kin = draw(params.omega2_kin)
    kout = params.kout_per_h * ones
    kin = params.kin_1e9_per_l_h * e_kin if wbc0 is None else kout * _check_wbc0(wbc0, n)
    return Individuals(
        vmax_mg_per_h=params.vmax_mg_per_h * params.vmax_scale * e_vmax,
        km_mg_per_l=params.km_mg_per_l * e_km,
        v1_l=params.v1_l * e_v1,
        v2_l=params.v2_l * e_v2,
        q_l_per_h=params.q_l_per_h * ones,
        emax=params.emax * e_emax,
        ec50_mg_per_l=params.ec50_mg_per_l * e_ec50,
        kin_1e9_per_l_h=kin,
        kout_per_h=kout,
        ka_per_h=params.ka_per_h * ones,
        f_sc=params.f_sc * ones,
        wbc_exponent=params.wbc_exponent,
    )

"""The numbers a virtual cohort rests on, each with its source and overridable by name.

Every quantity is an :class:`Assumption`: a value, optionally the count and denominator it was
read from (then its uncertainty is carried into the simulation as a Jeffreys Beta posterior,
Beta(x + ½, n − x + ½)), and a :class:`~cllcds.domain.Citation` (a study id of the evidence
base with the review's locator and quote, a reference-register id, or ``assumption`` with a note
when the evidence gives no number). Values come from ``cllcds.knowledge.studies()`` where the
review prints them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cllcds import knowledge
from cllcds.domain import Citation, InputError, Measure, Reported


@dataclass(frozen=True, slots=True)
class Assumption:
    """One number of the cohort model.

    Attributes
    ----------
    name
        Dotted name used to override it (``orr``, ``os_median_months.pr``, ...).
    value
        Point value (a probability, an odds ratio, months, days).
    citation
        Where it comes from.
    count, n
        The count and denominator it was computed from, when the source prints them; then the
        simulation draws it from Beta(count + ½, n − count + ½) per replicate.
    overridden
        True when the scenario file replaced the evidence value.
    """

    name: str
    value: float
    citation: Citation
    count: int | None = None
    n: int | None = None
    overridden: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise InputError(self.name, self.value, "give a finite, non-negative number")
        if self.name.split(".")[0] in _PROBABILITIES and self.value > 1:
            raise InputError(self.name, self.value, "a probability is between 0 and 1")

    @property
    def uncertain(self) -> bool:
        """Whether the value carries sampling uncertainty (count and denominator known)."""
        return self.count is not None and self.n is not None and self.n > 0

    def row(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "value": self.value,
            "count": self.count,
            "n": self.n,
            "source": self.citation.source,
            "locator": self.citation.locator,
            "quote": self.citation.quote,
            "note": self.citation.note,
            "overridden": self.overridden,
        }


_PROBABILITIES = frozenset(
    {
        "p53_abnormal",
        "nodes_none",
        "nodes_bulky",
        "orr",
        "cr",
        "mrd_neg_given_cr",
        "mrd_neg_given_pr",
        "cmv_symptomatic",
        "cmv_detected",
        "cmv_discontinue",
        "hold_on_preemptive",
        "infection_g34",
    }
)

ASSUMED = "assumption"
"""Source id for values the evidence does not give (each with a note saying why)."""


def _from(study_id: str, r: Reported, note: str = "") -> Citation:
    return Citation(
        study_id,
        f"{r.citation.locator} (seed review)",
        quote=r.citation.quote,
        note="; ".join(x for x in (r.citation.note, note) if x),
    )


def _find(study_id: str, measure: Measure, population: str | None = None) -> Reported:
    st = knowledge.study(study_id)
    if population is None:
        r = st.primary(measure)
        if r is None:
            raise InputError(
                "response_study", study_id, f"the study reports no primary {measure.value}"
            )
        return r
    found = st.reported(measure)
    for r in found:  # an exact population name first ("responders" vs "non-responders")
        if population.lower() == r.population.lower():
            return r
    for r in found:
        if population.lower() in r.population.lower():
            return r
    raise InputError(
        "assumption", f"{study_id}:{measure.value}", f"no value for population {population!r}"
    )


def _proportion(name: str, study_id: str, r: Reported, note: str = "") -> Assumption:
    if r.count is not None and r.denominator is not None:
        return Assumption(
            name, r.count / r.denominator, _from(study_id, r, note), r.count, r.denominator
        )
    if r.percent is not None and r.denominator is not None:
        count = round(r.percent * r.denominator / 100)
        return Assumption(
            name,
            count / r.denominator,
            _from(study_id, r, note or f"count {count} recomputed from {r.percent:g}%"),
            count,
            r.denominator,
        )
    if r.percent is not None:
        return Assumption(name, r.percent / 100, _from(study_id, r, note or "no denominator"))
    raise InputError(name, study_id, "the source gives neither a count nor a percent")


def response_assumptions(study_id: str) -> dict[str, Assumption]:
    """ORR and CR of one study of the evidence base (its primary analysis)."""
    orr = _proportion("orr", study_id, _find(study_id, Measure.ORR))
    cr = _proportion("cr", study_id, _find(study_id, Measure.CR))
    if cr.value > orr.value:
        raise InputError("response_study", study_id, "its CR rate exceeds its ORR")
    return {"orr": orr, "cr": cr}


def _odds(p: float) -> float:
    return p / (1 - p)


def base_assumptions() -> dict[str, Assumption]:
    """Population, subgroup, MRD, survival, CMV and infection assumptions (not arm-specific)."""
    a: dict[str, Assumption] = {}
    # Population
    a["p53_abnormal"] = _proportion(
        "p53_abnormal", "lozanski2004", _find("lozanski2004", Measure.P53_ABNORMAL)
    )
    a["nodes_none"] = _proportion(
        "nodes_none",
        "moreton2005",
        _find("moreton2005", Measure.MRD_NEGATIVE, "free from lymphadenopathy"),
        note="33 of 91 patients were free from lymphadenopathy (the denominator of this value)",
    )
    a["nodes_none"] = replace(a["nodes_none"], value=33 / 91, count=33, n=91)
    a["nodes_bulky"] = Assumption(
        "nodes_bulky",
        0.20,
        Citation(
            ASSUMED,
            "no source",
            note="The review gives no share of patients with nodes > 50 mm; 20% assumed.",
        ),
    )
    # Subgroup effects on response (odds ratios)
    p53_yes = _find("lozanski2004", Measure.ORR, "p53 mutations")
    p53_no = _find("lozanski2004", Measure.ORR, "without p53")
    assert p53_yes.count
    assert p53_yes.denominator
    assert p53_no.count
    assert p53_no.denominator
    or_p53 = _odds(p53_yes.count / p53_yes.denominator) / _odds(p53_no.count / p53_no.denominator)
    a["or_p53"] = Assumption(
        "or_p53",
        or_p53,
        Citation(
            "lozanski2004",
            f"{p53_yes.citation.locator} (seed review)",
            quote=p53_yes.citation.quote,
            note=(
                f"odds ratio of response, p53 abnormal {p53_yes.count}/{p53_yes.denominator} vs "
                f"normal {p53_no.count}/{p53_no.denominator}"
            ),
        ),
    )
    small = _find("keating2002b", Measure.NODE_RESPONSE, "< 20 mm")
    bulky = _find("keating2002b", Measure.NODE_RESPONSE, "> 50 mm")
    assert small.percent is not None
    assert bulky.percent is not None
    a["or_bulky"] = Assumption(
        "or_bulky",
        _odds(bulky.percent / 100) / _odds(small.percent / 100),
        Citation(
            "keating2002b",
            f"{bulky.citation.locator} (seed review)",
            quote=bulky.citation.quote,
            note=(
                f"odds ratio of NODE response, nodes > 50 mm ({bulky.percent:g}%) vs < 20 mm "
                f"({small.percent:g}%), applied to overall response (a PR needs a node "
                "response): an APPROXIMATION"
            ),
        ),
    )
    # MRD negativity among responders (Moreton 2005)
    a["mrd_neg_given_cr"] = _proportion(
        "mrd_neg_given_cr", "moreton2005", _find("moreton2005", Measure.MRD_NEGATIVE, "in CR")
    )
    a["mrd_neg_given_pr"] = _proportion(
        "mrd_neg_given_pr", "moreton2005", _find("moreton2005", Measure.MRD_NEGATIVE, "in PR")
    )
    # Survival by response and MRD status (Moreton 2005), exponential
    os84 = _find("moreton2005", Measure.OS_RATE, "MRD-negative CR")
    assert os84.percent is not None
    median_mrdneg = 60 * math.log(2) / -math.log(os84.percent / 100)
    a["os_median_months.mrd_neg_cr"] = Assumption(
        "os_median_months.mrd_neg_cr",
        median_mrdneg,
        _from(
            "moreton2005",
            os84,
            "median not reached; exponential with 84% alive at 60 months gives this median",
        ),
    )
    for key, pop in (("mrd_pos_cr", "MRD-positive CR"), ("pr", "PR"), ("nr", "non-responders")):
        r = _find("moreton2005", Measure.OS_MEDIAN, pop)
        assert r.value is not None
        a[f"os_median_months.{key}"] = Assumption(
            f"os_median_months.{key}", r.value, _from("moreton2005", r)
        )
        r = _find("moreton2005", Measure.TREATMENT_FREE_SURVIVAL_MEDIAN, pop)
        assert r.value is not None
        a[f"tfs_median_months.{key}"] = Assumption(
            f"tfs_median_months.{key}", r.value, _from("moreton2005", r)
        )
    a["tfs_median_months.mrd_neg_cr"] = Assumption(
        "tfs_median_months.mrd_neg_cr",
        72.0,
        Citation(
            "moreton2005",
            "Intravenous alemtuzumab, paragraph on Moreton 2005 (seed review)",
            quote="Treatment-free survival was significantly longer for patients achieving a "
            "MRD-negative CR (not reached)",
            note="not reached in Moreton 2005; a median of 72 months is assumed",
        ),
    )
    # CMV by strategy (previously treated CLL)
    none = _find("obrien2006", Measure.CMV_SYMPTOMATIC, "without regular")
    pre = _find("obrien2006", Measure.CMV_SYMPTOMATIC, "with regular")
    a["cmv_symptomatic.none"] = _proportion("cmv_symptomatic.none", "obrien2006", none)
    a["cmv_symptomatic.pre-emptive"] = _proportion("cmv_symptomatic.pre-emptive", "obrien2006", pre)
    a["cmv_symptomatic.prophylaxis"] = Assumption(
        "cmv_symptomatic.prophylaxis",
        0.5 / 21,
        Citation(
            "P6",
            "clinical-rules.md §5.3 (O'Brien 2008 RCT, Blood 111:1816)",
            note="valganciclovir 450 mg BID prophylaxis: CMV reactivation 0/20; the Jeffreys "
            "posterior mean (0 + ½)/(20 + 1) is used",
        ),
        count=0,
        n=20,
    )
    detected = _find("ferrajoli2003", Measure.CMV_REACTIVATION)
    a["cmv_detected.pre-emptive"] = _proportion(
        "cmv_detected.pre-emptive",
        "ferrajoli2003",
        detected,
        note="reactivations detected (symptomatic or not) in previously treated CLL on IV "
        "alemtuzumab, taken as what regular surveillance finds",
    )
    onset = _find("moreton2005", Measure.CMV_ONSET_MEDIAN, "CMV reactivation")
    assert onset.value is not None
    a["cmv_onset_median_days"] = Assumption(
        "cmv_onset_median_days",
        onset.value,
        _from(
            "moreton2005",
            onset,
            "log-normal onset; range 14–58 d taken as its 5th–95th percentiles",
        ),
    )
    a["cmv_onset_p95_days"] = Assumption(
        "cmv_onset_p95_days", onset.high or 58.0, _from("moreton2005", onset)
    )
    disc = _find("keating2002b", Measure.DISCONTINUED_FOR_CMV, "CMV reactivations")
    a["cmv_discontinue"] = _proportion("cmv_discontinue", "keating2002b", disc)
    a["hold_on_preemptive"] = Assumption(
        "hold_on_preemptive",
        1.0,
        Citation(
            "P8",
            "clinical-rules.md §5.3 (Laurenti 2004; CLL2H interim P3)",
            note="alemtuzumab is held when surveillance finds a reactivation (Laurenti "
            "discontinued, CLL2H interrupted); set 0 to continue on antivirals (O'Brien 2008)",
        ),
    )
    # Grade 3-4 infection by response (Keating 2002b)
    a["infection_g34.responder"] = _proportion(
        "infection_g34.responder",
        "keating2002b",
        _find("keating2002b", Measure.INFECTION_GRADE_3_4, "responders"),
    )
    a["infection_g34.nonresponder"] = _proportion(
        "infection_g34.nonresponder",
        "keating2002b",
        _find("keating2002b", Measure.INFECTION_GRADE_3_4, "non-responders"),
    )
    return a


def apply_overrides(
    base: Mapping[str, Assumption], overrides: Mapping[str, Any], where: str
) -> dict[str, Assumption]:
    """Replace named assumptions by scenario values (a number, or ``{value, source, note}``)."""
    out = dict(base)
    for name, raw in overrides.items():
        if name not in out:
            raise InputError(f"{where}.{name}", raw, f"override one of: {', '.join(sorted(out))}")
        if isinstance(raw, Mapping):
            value = raw.get("value")
            source = str(raw.get("source", "scenario"))
            note = str(raw.get("note", "set in the scenario file"))
        else:
            value, source, note = raw, "scenario", "set in the scenario file"
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(f"{where}.{name}", value, "give a number") from None
        out[name] = Assumption(
            name, v, Citation(source or "scenario", where, note=note), overridden=True
        )
    return out

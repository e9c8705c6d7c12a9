"""Alemtuzumab dose modification for neutropenia and thrombocytopenia (label rules).

The thresholds are data (``knowledge/data/label/dose_modification.yaml``), one rule set per
label version: ``us-2007`` (US PLR label §2.3, source L3; the default), ``eu-smpc`` (E1; platelet
trigger ``< 25,000/µL`` as the EU prose says) and ``us-2001`` (the original US insert, L8/L10:
baseline-low cut-off ANC ≤ 500/µL; first occurrence resumes at the same dose).

For each of ANC and platelets:

* a patient whose *baseline* count meets the rule set's baseline-low threshold (ANC ≤ 250/µL
  and/or platelets ≤ 25,000/µL in the PLR label) triggers on a fall of ≥ 50 % from baseline and
  may resume when the count is back to baseline;
* otherwise the absolute trigger applies (ANC < 250/µL and/or platelets ≤ 25,000/µL), and
  resumption needs ANC ≥ 500/µL and platelets ≥ 50,000/µL.

Lymphopenia never modifies the dose (L3, E1): no function here looks at lymphocytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cllcds.domain import (
    AutoimmuneKind,
    Citation,
    Decision,
    DecisionStatus,
    LabCode,
    LabelRuleSet,
)
from cllcds.knowledge import DoseModificationRules, Op, Threshold, dose_modification_rules

LABS = (LabCode.ANC, LabCode.PLT)
"""The counts the label's dose modification looks at."""


@dataclass(frozen=True, slots=True)
class Counts:
    """ANC and platelets in 10^9/L; ``None`` when not measured."""

    anc: float | None
    plt: float | None

    def get(self, lab: LabCode) -> float | None:
        return self.anc if lab is LabCode.ANC else self.plt


def rules_for(rule_set: LabelRuleSet) -> DoseModificationRules:
    """The dose-modification rules of a label version."""
    return dose_modification_rules()[rule_set]


def _first(thresholds: tuple[Threshold, ...], lab: LabCode) -> Threshold:
    return next(t for t in thresholds if t.lab is lab)


def baseline_low(rules: DoseModificationRules, baseline: Counts) -> dict[LabCode, bool | None]:
    """Per lab, whether the baseline count meets the baseline-low threshold (``None``: unknown)."""
    out: dict[LabCode, bool | None] = {}
    for lab in LABS:
        b = baseline.get(lab)
        out[lab] = None if b is None else _first(rules.baseline_low, lab).holds(b)
    return out


def _cite(rules: DoseModificationRules) -> Citation:
    return rules.citation


def _fall_limit(rules: DoseModificationRules, base: float) -> float:
    return base * (1 - rules.baseline_low_fall_fraction)


def triggered(rules: DoseModificationRules, current: Counts, baseline: Counts) -> Decision[bool]:
    """Whether the counts call for withholding alemtuzumab under ``rules``.

    Either lab triggering is enough ("and/or" in the label). A lab that was not measured leaves
    the decision indeterminate unless the other lab already triggers.
    """
    low = baseline_low(rules, baseline)
    reasons: list[str] = []
    missing: list[str] = []
    used: dict[str, object] = {}
    for lab in LABS:
        x = current.get(lab)
        if x is None:
            missing.append(lab.value)
            continue
        used[lab.value] = x
        base = baseline.get(lab)
        if low[lab]:
            assert base is not None
            used[f"baseline {lab.value}"] = base
            limit = _fall_limit(rules, base)
            if x <= limit if rules.baseline_low_fall_op.value == ">=" else x < limit:
                reasons.append(
                    f"{lab.value} {x:g} × 10⁹/L has fallen ≥ "
                    f"{rules.baseline_low_fall_fraction:.0%} from a low baseline of {base:g}"
                )
        else:
            t = _first(rules.trigger, lab)
            if t.holds(x):
                reasons.append(f"{lab.value} {x * 1000:,.0f}/µL meets the trigger {t.text()}")
            if low[lab] is None:
                missing.append(f"baseline {lab.value}")
    if reasons:
        return Decision(
            rule=f"cytopenia.trigger.{rules.rule_set.value}",
            outcome=True,
            status=DecisionStatus.DECIDED,
            rationale="Withhold alemtuzumab: " + "; ".join(reasons) + ".",
            citation=_cite(rules),
            inputs_used=used,
        )
    status = DecisionStatus.INDETERMINATE if missing else DecisionStatus.DECIDED
    return Decision(
        rule=f"cytopenia.trigger.{rules.rule_set.value}",
        outcome=False,
        status=status,
        rationale=(
            "Neutrophils and platelets are above the label's withholding thresholds."
            if not missing
            else "No withholding threshold met, but " + ", ".join(missing) + " not known."
        ),
        citation=_cite(rules),
        inputs_used=used,
        inputs_missing=tuple(missing),
    )


def _at_most(limit: float) -> Callable[[float], bool]:
    def test(x: float) -> bool:
        return x <= limit

    return test


def _below(limit: float) -> Callable[[float], bool]:
    def test(x: float) -> bool:
        return x < limit

    return test


def _not_below(limit: float) -> Callable[[float], bool]:
    def test(x: float) -> bool:
        return not x < limit

    return test


def _at_least(limit: float) -> Callable[[float], bool]:
    def test(x: float) -> bool:
        return x >= limit

    return test


def _above(limit: float) -> Callable[[float], bool]:
    def test(x: float) -> bool:
        return x > limit

    return test


_COMPARISONS: tuple[tuple[Op, Callable[[float], Callable[[float], bool]]], ...] = (
    (Op.LT, _below),
    (Op.LE, _at_most),
    (Op.GT, _above),
    (Op.GE, _at_least),
)


def _comparison(threshold: Threshold) -> Callable[[float], bool]:
    """``threshold.holds`` as one comparison of a count with the threshold's value (the
    operator looked up once)."""
    op = threshold.op
    for known, make in _COMPARISONS:
        if op is known:
            return make(threshold.value)
    return threshold.holds


def _lab_tests(
    rules: DoseModificationRules,
    baseline: Counts,
    thresholds: tuple[Threshold, ...],
    from_low_baseline: Callable[[float], Callable[[float], bool]],
    low: Mapping[LabCode, bool | None] | None,
) -> tuple[Callable[[float], bool], Callable[[float], bool]]:
    """The ANC and platelet tests of a rule: against the baseline for a lab whose baseline was
    low, else the rule set's threshold for the lab (``low``: :func:`baseline_low`, when the
    caller has it)."""
    if low is None:
        low = baseline_low(rules, baseline)
    tests: list[Callable[[float], bool]] = []
    for lab in LABS:
        base = baseline.get(lab)
        if low[lab]:
            assert base is not None
            tests.append(from_low_baseline(base))
        else:
            tests.append(_comparison(_first(thresholds, lab)))
    anc_test, plt_test = tests
    return anc_test, plt_test


def trigger_test(
    rules: DoseModificationRules,
    baseline: Counts,
    low: Mapping[LabCode, bool | None] | None = None,
) -> Callable[[Counts], bool]:
    """The outcome of ``triggered(rules, current, baseline)`` as a predicate of ``current``,
    without writing the decision: whether either lab meets its trigger. The thresholds are
    looked up once; a replay asks this at every day with counts and writes the decision only
    for the day the state shows. ``low``: ``baseline_low(rules, baseline)``, when the caller
    has it."""

    def from_low_baseline(base: float) -> Callable[[float], bool]:
        limit = _fall_limit(rules, base)
        return _at_most(limit) if rules.baseline_low_fall_op.value == ">=" else _below(limit)

    anc_test, plt_test = _lab_tests(rules, baseline, rules.trigger, from_low_baseline, low)

    def test(current: Counts) -> bool:
        anc, plt = current.anc, current.plt
        return (anc is not None and anc_test(anc)) or (plt is not None and plt_test(plt))

    return test


def may_resume(rules: DoseModificationRules, current: Counts, baseline: Counts) -> Decision[bool]:
    """Whether counts have recovered enough to resume after a cytopenia hold.

    Both labs must recover ("ANC ≥ 500/µL and platelets ≥ 50,000/µL"); a lab whose baseline was
    low must return to its baseline value instead.
    """
    low = baseline_low(rules, baseline)
    short: list[str] = []
    missing: list[str] = []
    used: dict[str, object] = {}
    for lab in LABS:
        x = current.get(lab)
        if x is None:
            missing.append(lab.value)
            continue
        used[lab.value] = x
        if low[lab]:
            base = baseline.get(lab)
            assert base is not None
            if x < base:
                short.append(f"{lab.value} {x:g} × 10⁹/L is below its baseline {base:g}")
        else:
            t = _first(rules.resume, lab)
            if not t.holds(x):
                short.append(f"{lab.value} {x * 1000:,.0f}/µL has not reached {t.text()}")
    rule = f"cytopenia.resume.{rules.rule_set.value}"
    if missing:
        return Decision(
            rule=rule,
            outcome=False,
            status=DecisionStatus.INDETERMINATE,
            rationale="Keep holding: recovery cannot be judged without " + ", ".join(missing) + ".",
            citation=_cite(rules),
            inputs_used=used,
            inputs_missing=tuple(missing),
        )
    return Decision(
        rule=rule,
        outcome=not short,
        status=DecisionStatus.DECIDED,
        rationale=(
            "Counts have recovered: "
            + " and ".join(t.text() for t in rules.resume)
            + " (or back to a low baseline)."
            if not short
            else "Keep holding: " + "; ".join(short) + "."
        ),
        citation=_cite(rules),
        inputs_used=used,
    )


def resume_test(
    rules: DoseModificationRules,
    baseline: Counts,
    low: Mapping[LabCode, bool | None] | None = None,
) -> Callable[[Counts], bool]:
    """The outcome of ``may_resume(rules, current, baseline)`` as a predicate of ``current``,
    without writing the decision: both labs measured and recovered (thresholds looked up
    once; ``low`` as for :func:`trigger_test`)."""
    anc_test, plt_test = _lab_tests(rules, baseline, rules.resume, _not_below, low)

    def test(current: Counts) -> bool:
        anc, plt = current.anc, current.plt
        return anc is not None and plt is not None and anc_test(anc) and plt_test(plt)

    return test


def resume_condition(rules: DoseModificationRules, baseline: Counts) -> str:
    """The resumption condition as a clinician reads it."""
    low = baseline_low(rules, baseline)
    parts = []
    for lab in LABS:
        if low[lab]:
            parts.append(f"{lab.value} back to baseline ({baseline.get(lab):g} × 10⁹/L)")
        else:
            parts.append(_first(rules.resume, lab).text())
    return " and ".join(parts)


# ------------------------------------------------------------------------------------------
# Autoimmune cytopenias (clinical-rules.md §1.6: L3, E1, L5)

AUTOIMMUNE_DISCONTINUE_CITATION = Citation(
    "L3",
    "§2.3 Dose modification: autoimmune cytopenia",
    note="Discontinue for autoimmune anaemia or autoimmune thrombocytopenia (E1: permanently "
    "discontinued).",
)
AUTOIMMUNE_REVIEW_CITATION = Citation(
    "L5",
    "Warnings and precautions: cytopenias",
    note="Autoimmune cytopenias: discontinue; there are no data on the safety of resuming after "
    "autoimmune cytopenia or marrow aplasia. Kinds other than anaemia or thrombocytopenia are "
    "withheld pending the clinician's review (cllcds default reading).",
)


@dataclass(frozen=True, slots=True)
class AutoimmuneKindRule:
    """What the label does for one coded kind of autoimmune cytopenia, and its codes."""

    kind: AutoimmuneKind
    discontinue: bool
    """``True``: discontinue (L3/E1); ``False``: withhold pending review (L5)."""
    snomed: str | None
    """SNOMED CT concept id, where one was found with a source (``snomed_source``)."""
    snomed_source: str
    synonyms: tuple[str, ...]
    citation: Citation


AUTOIMMUNE_KINDS: Mapping[AutoimmuneKind, AutoimmuneKindRule] = {
    r.kind: r
    for r in (
        AutoimmuneKindRule(
            AutoimmuneKind.HAEMOLYTIC_ANAEMIA,
            True,
            "13601005",
            "Autoimmune hemolytic anemia (disorder); not confirmed against a terminology server "
            "in this work: check before release",
            (
                "haemolytic anaemia",
                "hemolytic anemia",
                "autoimmune haemolytic anaemia",
                "autoimmune hemolytic anemia",
                "aiha",
                "warm aiha",
                "cold aiha",
                "warm autoimmune haemolytic anaemia",
                "warm autoimmune hemolytic anemia",
                "cold autoimmune haemolytic anaemia",
                "cold autoimmune hemolytic anemia",
                "autoimmune anaemia",
                "autoimmune anemia",
                "cold agglutinin disease",
                # Autoimmune haemolytic anaemia, cold type (coding.health, ICD-11 3A20.1)
                "284020008",
            ),
            AUTOIMMUNE_DISCONTINUE_CITATION,
        ),
        AutoimmuneKindRule(
            AutoimmuneKind.THROMBOCYTOPENIA,
            True,
            "128091003",
            "Autoimmune thrombocytopenia (disorder), synonym 'Primary ITP (immune "
            "thrombocytopenia)': tx-dev.fhir.org SNOMED CT browser; confirmed by a second "
            "source, the SNOMED rows of the BHF Data Science Centre CCU035_01 phenotype code list "
            "(GitHub BHFDSC/CCU035_01, thrombocytopenia list: 128091003 'Autoimmune "
            "thrombocytopenia', 2897005 'Immune thrombocytopenia', 32273002 'Immune "
            "thrombocytopenic purpura', 13172003 'Autoimmune thrombocytopenic purpura'), all "
            "accepted",
            (
                "immune thrombocytopenia",
                "autoimmune thrombocytopenia",
                "immune thrombocytopenic purpura",
                "idiopathic thrombocytopenic purpura",
                "itp",
                "2897005",
                "32273002",
                "13172003",
            ),
            AUTOIMMUNE_DISCONTINUE_CITATION,
        ),
        AutoimmuneKindRule(
            AutoimmuneKind.EVANS_SYNDROME,
            True,
            "95563006",
            "Evans syndrome: coding.health (ICD-11 3A20.5 equivalent), a secondary source",
            ("evans", "evans syndrome", "evans' syndrome", "evan's syndrome", "evans's syndrome"),
            AUTOIMMUNE_DISCONTINUE_CITATION,
        ),
        AutoimmuneKindRule(
            AutoimmuneKind.PURE_RED_CELL_APLASIA,
            False,
            None,
            "no SNOMED CT code confirmed",
            (
                "pure red cell aplasia",
                "prca",
                "red cell aplasia",
                "autoimmune pure red cell aplasia",
            ),
            AUTOIMMUNE_REVIEW_CITATION,
        ),
        AutoimmuneKindRule(
            AutoimmuneKind.NEUTROPENIA,
            False,
            None,
            "no SNOMED CT code confirmed",
            ("autoimmune neutropenia", "immune neutropenia", "ain"),
            AUTOIMMUNE_REVIEW_CITATION,
        ),
        AutoimmuneKindRule(
            AutoimmuneKind.OTHER,
            False,
            None,
            "a coded 'other': the clinician names it in kind_text",
            ("other", "other autoimmune cytopenia"),
            AUTOIMMUNE_REVIEW_CITATION,
        ),
    )
}
"""Every coded autoimmune cytopenia: discontinue (AIHA, ITP, Evans: L3, E1) or withhold pending
review (the others: L5), with the SNOMED CT code where a source gave one."""

_AUTOIMMUNE_LOOKUP: Mapping[str, AutoimmuneKind] = {
    key: r.kind
    for r in AUTOIMMUNE_KINDS.values()
    for key in (*r.synonyms, *((r.snomed,) if r.snomed else ()))
}


def autoimmune_kind_for(normalised: str) -> AutoimmuneKind | None:
    """The kind a normalised text (lower case, single spaces) names, or ``None``."""
    return _AUTOIMMUNE_LOOKUP.get(normalised)

"""Response assessment in CLL: NCI-WG 1996, iwCLL 2008 (ASH and PMC versions), iwCLL 2018.

Pure functions over the shipped response tables (:func:`cllcds.knowledge.response_rules`): each
table cell is a cited row with a test; this module evaluates the rows on a baseline and a current
:class:`~cllcds.domain.Assessment` and combines them into a category with the rule set's own
combination rules.

Logic
-----
Every criterion is three-valued: met, not met, or unknown (an input is missing; the input is
named). Categories are judged the same way, and PD excludes every other category:

* **PD** if any PD criterion is met (provisional while a criterion that needs confirmation on a
  second exam, NCI-WG lymph nodes, is not yet confirmed);
* otherwise the highest of **CR > CRi > nPR > PR** whose criteria are met, else **SD** (PD
  excluded);
* a higher category that cannot be excluded because an input is missing makes the result
  ``INDETERMINATE`` with ``inputs_missing`` (e.g. PR reported, CR not confirmable without a
  marrow); when PD itself cannot be excluded the category is ``not_evaluable``.

Where a rule set requires a response to be sustained (NCI-WG: ≥ 2 months), the result is
``provisional`` until an assessment at least that long after the response was first met
confirms it; pass earlier assessments as ``previous`` (or use :func:`assess_series`).

MRD negativity (< 10^-4; P13, P14) is reported beside the category and does not change it.

Examples
--------
>>> import datetime as dt
>>> from cllcds.domain import Assessment, LymphNode, Marrow
>>> base = Assessment(dt.date(2007, 1, 5), nodes=(LymphNode(35, 22),), liver_cm=0,
...     spleen_cm=6, alc_10e9_per_l=80.1, anc_10e9_per_l=2.1, plt_10e9_per_l=98,
...     hgb_g_per_dl=10.4, constitutional_symptoms=True, transfused=False)
>>> now = Assessment(dt.date(2007, 3, 26), nodes=(LymphNode(25, 15),), liver_cm=0,
...     spleen_cm=0, alc_10e9_per_l=2.0, anc_10e9_per_l=1.8, plt_10e9_per_l=120,
...     hgb_g_per_dl=11.5, constitutional_symptoms=False, transfused=False,
...     marrow=Marrow(lymphocytes_pct=20, nodules=False))
>>> assess_response(base, now, "iwcll-2008").category.value
'PR'
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from cllcds.domain import (
    Assessment,
    Cellularity,
    Citation,
    Decision,
    DecisionStatus,
    InputError,
    Mrd,
    MrdSample,
    ResponseCategory,
    ResponseCriteria,
)
from cllcds.knowledge import (
    AllOf,
    AnyOf,
    Comparison,
    Compartment,
    CriExemption,
    CriterionRow,
    MeasureReference,
    PrClause,
    ResponseMeasure,
    ResponseRuleSet,
    mrd_rule,
    response_rules,
)

__all__ = [
    "MEASURE_DECIMALS",
    "CompartmentResponse",
    "CriterionOutcome",
    "CriterionResult",
    "ResponseResult",
    "assess_response",
    "assess_series",
    "mrd_status",
]

MEASURE_DECIMALS = 9
"""Decimals kept for derived measures (changes in % or g/dL): removes binary floating-point
noise so that a change exactly on a threshold (Hb 12.3 → 10.3 g/dL is -2.0, not
-2.0000000000000018) compares as on it. Inputs carry far fewer decimals."""

_LADDER = (
    ResponseCategory.CR,
    ResponseCategory.CRI,
    ResponseCategory.NPR,
    ResponseCategory.PR,
    ResponseCategory.SD,
)
_RANK: Mapping[ResponseCategory, int] = {
    ResponseCategory.CR: 5,
    ResponseCategory.CRI: 4,
    ResponseCategory.NPR: 3,
    ResponseCategory.PR: 2,
    ResponseCategory.SD: 1,
    ResponseCategory.PD: 0,
    ResponseCategory.NOT_EVALUABLE: -1,
}


class CriterionOutcome(Enum):
    """Three-valued outcome of a criterion (or of a category), plus not applicable."""

    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"
    """An input is missing; ``inputs_missing`` names it."""
    NOT_APPLICABLE = "not_applicable"
    """The criterion does not apply (e.g. an organ not enlarged at baseline, NCI-WG PR)."""


MET = CriterionOutcome.MET
NOT_MET = CriterionOutcome.NOT_MET
UNKNOWN = CriterionOutcome.UNKNOWN
NOT_APPLICABLE = CriterionOutcome.NOT_APPLICABLE


class CompartmentResponse(Enum):
    """Response of one disease compartment, as the review reports it (blood clearance, marrow
    response, node response, spleen / liver response)."""

    COMPLETE = "complete"
    """The compartment's CR criteria are met (cleared / resolved)."""
    PARTIAL = "partial"
    """A PR criterion of the compartment is met (≥ 50 % reduction)."""
    STABLE = "stable"
    PROGRESSION = "progression"
    NOT_INVOLVED = "not_involved"
    """Normal at baseline and now."""
    NOT_EVALUABLE = "not_evaluable"


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """The outcome of one row of the response table.

    Attributes
    ----------
    row
        The table row: id, column (CR/PR/PD), parameter, the cell's words, group, compartment
        and citation.
    outcome
        Met, not met, unknown or not applicable.
    observed
        The values the test read (``"current.plt_10e9_per_l": 100.0``,
        ``"plt_change_pct (from baseline)": 25.0``).
    inputs_missing
        Inputs whose absence made the outcome unknown.
    provisional
        Met but awaiting confirmation on a later exam (``confirm_on_or_after``).
    """

    row: CriterionRow
    outcome: CriterionOutcome
    observed: Mapping[str, float | bool] = field(default_factory=dict)
    inputs_missing: tuple[str, ...] = ()
    provisional: bool = False
    confirm_on_or_after: dt.date | None = None

    @property
    def id(self) -> str:
        """The row id (``cr.platelets``)."""
        return self.row.id

    @property
    def citation(self) -> Citation:
        """Source id + locator + the cell's words."""
        return self.row.citation


@dataclass(frozen=True, slots=True)
class ResponseResult:
    """A response assessment under one set of criteria.

    Attributes
    ----------
    criteria
        The rule set used.
    date
        Date of the assessment judged.
    category
        CR, CRi, nPR, PR, SD, PD or not evaluable.
    decision
        The category with status, rationale, citation and inputs (``Decision``).
    criteria_results
        Every row of the table with its outcome (per-criterion details).
    category_outcomes
        Whether each category's criteria are met, not met or unknown.
    by_compartment
        Response by compartment (blood, marrow, nodes, liver, spleen).
    mrd
        MRD negativity (< 10^-4), or not applicable when MRD was not measured.
    provisional
        The category still needs confirmation (duration, or a second exam for NCI-WG node PD).
    confirm_on_or_after
        The earliest date an assessment can confirm a provisional category.
    confirmed_category
        The best response already sustained for the required duration, if the rule set has
        one.
    """

    criteria: ResponseCriteria
    date: dt.date
    category: ResponseCategory
    decision: Decision[ResponseCategory]
    criteria_results: tuple[CriterionResult, ...]
    category_outcomes: Mapping[ResponseCategory, CriterionOutcome]
    by_compartment: Mapping[Compartment, CompartmentResponse]
    mrd: Decision[bool | None]
    provisional: bool = False
    confirm_on_or_after: dt.date | None = None
    confirmed_category: ResponseCategory | None = None

    @property
    def status(self) -> DecisionStatus:
        """Decided or indeterminate."""
        return self.decision.status

    @property
    def rationale(self) -> str:
        """One clinician-facing sentence."""
        return self.decision.rationale

    @property
    def citation(self) -> Citation:
        """Source id + locator + rule-set version of the deciding rule."""
        return self.decision.citation

    @property
    def inputs_missing(self) -> tuple[str, ...]:
        """Inputs that would let a higher category (or the category itself) be decided."""
        return self.decision.inputs_missing

    @property
    def mrd_negative(self) -> bool | None:
        """``True`` when MRD < 10^-4, ``False`` when ≥ 10^-4, ``None`` when not measured."""
        return self.mrd.outcome

    def criterion(self, row_id: str) -> CriterionResult:
        """The result of one row by id (``cr.platelets``)."""
        for r in self.criteria_results:
            if r.id == row_id:
                return r
        raise KeyError(row_id)


# --------------------------------------------------------------------------------------------
# Three-valued logic
# --------------------------------------------------------------------------------------------

_Tri = tuple[CriterionOutcome, tuple[str, ...]]


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for g in groups:
        for name in g:
            out[name] = None
    return tuple(out)


def _definite(o: CriterionOutcome) -> CriterionOutcome:
    return NOT_MET if o is NOT_APPLICABLE else o


def _all(items: Iterable[_Tri]) -> _Tri:
    items = [(_definite(o), m) for o, m in items]
    if any(o is NOT_MET for o, _ in items):
        return NOT_MET, ()
    unknown = [m for o, m in items if o is UNKNOWN]
    return (UNKNOWN, _union(unknown)) if unknown else (MET, ())


def _any(items: Iterable[_Tri]) -> _Tri:
    items = [(_definite(o), m) for o, m in items]
    if any(o is MET for o, _ in items):
        return MET, ()
    unknown = [m for o, m in items if o is UNKNOWN]
    return (UNKNOWN, _union(unknown)) if unknown else (NOT_MET, ())


def _not(t: _Tri) -> _Tri:
    o, m = t
    o = _definite(o)
    if o is UNKNOWN:
        return UNKNOWN, m
    return (NOT_MET if o is MET else MET), ()


def _at_least(k: int, items: Sequence[_Tri]) -> _Tri:
    met = sum(1 for o, _ in items if o is MET)
    unknown = [m for o, m in items if o is UNKNOWN]
    if met >= k:
        return MET, ()
    if met + len(unknown) < k:
        return NOT_MET, ()
    return UNKNOWN, _union(unknown)


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def _day(d: dt.date) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d


@dataclass(frozen=True, slots=True)
class _Ctx:
    baseline: Assessment
    current: Assessment
    nadir: Assessment | None
    previous: tuple[Assessment, ...]  # before current, ascending by date


_Value = float | bool | None

_CHANGE_BASE: Mapping[ResponseMeasure, ResponseMeasure] = {
    ResponseMeasure.NODE_SPD_CHANGE_PCT: ResponseMeasure.NODE_SPD_MM2,
    ResponseMeasure.LIVER_CHANGE_PCT: ResponseMeasure.LIVER_CM,
    ResponseMeasure.SPLEEN_CHANGE_PCT: ResponseMeasure.SPLEEN_CM,
    ResponseMeasure.ALC_CHANGE_PCT: ResponseMeasure.ALC,
    ResponseMeasure.ANC_CHANGE_PCT: ResponseMeasure.ANC,
    ResponseMeasure.PLT_CHANGE_PCT: ResponseMeasure.PLT,
    ResponseMeasure.HGB_CHANGE_PCT: ResponseMeasure.HGB,
    ResponseMeasure.CLONAL_B_CHANGE_PCT: ResponseMeasure.CLONAL_B,
    ResponseMeasure.MARROW_LYMPHOCYTES_CHANGE_PCT: ResponseMeasure.MARROW_LYMPHOCYTES_PCT,
    ResponseMeasure.MARROW_CLL_CELLS_CHANGE_PCT: ResponseMeasure.MARROW_CLL_CELLS_PCT,
    ResponseMeasure.HGB_CHANGE_G_PER_DL: ResponseMeasure.HGB,
    ResponseMeasure.NEW_NODES: ResponseMeasure.NODE_SPD_MM2,
    ResponseMeasure.LIVER_SPLEEN_CHANGE_PCT: ResponseMeasure.SPLEEN_CM,
}

_ATTRS: Mapping[ResponseMeasure, str] = {
    ResponseMeasure.LIVER_CM: "liver_cm",
    ResponseMeasure.SPLEEN_CM: "spleen_cm",
    ResponseMeasure.SPLEEN_LENGTH_CM: "spleen_length_cm",
    ResponseMeasure.ALC: "alc_10e9_per_l",
    ResponseMeasure.ANC: "anc_10e9_per_l",
    ResponseMeasure.PLT: "plt_10e9_per_l",
    ResponseMeasure.HGB: "hgb_g_per_dl",
    ResponseMeasure.CLONAL_B: "clonal_b_10e9_per_l",
    ResponseMeasure.CONSTITUTIONAL_SYMPTOMS: "constitutional_symptoms",
    ResponseMeasure.TRANSFUSED: "transfused",
    ResponseMeasure.ERYTHROPOIETIN: "erythropoietin",
    ResponseMeasure.GROWTH_FACTOR: "growth_factor",
    ResponseMeasure.CYTOPENIA_DUE_TO_CLL: "cytopenia_due_to_cll",
}

_MARROW_ATTRS: Mapping[ResponseMeasure, str] = {
    ResponseMeasure.MARROW_LYMPHOCYTES_PCT: "lymphocytes_pct",
    ResponseMeasure.MARROW_CLL_CELLS_PCT: "cll_cells_pct",
    ResponseMeasure.MARROW_NODULES: "nodules",
    ResponseMeasure.MARROW_NORMOCELLULAR: "cellularity",
    ResponseMeasure.MARROW_HYPOCELLULAR: "cellularity",
}


def _value(measure: ResponseMeasure, a: Assessment, role: str) -> tuple[_Value, tuple[str, ...]]:
    """An absolute measure read on one assessment, or the input it lacks."""
    if measure is ResponseMeasure.NODE_LONG_AXIS_MAX_MM:
        if a.nodes is None:
            return None, (f"{role}.nodes",)
        return max((n.long_mm for n in a.nodes), default=0.0), ()
    if measure is ResponseMeasure.NODE_SPD_MM2:
        spd = a.spd_mm2
        return spd, (() if spd is not None else (f"{role}.nodes",))
    if measure is ResponseMeasure.TRANSFORMATION:
        return a.transformation is not None, ()
    if measure in (ResponseMeasure.MARROW_MRD_NEGATIVE, ResponseMeasure.MARROW_MRD_POSITIVE):
        # The most sensitive evidence (P13): a marrow MRD level decides "no CLL cells".
        if a.mrd is None or a.mrd.sample is not MrdSample.MARROW:
            return False, ()
        negative = a.mrd.level < mrd_rule().threshold
        return negative is (measure is ResponseMeasure.MARROW_MRD_NEGATIVE), ()
    if measure in _MARROW_ATTRS:
        attr = _MARROW_ATTRS[measure]
        if a.marrow is None:
            return None, (f"{role}.marrow",)
        raw = getattr(a.marrow, attr)
        if raw is None:
            return None, (f"{role}.marrow.{attr}",)
        if measure is ResponseMeasure.MARROW_NORMOCELLULAR:
            return raw is Cellularity.NORMOCELLULAR, ()
        if measure is ResponseMeasure.MARROW_HYPOCELLULAR:
            return raw is Cellularity.HYPOCELLULAR, ()
        return raw, ()
    attr = _ATTRS[measure]
    raw = getattr(a, attr)
    return raw, (() if raw is not None else (f"{role}.{attr}",))


def _pct(current: float, reference: float) -> float:
    """Percent change; from 0 a rise is +inf (a new finding) and no change is 0."""
    if reference == 0:
        return 0.0 if current == 0 else math.inf
    return round((current - reference) / reference * 100.0, MEASURE_DECIMALS)


def _reference(
    ctx: _Ctx, ref: MeasureReference, measure: ResponseMeasure
) -> tuple[Assessment | None, str]:
    if ref is MeasureReference.NADIR:
        return ctx.nadir, "nadir"
    if ref is MeasureReference.PREVIOUS:
        for p in reversed(ctx.previous):
            if _value(measure, p, "previous")[0] is not None:
                return p, f"previous ({_day(p.date).isoformat()})"
    return ctx.baseline, "baseline"


def _measure(ctx: _Ctx, c: Comparison) -> tuple[_Value, tuple[str, ...], dict[str, float | bool]]:
    m = c.measure
    if not m.is_change:
        if c.reference is MeasureReference.CURRENT:
            a: Assessment | None = ctx.current
            role = "current"
        else:
            a, role = _reference(ctx, c.reference, m)
        if a is None:
            return None, (f"{role} assessment",), {}
        v, missing = _value(m, a, role)
        return v, missing, ({f"{role}.{m.value}": v} if v is not None else {})
    base = _CHANGE_BASE[m]
    ref_a, role = _reference(ctx, c.reference, base)
    if ref_a is None:
        return None, (f"{role} assessment",), {}
    label = f"{m.value} (from {role})"
    if m is ResponseMeasure.NEW_NODES:
        if ctx.current.nodes is None or ref_a.nodes is None:
            missing = tuple(
                f"{r}.nodes"
                for r, a in (("current", ctx.current), (role, ref_a))
                if a.nodes is None
            )
            return None, missing, {}
        new = _new_nodes(ctx.current, ref_a)
        return new, (), {label: new}
    if m is ResponseMeasure.LIVER_SPLEEN_CHANGE_PCT:
        return _liver_spleen_change(ctx.current, ref_a, role, label)
    cur, m1 = _value(base, ctx.current, "current")
    ref, m2 = _value(base, ref_a, role)
    if cur is None or ref is None:
        return None, m1 + m2, {}
    assert not isinstance(cur, bool)
    assert not isinstance(ref, bool)
    if m is ResponseMeasure.HGB_CHANGE_G_PER_DL:
        change = round(cur - ref, MEASURE_DECIMALS)
    else:
        change = _pct(cur, ref)
    observed = {f"current.{base.value}": cur, f"{role}.{base.value}": ref, label: change}
    return change, (), observed


def _new_nodes(current: Assessment, reference: Assessment) -> bool:
    """A node is new when none was recorded before, or (all nodes sited) a new site appears."""
    assert current.nodes is not None
    assert reference.nodes is not None
    if not reference.nodes:
        return bool(current.nodes)
    nodes = current.nodes + reference.nodes
    if all(n.site for n in nodes):
        return bool({n.site for n in current.nodes} - {n.site for n in reference.nodes})
    return False


def _liver_spleen_change(
    current: Assessment, reference: Assessment, role: str, label: str
) -> tuple[_Value, tuple[str, ...], dict[str, float | bool]]:
    changes: list[float] = []
    missing: list[str] = []
    observed: dict[str, float | bool] = {}
    for organ in (ResponseMeasure.LIVER_CM, ResponseMeasure.SPLEEN_CM):
        cur, m1 = _value(organ, current, "current")
        ref, m2 = _value(organ, reference, role)
        missing += [*m1, *m2]
        if cur is None or ref is None:
            continue
        assert not isinstance(cur, bool)
        assert not isinstance(ref, bool)
        observed[f"current.{organ.value}"] = cur
        observed[f"{role}.{organ.value}"] = ref
        if cur == 0 and ref == 0:
            continue  # organ not enlarged then or now: not part of "liver and/or spleen"
        changes.append(_pct(cur, ref))
    if missing:
        return None, tuple(missing), observed
    change = max(changes) if changes else 0.0
    observed[label] = change
    return change, (), observed


@dataclass(frozen=True, slots=True)
class _Ev:
    outcome: CriterionOutcome
    missing: tuple[str, ...]
    observed: dict[str, float | bool]


def _eval(ctx: _Ctx, expr: Comparison | AllOf | AnyOf) -> _Ev:
    if isinstance(expr, Comparison):
        value, missing, observed = _measure(ctx, expr)
        if value is None:
            if expr.optional:
                return _Ev(NOT_MET, (), observed)
            return _Ev(UNKNOWN, missing, observed)
        return _Ev(MET if expr.op.holds(value, expr.value) else NOT_MET, (), observed)
    parts = [_eval(ctx, t) for t in expr.terms]
    combine = _all if isinstance(expr, AllOf) else _any
    outcome, missing = combine((p.outcome, p.missing) for p in parts)
    merged: dict[str, float | bool] = {}
    for p in parts:
        merged.update(p.observed)
    return _Ev(outcome, missing, merged)


def _eval_row(ctx: _Ctx, row: CriterionRow) -> CriterionResult:
    observed: dict[str, float | bool] = {}
    if row.applies_if is not None:
        applies = _eval(ctx, row.applies_if)
        observed.update(applies.observed)
        if applies.outcome is NOT_MET:
            return CriterionResult(row, NOT_APPLICABLE, MappingProxyType(observed))
        if applies.outcome is UNKNOWN:
            return CriterionResult(row, UNKNOWN, MappingProxyType(observed), applies.missing)
    ev = _eval(ctx, row.test)
    observed.update(ev.observed)
    outcome, missing = ev.outcome, ev.missing
    if outcome is NOT_MET and row.unmet_means_unknown:
        outcome, missing = UNKNOWN, (row.unmet_means_unknown,)
    return CriterionResult(row, outcome, MappingProxyType(observed), missing)


def _confirm(ctx: _Ctx, result: CriterionResult) -> CriterionResult:
    """A met row that needs a confirming exam ``confirm_after_days`` earlier (NCI-WG PD nodes)."""
    days = result.row.confirm_after_days
    if days is None or result.outcome is not MET:
        return result
    start = _day(ctx.current.date)
    for i in range(len(ctx.previous) - 1, -1, -1):
        p = ctx.previous[i]
        sub = _Ctx(ctx.baseline, p, None, ctx.previous[:i])
        if _eval_row(sub, result.row).outcome is not MET:
            break
        start = _day(p.date)
    due = start + dt.timedelta(days=days)
    if _day(ctx.current.date) >= due:
        return result
    return CriterionResult(
        result.row,
        result.outcome,
        result.observed,
        result.inputs_missing,
        provisional=True,
        confirm_on_or_after=due,
    )


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Classification:
    category: ResponseCategory
    statuses: Mapping[ResponseCategory, _Tri]
    pending: tuple[ResponseCategory, ...]
    """Categories above ``category`` that could not be excluded."""
    pd_rows: tuple[CriterionResult, ...]
    """PD rows met."""


def _tri(r: CriterionResult) -> _Tri:
    return r.outcome, r.inputs_missing


def _classify(
    rules: ResponseRuleSet, results: Mapping[str, CriterionResult], ctx: _Ctx
) -> _Classification:
    cr_rows = [results[r.id] for r in rules.column(ResponseCategory.CR)]
    pd_rows = [results[r.id] for r in rules.column(ResponseCategory.PD)]
    pd = _any(_tri(r) for r in pd_rows)
    not_pd = _not(pd)
    statuses: dict[ResponseCategory, _Tri] = {ResponseCategory.PD: pd}
    cr = _all(_tri(r) for r in cr_rows)
    statuses[ResponseCategory.CR] = _all([cr, not_pd])
    if rules.cri is not None:
        statuses[ResponseCategory.CRI] = _all([_cri(cr_rows, ctx.current), not_pd])
    if rules.npr is not None:
        plain = [_tri(r) for r in cr_rows if not r.row.npr_exempt]
        nodules = [_not(_tri(r)) for r in cr_rows if r.row.npr_exempt]
        statuses[ResponseCategory.NPR] = _all([_all(plain), _all(nodules), not_pd])
    statuses[ResponseCategory.PR] = _all([_pr(rules, results, ctx), not_pd])
    statuses[ResponseCategory.SD] = not_pd  # at least stable once PD is excluded
    met_pd = tuple(r for r in pd_rows if r.outcome is MET)
    if pd[0] is MET:
        return _Classification(ResponseCategory.PD, statuses, (), met_pd)
    pending: list[ResponseCategory] = []
    for category in _LADDER:
        if category not in statuses:
            continue
        outcome = statuses[category][0]
        if outcome is MET:
            return _Classification(category, statuses, tuple(pending), met_pd)
        if outcome is UNKNOWN:
            pending.append(category)
    return _Classification(ResponseCategory.NOT_EVALUABLE, statuses, tuple(pending), met_pd)


def _cri(cr_rows: Sequence[CriterionResult], current: Assessment) -> _Tri:
    """CR with incomplete marrow recovery: every non-exempt CR criterion met, and at least one
    exempt one failed for an allowed reason (a hypocellular marrow; a count not recovered and
    not attributed to CLL)."""
    plain = _all(_tri(r) for r in cr_rows if r.row.cri_exempt is None)
    exempt = [r for r in cr_rows if r.row.cri_exempt is not None]
    failed = [r for r in exempt if _definite(r.outcome) is NOT_MET]
    if not failed:
        unknown = [r.inputs_missing for r in exempt if r.outcome is UNKNOWN]
        some_failed: _Tri = (UNKNOWN, _union(unknown)) if unknown else (NOT_MET, ())
        return _all([plain, some_failed])
    reasons: list[_Tri] = []
    for r in failed:
        if r.row.cri_exempt is CriExemption.CELLULARITY:
            hypo = (
                current.marrow is not None
                and current.marrow.cellularity is Cellularity.HYPOCELLULAR
            )
            reasons.append((MET if hypo else NOT_MET, ()))
        elif current.cytopenia_due_to_cll is None:
            reasons.append((UNKNOWN, ("current.cytopenia_due_to_cll",)))
        else:
            reasons.append((NOT_MET if current.cytopenia_due_to_cll else MET, ()))
    return _all([plain, *reasons])


def _clause(clause: PrClause, results: Mapping[str, CriterionResult]) -> _Tri:
    rows = [results[i] for i in clause.rows]
    if clause.only_applicable:
        rows = [r for r in rows if r.outcome is not NOT_APPLICABLE]
        if not rows:
            return MET, ()  # nothing was abnormal at baseline: the clause does not apply
    return _at_least(clause.minimum, [(_definite(r.outcome), r.inputs_missing) for r in rows])


def _single_abnormal(rules: ResponseRuleSet, ctx: _Ctx) -> tuple[PrClause, ...] | None:
    """The iwCLL 2018 PR footnote: when exactly one parameter of each group was abnormal before
    therapy, the clauses narrowed to that parameter, minimum 1; else ``None``. When a
    parameter's baseline status is unknown the exception is not applied (the stricter rule
    stands)."""
    if rules.pr.single_abnormal is None:
        return None
    narrowed = []
    for clause in rules.pr.clauses:
        abnormal = []
        for row_id in clause.rows:
            expr = rules.row(row_id).abnormal_at_baseline
            assert expr is not None  # checked when the rule set is loaded
            outcome = _eval(ctx, expr).outcome
            if outcome is UNKNOWN:
                return None
            if outcome is MET:
                abnormal.append(row_id)
        if len(abnormal) != 1:
            return None
        narrowed.append(PrClause(1, tuple(abnormal)))
    return tuple(narrowed)


def _pr(rules: ResponseRuleSet, results: Mapping[str, CriterionResult], ctx: _Ctx) -> _Tri:
    clauses = _single_abnormal(rules, ctx) or rules.pr.clauses
    return _all(_clause(c, results) for c in clauses)


def _evaluate(rules: ResponseRuleSet, ctx: _Ctx, *, confirm: bool) -> dict[str, CriterionResult]:
    out = {}
    for row in rules.rows:
        result = _eval_row(ctx, row)
        out[row.id] = _confirm(ctx, result) if confirm else result
    return out


def _raw_category(rules: ResponseRuleSet, ctx: _Ctx) -> ResponseCategory:
    return _classify(rules, _evaluate(rules, ctx, confirm=False), ctx).category


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _derive_nadir(
    rules: ResponseRuleSet, baseline: Assessment, previous: Sequence[Assessment]
) -> Assessment | None:
    """The smallest tumour measures at earlier response assessments ("from response")."""
    responders = [
        p
        for i, p in enumerate(previous)
        if _raw_category(rules, _Ctx(baseline, p, None, tuple(previous[:i]))).is_response
    ]
    if not responders:
        return None
    with_nodes = [p for p in responders if p.nodes is not None]
    livers = [p.liver_cm for p in responders if p.liver_cm is not None]
    spleens = [p.spleen_cm for p in responders if p.spleen_cm is not None]
    best_nodes = min(with_nodes, key=lambda p: p.spd_mm2 or 0.0) if with_nodes else None
    return Assessment(
        date=responders[-1].date,
        nodes=best_nodes.nodes if best_nodes is not None else None,
        liver_cm=min(livers) if livers else None,
        spleen_cm=min(spleens) if spleens else None,
    )


# --------------------------------------------------------------------------------------------
# Compartments and MRD
# --------------------------------------------------------------------------------------------


def _compartments(
    rules: ResponseRuleSet, results: Mapping[str, CriterionResult], ctx: _Ctx
) -> dict[Compartment, CompartmentResponse]:
    at_baseline = _Ctx(ctx.baseline, ctx.baseline, None, ())
    out: dict[Compartment, CompartmentResponse] = {}
    for compartment in Compartment:
        rows = [r for r in rules.rows if r.compartment is compartment]
        if not rows:
            continue

        def of(column: ResponseCategory, rows: list[CriterionRow] = rows) -> list[CriterionResult]:
            return [results[r.id] for r in rows if r.column is column]

        pd = _any(_tri(r) for r in of(ResponseCategory.PD))
        cr_rows = of(ResponseCategory.CR)
        cr = _all(_tri(r) for r in cr_rows) if cr_rows else (NOT_MET, ())
        pr = _any(_tri(r) for r in of(ResponseCategory.PR))
        base_cr = (
            _all(_tri(_eval_row(at_baseline, r.row)) for r in cr_rows) if cr_rows else (NOT_MET, ())
        )
        if pd[0] is MET:
            out[compartment] = CompartmentResponse.PROGRESSION
        elif cr[0] is MET and base_cr[0] is MET:
            out[compartment] = CompartmentResponse.NOT_INVOLVED
        elif cr[0] is MET:
            out[compartment] = CompartmentResponse.COMPLETE
        elif pr[0] is MET:
            out[compartment] = CompartmentResponse.PARTIAL
        elif UNKNOWN in (pd[0], cr[0], pr[0]):
            out[compartment] = CompartmentResponse.NOT_EVALUABLE
        else:
            out[compartment] = CompartmentResponse.STABLE
    return out


def mrd_status(mrd: Mrd | None) -> Decision[bool | None]:
    """MRD negativity: level < 10^-4, i.e. fewer than 1 CLL cell per 10,000 leukocytes.

    Sources: P13 (Thompson & Wierda, Blood 2016), P14 (RMMJ 2014); threshold in
    ``knowledge/data/response/mrd.yaml``. The outcome is ``True`` (negative), ``False``
    (positive, level ≥ 10^-4) or ``None`` with status ``NOT_APPLICABLE`` when not measured.

    Examples
    --------
    >>> from cllcds.domain import Mrd, MrdSample
    >>> mrd_status(Mrd(MrdSample.MARROW, 9.9e-5)).outcome
    True
    >>> mrd_status(Mrd(MrdSample.MARROW, 1e-4)).outcome
    False
    """
    rule = mrd_rule()
    others = ", ".join(c.source for c in rule.citations[1:])
    citation = rule.citations[0]
    if others:
        citation = Citation(
            citation.source,
            citation.locator,
            citation.quote,
            f"{citation.note} Also {others}.",
            citation.rule_set,
        )
    if mrd is None:
        return Decision(
            rule="response.mrd",
            outcome=None,
            status=DecisionStatus.NOT_APPLICABLE,
            rationale="MRD was not measured.",
            citation=citation,
        )
    negative = mrd.level < rule.threshold
    sign = "<" if negative else "≥"
    return Decision(
        rule="response.mrd",
        outcome=negative,
        status=DecisionStatus.DECIDED,
        rationale=(
            f"MRD-{'negative' if negative else 'positive'} in {mrd.sample.value}: level "
            f"{mrd.level:.3g} {sign} {rule.threshold:g} (1 CLL cell per 10,000 leukocytes)."
        ),
        citation=citation,
        inputs_used={"mrd.sample": mrd.sample.value, "mrd.level": mrd.level},
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _check_series(
    baseline: Assessment, current: Assessment, previous: Iterable[Assessment]
) -> tuple[Assessment, ...]:
    now = _day(current.date)
    if _day(baseline.date) > now:
        raise InputError(
            "current.date", now.isoformat(), f"must not precede the baseline ({baseline.date})"
        )
    prev = tuple(sorted(previous, key=lambda a: _day(a.date)))
    for p in prev:
        if not _day(baseline.date) <= _day(p.date) < now:
            raise InputError(
                "previous[].date",
                _day(p.date).isoformat(),
                f"previous assessments must fall between the baseline ({baseline.date}) and "
                f"the current assessment ({now})",
            )
    return prev


def _describe(r: CriterionResult) -> str:
    return f"{r.row.parameter} ({r.row.criterion})"


def _pr_summary(rules: ResponseRuleSet, results: Mapping[str, CriterionResult], ctx: _Ctx) -> str:
    parts = []
    single = _single_abnormal(rules, ctx)
    for clause in single or rules.pr.clauses:
        rows = [results[i] for i in clause.rows]
        if clause.only_applicable:
            rows = [r for r in rows if r.outcome is not NOT_APPLICABLE]
        groups = {r.row.group for r in rows}
        group = next(iter(groups)) if len(groups) == 1 else None
        if group is not None:
            name = f"group {group.value}"
        else:
            name = ", ".join(r.id.removeprefix("pr.") for r in rows) or "none enlarged"
        met = sum(1 for r in rows if r.outcome is MET)
        parts.append(f"{met} of {len(rows)} {name} met, {clause.minimum} needed")
    if single:
        parts.append(
            "only one parameter of each group was abnormal before therapy, so only that one "
            "needs to improve"
        )
    return "; ".join(parts)


def _rationale(
    rules: ResponseRuleSet,
    *,
    ctx: _Ctx,
    results: Mapping[str, CriterionResult],
    cls: _Classification,
    provisional: bool,
    confirm_on: dt.date | None,
    confirmed: ResponseCategory | None,
    missing: tuple[str, ...],
) -> str:
    label = rules.criteria.label
    cat = cls.category
    cr_failed = [
        _describe(results[r.id])
        for r in rules.column(ResponseCategory.CR)
        if _definite(results[r.id].outcome) is NOT_MET
    ]
    if cat is ResponseCategory.PD:
        reason = "PD criterion met: " + ", ".join(_describe(r) for r in cls.pd_rows)
    elif cat is ResponseCategory.CR:
        reason = "every CR criterion met"
    elif cat is ResponseCategory.CRI:
        reason = "CR criteria met except " + ", ".join(cr_failed)
    elif cat is ResponseCategory.NPR:
        reason = "CR criteria met except lymphoid nodules in the marrow"
    elif cat is ResponseCategory.PR:
        reason = f"PR criteria met ({_pr_summary(rules, results, ctx)})"
        if cr_failed:
            reason += "; not CR: " + ", ".join(cr_failed[:3]) + " not met"
    elif cat is ResponseCategory.SD:
        reason = f"no PD criterion met and PR not reached ({_pr_summary(rules, results, ctx)})"
    else:
        reason = "PD cannot be excluded"
    text = f"{label}: {cat.value}, {reason}"
    if cat is ResponseCategory.NOT_EVALUABLE:
        return f"{text} without: {', '.join(missing)}."
    if provisional and confirm_on is not None:
        if cat is ResponseCategory.PD:
            text += f"; provisional until an exam on or after {confirm_on} confirms it"
        else:
            months = rules.duration.months if rules.duration else 0
            text += (
                f"; provisional until an assessment on or after {confirm_on} confirms it "
                f"(must last at least {months} months)"
            )
            if confirmed is not None:
                text += f"; {confirmed.value} already sustained"
    if cls.pending:
        text += (
            f"; {'/'.join(c.value for c in cls.pending)} cannot be excluded without: "
            + ", ".join(missing)
        )
    return text + "."


def _citation_for(rules: ResponseRuleSet, cls: _Classification, ctx: _Ctx) -> Citation:
    cat = cls.category
    if cat is ResponseCategory.PR and rules.pr.single_abnormal and _single_abnormal(rules, ctx):
        return rules.pr.single_abnormal
    if cat is ResponseCategory.PD and cls.pd_rows:
        return cls.pd_rows[0].citation
    by_category = {
        ResponseCategory.CR: rules.cr,
        ResponseCategory.CRI: rules.cri,
        ResponseCategory.NPR: rules.npr,
        ResponseCategory.PR: rules.pr.citation,
        ResponseCategory.SD: rules.sd,
        ResponseCategory.PD: rules.pd,
        ResponseCategory.NOT_EVALUABLE: rules.pd,
    }
    citation = by_category[cat]
    assert citation is not None
    return citation


def assess_response(
    baseline: Assessment,
    current: Assessment,
    criteria: ResponseCriteria | str,
    *,
    previous: Iterable[Assessment] = (),
    nadir: Assessment | None = None,
) -> ResponseResult:
    """Judge the response of ``current`` against ``baseline`` under ``criteria``.

    Parameters
    ----------
    baseline
        The pre-treatment assessment.
    current
        The assessment to judge.
    criteria
        :class:`~cllcds.domain.ResponseCriteria` or its id: ``nci-wg-1996``, ``iwcll-2008``
        (ASH-site table, the default 2008 set), ``iwcll-2008-pmc``, ``iwcll-2018``.
    previous
        Earlier assessments after baseline (any order). They confirm responses that must be
        sustained (NCI-WG: ≥ 2 months), confirm NCI-WG node progression on a second exam
        (≥ 2 weeks apart), give the previous marrow for "successive biopsies" and, for iwCLL
        2018, the response nadir.
    nadir
        The best (smallest) tumour measures at response, for iwCLL 2018 PD "from response".
        Default: derived from the ``previous`` assessments that met a response category.

    Returns
    -------
    ResponseResult
        Category, decision (status, rationale, citation, inputs used and missing),
        per-criterion results, per-compartment response, MRD status, and the provisional /
        confirmation state.

    Raises
    ------
    InputError
        For unknown criteria, or assessments out of date order.

    References
    ----------
    S1, S2, S3 (NCI-WG 1996); G2, S4, S5, S6 (iwCLL 2008 ASH); G3 (iwCLL 2008 PMC); G5
    (iwCLL 2018); P13, P14 (MRD). Each row's citation is in the data files.
    """
    rules = response_rules(criteria)
    prev = _check_series(baseline, current, previous)
    if nadir is None and rules.uses_nadir and prev:
        nadir = _derive_nadir(rules, baseline, prev)
    ctx = _Ctx(baseline, current, nadir, prev)
    results = _evaluate(rules, ctx, confirm=True)
    cls = _classify(rules, results, ctx)
    category = cls.category
    missing = _union(cls.statuses[c][1] for c in cls.pending)
    if category is ResponseCategory.NOT_EVALUABLE:
        missing = _union([missing, cls.statuses[ResponseCategory.PD][1]])

    provisional = False
    waiting = ""
    confirm_on: dt.date | None = None
    confirmed: ResponseCategory | None = None
    if category is ResponseCategory.PD:
        if cls.pd_rows and all(r.provisional for r in cls.pd_rows):
            provisional = True
            dues = [r.confirm_on_or_after for r in cls.pd_rows if r.confirm_on_or_after]
            confirm_on = min(dues) if dues else None
    elif rules.duration is not None and category in rules.duration.categories:
        provisional, confirm_on, confirmed = _duration(rules, ctx, category)
    if provisional and confirm_on is not None:
        waiting = f"assessment on or after {confirm_on.isoformat()}"

    status = (
        DecisionStatus.INDETERMINATE
        if provisional or cls.pending or category is ResponseCategory.NOT_EVALUABLE
        else DecisionStatus.DECIDED
    )
    inputs: dict[str, object] = {}
    for r in results.values():
        inputs.update(r.observed)
    decision = Decision(
        rule=f"response.{rules.criteria.value}",
        outcome=category,
        status=status,
        rationale=_rationale(
            rules,
            ctx=ctx,
            results=results,
            cls=cls,
            provisional=provisional,
            confirm_on=confirm_on,
            confirmed=confirmed,
            missing=missing,
        ),
        citation=_citation_for(rules, cls, ctx),
        inputs_used=inputs,
        inputs_missing=_union([missing, (waiting,) if waiting else ()]),
    )
    return ResponseResult(
        criteria=rules.criteria,
        date=_day(current.date),
        category=category,
        decision=decision,
        criteria_results=tuple(results[r.id] for r in rules.rows),
        category_outcomes=MappingProxyType({c: t[0] for c, t in cls.statuses.items()}),
        by_compartment=MappingProxyType(_compartments(rules, results, ctx)),
        mrd=mrd_status(current.mrd),
        provisional=provisional,
        confirm_on_or_after=confirm_on,
        confirmed_category=confirmed,
    )


def _duration(
    rules: ResponseRuleSet, ctx: _Ctx, category: ResponseCategory
) -> tuple[bool, dt.date | None, ResponseCategory | None]:
    """(provisional, confirm on or after, best category already sustained)."""
    assert rules.duration is not None
    months = rules.duration.months
    raw = [
        _raw_category(rules, _Ctx(ctx.baseline, p, None, ctx.previous[:i]))
        for i, p in enumerate(ctx.previous)
    ]
    now = _day(ctx.current.date)

    def run_start(target: ResponseCategory) -> dt.date:
        start = now
        for i in range(len(raw) - 1, -1, -1):
            if _RANK[raw[i]] < _RANK[target]:
                break
            start = _day(ctx.previous[i].date)
        return start

    confirmed = None
    for candidate in _LADDER:
        if candidate not in rules.duration.categories or _RANK[candidate] > _RANK[category]:
            continue
        if _add_months(run_start(candidate), months) <= now:
            confirmed = candidate
            break
    if confirmed is category:
        return False, None, confirmed
    return True, _add_months(run_start(category), months), confirmed


def assess_series(
    baseline: Assessment,
    assessments: Iterable[Assessment],
    criteria: ResponseCriteria | str,
) -> tuple[ResponseResult, ...]:
    """Judge every assessment of a course in date order, each with the earlier ones as
    ``previous`` (duration confirmation, iwCLL 2018 nadir). See :func:`assess_response`."""
    ordered = sorted(assessments, key=lambda a: _day(a.date))
    return tuple(
        assess_response(baseline, a, criteria, previous=ordered[:i]) for i, a in enumerate(ordered)
    )

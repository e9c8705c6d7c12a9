"""Toxicity grading: CTCAE v5.0 and the iwCLL 2008 haematological scale.

Pure functions over the shipped grading tables (:func:`cllcds.knowledge.grading_table`). Each
returns a :class:`GradeResult` whose :class:`~cllcds.domain.Decision` says the grade (or why
there is none), the band of the table that matched, the citation (source id, locator, the
source's words for the band, rule-set version) and the inputs used and missing.

Scales
------
``ToxicityScale.CTCAE_5``
    Absolute counts against the CTCAE v5.0 bands (source C1, a third-party transcription; ANC
    cross-checked with C2). Grade 1 needs the lower limit of normal (LLN), which is
    institution-specific: the default comes from ``lln-defaults.yaml`` and can be overridden.
``ToxicityScale.IWCLL_2008_HAEM``
    iwCLL 2008 Table 5 (G4): platelets and Hb graded by their fall from the pre-treatment value,
    ANC by absolute bands, with the footnote rules (platelets < 20 × 10^9/L = grade 4 unless the
    baseline was already that low; ANC not evaluable when the baseline was < 1.0 × 10^9/L;
    platelets / Hb must be below normal for grades 1-4; Hb before any transfusion; WBC and
    lymphocyte falls are not graded).

Examples
--------
>>> from cllcds.domain import LabResult, ToxicityScale
>>> r = grade(LabResult.of("ANC", 700, "/uL"), ToxicityScale.CTCAE_5)
>>> int(r.grade), r.band.text.split(";")[0]
(3, '<1000 - 500/mm3')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from cllcds.domain import (
    Citation,
    CmvReactivationFeature,
    Decision,
    DecisionStatus,
    Grade,
    InfusionReactionFeature,
    InputError,
    LabCode,
    LabResult,
    ToxicityScale,
    ToxicityTerm,
    from_canonical,
)
from cllcds.domain._decision import make_decision
from cllcds.knowledge import (
    FootnoteKind,
    GradeBand,
    GradingMode,
    LabGrading,
    grading_table,
    lln_defaults,
)

__all__ = [
    "FALL_DECIMALS",
    "TEMPERATURE_MAX_C",
    "TEMPERATURE_MIN_C",
    "GradeResult",
    "NotEvaluable",
    "grade",
    "grade_cmv_reactivation",
    "grade_febrile_neutropenia",
    "grade_fever",
    "grade_infusion_reaction",
]

FALL_DECIMALS = 9
"""Decimals kept when a fall is computed in %: removes binary floating-point noise so that a
fall of exactly 25 % (e.g. 200 → 150) compares as 25, not 24.999999999999996."""

TEMPERATURE_MIN_C = 25.0
"""Lowest body temperature accepted as an input (below: a unit or entry error)."""
TEMPERATURE_MAX_C = 45.0
"""Highest body temperature accepted as an input (above: a unit error, e.g. °F)."""


class NotEvaluable(Enum):
    """Why a grading decision has no grade."""

    BASELINE_TOO_LOW = "baseline-too-low"
    """iwCLL 2008 Table 5: the pre-treatment value was already that low."""
    NOT_GRADED = "not-graded"
    """The scale does not grade this lab (iwCLL: WBC and lymphocytes; CD4)."""
    MISSING_INPUT = "missing-input"
    """An input the scale needs is missing (see ``inputs_missing``)."""


@dataclass(frozen=True, slots=True)
class GradeResult:
    """The grade of one lab or event on one scale, with its decision.

    Attributes
    ----------
    term
        What was graded.
    scale
        The scale (with its version in the enum's name).
    grade
        Grade 0-5, or ``None`` when not evaluable (``not_evaluable`` says why).
    not_evaluable
        Why there is no grade, if there is none.
    band
        The table row that matched (``None`` for grade 0 above the LLN, for a footnote rule or
        for a descriptor grade).
    decision
        Outcome (the grade or the reason), status, rationale, citation, inputs.
    notes
        Things the scale asks to record that do not change the grade (G-CSF, erythropoietin),
        and grades the value cannot set (CTCAE anaemia grades 4-5).
    """

    term: ToxicityTerm
    scale: ToxicityScale
    grade: Grade | None
    not_evaluable: NotEvaluable | None
    band: GradeBand | None
    decision: Decision[Grade | NotEvaluable]
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> DecisionStatus:
        """The decision's status."""
        return self.decision.status

    @property
    def rationale(self) -> str:
        """One clinician-facing sentence."""
        return self.decision.rationale

    @property
    def citation(self) -> Citation:
        """Source id + locator + rule-set version of the rule applied."""
        return self.decision.citation

    @property
    def inputs_missing(self) -> tuple[str, ...]:
        """Inputs the scale needed but did not get."""
        return self.decision.inputs_missing


def _fmt(lab: LabCode, value: float) -> str:
    unit = _UNIT_TEXT.get(lab)
    if unit is None:
        unit = _UNIT_TEXT[lab] = lab.canonical_unit.display
    return f"{value:.4g} {unit}"


_UNIT_TEXT: dict[LabCode, str] = {}
"""Each lab's canonical unit as printed (looked up once per lab)."""


def _result(
    grading: LabGrading,
    outcome: Grade | NotEvaluable,
    *,
    status: DecisionStatus,
    rationale: str,
    citation: Citation,
    inputs: Mapping[str, object],
    band: GradeBand | None = None,
    missing: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> GradeResult:
    decision: Decision[Grade | NotEvaluable] = make_decision(
        f"grade.{grading.scale._value_}.{grading.lab._value_}",
        outcome,
        status,
        rationale,
        citation,
        inputs,
        missing,
    )
    return GradeResult(
        term=grading.term,
        scale=grading.scale,
        grade=outcome if isinstance(outcome, Grade) else None,
        not_evaluable=outcome if isinstance(outcome, NotEvaluable) else None,
        band=band,
        decision=decision,
        notes=notes,
    )


def _band_for(bands: Iterable[GradeBand], x: float, lln: float | None) -> GradeBand:
    for band in bands:
        if band.contains(x, lln):
            return band
    raise AssertionError(
        f"no band contains {x}: the table should tile the line"
    )  # pragma: no cover


def _with_quote(citation: Citation, quote: str) -> Citation:
    key = (citation, quote)
    quoted = _QUOTED.get(key)
    if quoted is None:
        quoted = _QUOTED[key] = dataclasses.replace(citation, quote=quote)
    return quoted


_QUOTED: dict[tuple[Citation, str], Citation] = {}
"""The citations of the table rows with the quote of a band (a citation is frozen: one per
row and band is made, the bands and rows being those of the shipped tables)."""


def grade(
    lab: LabResult,
    scale: ToxicityScale | str,
    baseline: LabResult | None = None,
    lln: LabResult | None = None,
    *,
    transfused: bool = False,
    growth_factor: bool | None = None,
    erythropoietin: bool | None = None,
) -> GradeResult:
    """Grade a lab value on a toxicity scale.

    CTCAE v5.0 (C1): the band whose interval holds the value; grade 0 at or above the LLN.
    Band semantics as printed: "<1000 - 500/mm3" is 500 ≤ ANC < 1000.

    iwCLL 2008 Table 5 (G4): for platelets and Hb the fall from the pre-treatment value,
    ``fall % = (baseline - value) / baseline × 100``, with grade 0 ≤ 10 %, grade 1 above 10 and
    below 25 %, grade 2 25-49 %, grade 3 50-74 %, grade 4 ≥ 75 % (a rise is "no change"); the
    ANC by absolute bands (≥ 2000, 1500-1999, 1000-1499, 500-999, < 500 /µL). Footnotes:
    platelets < 20 × 10^9/L are grade 4 unless the baseline was below 20 (then not evaluable);
    a baseline ANC < 1.0 × 10^9/L makes the ANC not evaluable; platelets and Hb must be below
    normal (the LLN) for grades 1-4; Hb must be measured before any transfusion; WBC and
    lymphocyte falls are not graded.

    Parameters
    ----------
    lab
        The value to grade (canonical units; make it with :meth:`LabResult.of`).
    scale
        :class:`~cllcds.domain.ToxicityScale` or its id (``ctcae-5``, ``iwcll-2008-haem``).
    baseline
        Pre-treatment value of the same lab (needed by the iwCLL scale; ignored by CTCAE).
    lln
        Lower limit of normal for this lab; default: the configurable institution default
        (:func:`cllcds.knowledge.lln_defaults`). Used for CTCAE grade 1 and the iwCLL
        "below normal" rule.
    transfused
        The Hb was measured after a transfusion (iwCLL: then it cannot be graded).
    growth_factor, erythropoietin
        Recorded with the result (iwCLL asks for it; the grade does not change).

    Returns
    -------
    GradeResult
        Grade 0-4, or not evaluable with the reason; the decision's status is ``DECIDED``,
        ``INDETERMINATE`` (an input missing) or ``NOT_APPLICABLE`` (not graded on the scale, or
        the patient is not evaluable for this lab).

    Raises
    ------
    InputError
        For an unknown scale, or a baseline / LLN of another lab.

    References
    ----------
    C1 (CTCAE v5.0 transcription), C2 (ANC cross-check), G4 (iwCLL 2008 Table 5).
    """
    if not isinstance(scale, ToxicityScale):
        scale = ToxicityScale.parse(scale)
    code = lab.code
    for name, other in (("baseline", baseline), ("lln", lln)):
        if other is not None and other.code is not code:
            raise InputError(name, other.code.value, f"give a {code.value} value")
    table = grading_table(scale)
    grading = table.labs.get(code)
    lln_result = lln if lln is not None else lln_defaults().get(code)
    lln_value = lln_result.value if lln_result is not None else 0.0
    inputs: dict[str, object] = {
        code._value_: lab.value,
        "unit": code.canonical_unit._value_,  # lab.unit
        "lln": lln_value,
    }
    if not lab.code.graded:
        raise InputError(
            "lab", lab.code.value, "grade a blood count or CD4; creatinine is used for CrCl only"
        )
    if grading is None:
        term = ToxicityTerm.for_lab(lab.code)
        decision: Decision[Grade | NotEvaluable] = Decision(
            rule=f"grade.{scale.value}.{lab.code.value}",
            outcome=NotEvaluable.NOT_GRADED,
            status=DecisionStatus.NOT_APPLICABLE,
            rationale=f"The {scale.label} does not grade {lab.code.display}.",
            citation=Citation(table.source, table.title, rule_set=scale.value),
            inputs_used=inputs,
        )
        return GradeResult(term, scale, None, NotEvaluable.NOT_GRADED, None, decision)
    if scale is ToxicityScale.CTCAE_5:
        return _grade_ctcae(grading, lab, lln_value, inputs, baseline is not None)
    if baseline is not None:
        inputs["baseline"] = baseline.value
    return _grade_iwcll(
        grading,
        lab,
        baseline,
        lln_value,
        inputs,
        transfused=transfused,
        growth_factor=growth_factor,
        erythropoietin=erythropoietin,
    )


def _grade_ctcae(
    grading: LabGrading,
    lab: LabResult,
    lln: float,
    inputs: Mapping[str, object],
    baseline_given: bool,
) -> GradeResult:
    notes: list[str] = []
    if baseline_given:
        notes.append("CTCAE grades the value itself; the baseline was not used.")
    clinical = [f"grade {int(g)}: {text}" for g, text in grading.clinical_grades]
    if clinical:
        notes.append(
            f"{grading.name} grades the value cannot set (clinical judgement): "
            + "; ".join(clinical)
            + "."
        )
    value = _fmt(lab.code, lab.value)
    si = grading.si_bands.get(lab.reported_unit) if lab.reported_unit is not None else None
    if si is not None and lab.reported_unit is not None and lab.reported_value is not None:
        # The source's own cut-offs in the reported unit (CTCAE Hb in mmol/L).
        unit = lab.reported_unit
        x, bound = lab.reported_value, from_canonical(lab.code, lln, unit)
        value = f"{x:.4g} {unit.display}"
        lln_text = f"{bound:.4g} {unit.display}"
        notes.append(f"Graded on the CTCAE cut-offs printed in {unit.value}.")
    else:
        si = grading.bands
        x, bound, lln_text = lab.value, lln, _fmt(lab.code, lln)
    if x >= bound:
        return _result(
            grading,
            Grade.G0,
            status=DecisionStatus.DECIDED,
            rationale=(
                f"CTCAE v5.0 {grading.name}: grade 0, {lab.code._value_} {value} is not below "
                f"the LLN ({lln_text})."
            ),
            citation=grading.citation,
            inputs=inputs,
            notes=tuple(notes),
        )
    band = _band_for(si, x, bound)
    return _result(
        grading,
        band.grade,
        status=DecisionStatus.DECIDED,
        rationale=f"CTCAE v5.0 {grading.name}: grade {int(band.grade)}, {lab.code._value_} {value} "
        f"({band.text.split(';')[0]}).",
        citation=_with_quote(grading.citation, band.text),
        inputs=inputs,
        band=band,
        notes=tuple(notes),
    )


def _grade_iwcll(
    grading: LabGrading,
    lab: LabResult,
    baseline: LabResult | None,
    lln: float,
    inputs: dict[str, object],
    *,
    transfused: bool,
    growth_factor: bool | None,
    erythropoietin: bool | None,
) -> GradeResult:
    code = lab.code.value
    if grading.mode is GradingMode.NOT_GRADED:
        note = grading.footnote(FootnoteKind.NOT_GRADED)
        return _result(
            grading,
            NotEvaluable.NOT_GRADED,
            status=DecisionStatus.NOT_APPLICABLE,
            rationale=(
                f"iwCLL 2008 Table 5 does not grade a fall in {lab.code.display}: in CLL it is "
                "the intended effect of treatment."
            ),
            citation=note.citation if note is not None else grading.citation,
            inputs=inputs,
        )
    notes: list[str] = []
    for kind, flag, what in (
        (FootnoteKind.RECORD_GROWTH_FACTOR, growth_factor, "G-CSF"),
        (FootnoteKind.RECORD_ERYTHROPOIETIN, erythropoietin, "Erythropoietin"),
    ):
        if grading.footnote(kind) is not None:
            inputs[what.lower()] = flag
            state = "not recorded" if flag is None else ("given" if flag else "not given")
            notes.append(f"{what} {state}: it does not change the grade but must be documented.")
    pre_transfusion = grading.footnote(FootnoteKind.PRE_TRANSFUSION)
    if pre_transfusion is not None:
        inputs["transfused"] = transfused
        if transfused:
            return _result(
                grading,
                NotEvaluable.MISSING_INPUT,
                status=DecisionStatus.INDETERMINATE,
                rationale=(
                    f"iwCLL 2008: {code} measured after a transfusion cannot be graded; give a "
                    "pre-transfusion value."
                ),
                citation=pre_transfusion.citation,
                inputs=inputs,
                missing=(f"pre-transfusion {code}",),
                notes=tuple(notes),
            )
    if baseline is None:
        return _result(
            grading,
            NotEvaluable.MISSING_INPUT,
            status=DecisionStatus.INDETERMINATE,
            rationale=(
                f"iwCLL 2008 grades {code} against the pre-treatment value, which is missing."
            ),
            citation=grading.citation,
            inputs=inputs,
            missing=(f"baseline {code}",),
            notes=tuple(notes),
        )
    too_low = grading.footnote(FootnoteKind.NOT_EVALUABLE_IF_BASELINE_BELOW)
    if too_low is not None and too_low.value is not None and baseline.value < too_low.value:
        return _result(
            grading,
            NotEvaluable.BASELINE_TOO_LOW,
            status=DecisionStatus.NOT_APPLICABLE,
            rationale=(
                f"iwCLL 2008: not evaluable for {lab.code.display} toxicity, the pre-treatment "
                f"{code} ({_fmt(lab.code, baseline.value)}) was already below "
                f"{_fmt(lab.code, too_low.value)}."
            ),
            citation=too_low.citation,
            inputs=inputs,
            notes=tuple(notes),
        )
    value = _fmt(lab.code, lab.value)
    if grading.mode is GradingMode.ABSOLUTE:
        band = _band_for(grading.bands, lab.value, lln)
        return _result(
            grading,
            band.grade,
            status=DecisionStatus.DECIDED,
            rationale=(
                f"iwCLL 2008 {grading.name}: grade {int(band.grade)}, {code} {value} ({band.text})."
            ),
            citation=_with_quote(grading.citation, band.text),
            inputs=inputs,
            band=band,
            notes=tuple(notes),
        )
    floor = grading.footnote(FootnoteKind.GRADE_4_BELOW)
    if floor is not None and floor.value is not None and lab.value < floor.value:
        return _result(
            grading,
            Grade.G4,
            status=DecisionStatus.DECIDED,
            rationale=(
                f"iwCLL 2008: grade 4, {code} {value} is below {_fmt(lab.code, floor.value)} "
                "at any level of decrease."
            ),
            citation=floor.citation,
            inputs=inputs,
            notes=tuple(notes),
        )
    below_normal = grading.footnote(FootnoteKind.BELOW_NORMAL_REQUIRED)
    if below_normal is not None and lab.value >= lln:
        return _result(
            grading,
            Grade.G0,
            status=DecisionStatus.DECIDED,
            rationale=f"iwCLL 2008: grade 0, {code} {value} is not below normal "
            f"(LLN {_fmt(lab.code, lln)}); grades 1-4 need a value below normal.",
            citation=below_normal.citation,
            inputs=inputs,
            notes=tuple(notes),
        )
    fall = round((baseline.value - lab.value) / baseline.value * 100.0, FALL_DECIMALS)
    inputs["fall_pct"] = fall
    band = _band_for(grading.bands, fall, None)
    return _result(
        grading,
        band.grade,
        status=DecisionStatus.DECIDED,
        rationale=f"iwCLL 2008: grade {int(band.grade)}, {code} fell {max(fall, 0.0):.4g} % from "
        f"{_fmt(lab.code, baseline.value)} to {value} ({band.text}).",
        citation=_with_quote(grading.citation, band.text),
        inputs=inputs,
        band=band,
        notes=tuple(notes),
    )


def _grade_descriptors(
    term: ToxicityTerm,
    features: Iterable[Enum | str],
    enum: type[Enum],
    scale: ToxicityScale,
) -> GradeResult:
    table = grading_table(scale)
    grading = table.descriptors.get(term)
    rule = f"grade.{scale.value}.{term.value}"
    parsed = []
    for f in features:
        try:
            parsed.append(f if isinstance(f, enum) else enum(f))
        except ValueError:
            valid = ", ".join(str(m.value) for m in enum)
            raise InputError("features", f, f"use one of: {valid}") from None
    if grading is None:
        decision: Decision[Grade | NotEvaluable] = Decision(
            rule=rule,
            outcome=NotEvaluable.NOT_GRADED,
            status=DecisionStatus.NOT_APPLICABLE,
            rationale=f"The {scale.label} does not grade {term.value}.",
            citation=Citation(table.source, table.title, rule_set=scale.value),
        )
        return GradeResult(term, scale, None, NotEvaluable.NOT_GRADED, None, decision)
    inputs = {"features": tuple(str(f.value) for f in parsed)}
    if not parsed:
        decision = Decision(
            rule=rule,
            outcome=NotEvaluable.MISSING_INPUT,
            status=DecisionStatus.INDETERMINATE,
            rationale=f"CTCAE v5.0 {grading.name}: no descriptor given, so no grade.",
            citation=grading.citation,
            inputs_used=inputs,
            inputs_missing=("features",),
        )
        return GradeResult(term, scale, None, NotEvaluable.MISSING_INPUT, None, decision)
    worst = max(parsed, key=lambda f: grading.feature_grades[f])
    g = grading.feature_grades[worst]
    descriptor = grading.descriptor(g)
    decision = Decision(
        rule=rule,
        outcome=g,
        status=DecisionStatus.DECIDED,
        rationale=f"CTCAE v5.0 {grading.name}: grade {int(g)} ({descriptor.text.split(';')[0]}).",
        citation=_with_quote(grading.citation, descriptor.text),
        inputs_used=inputs,
    )
    return GradeResult(term, scale, g, None, None, decision)


def grade_infusion_reaction(
    features: Iterable[InfusionReactionFeature | str],
    scale: ToxicityScale | str = ToxicityScale.CTCAE_5,
) -> GradeResult:
    """Grade an infusion-related reaction from its descriptors (CTCAE v5.0, C1).

    The grade is the highest grade any descriptor belongs to: grade 1 mild transient reaction;
    grade 2 interruption indicated but prompt response to symptomatic treatment, or prophylaxis
    ≤ 24 h; grade 3 prolonged, recurrence after improvement, or hospitalisation for sequelae;
    grade 4 life-threatening; grade 5 death.

    Examples
    --------
    >>> int(grade_infusion_reaction(["interruption-prompt-response"]).grade)
    2
    """
    return _grade_descriptors(
        ToxicityTerm.INFUSION_REACTION,
        features,
        InfusionReactionFeature,
        ToxicityScale.parse(scale),
    )


def grade_cmv_reactivation(
    features: Iterable[CmvReactivationFeature | str],
    scale: ToxicityScale | str = ToxicityScale.CTCAE_5,
) -> GradeResult:
    """Grade cytomegalovirus infection reactivation from its descriptors (CTCAE v5.0, C1).

    Grade 1 asymptomatic or mild; grade 2 moderate, medical intervention; grade 3 severe,
    hospitalisation or IV intervention; grade 4 life-threatening or blindness; grade 5 death.
    """
    return _grade_descriptors(
        ToxicityTerm.CMV_REACTIVATION,
        features,
        CmvReactivationFeature,
        ToxicityScale.parse(scale),
    )


def _check_temperature(field: str, value: float | None) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not TEMPERATURE_MIN_C <= value <= TEMPERATURE_MAX_C
    ):
        raise InputError(
            field,
            value,
            f"give the body temperature in °C ({TEMPERATURE_MIN_C:g}-{TEMPERATURE_MAX_C:g}); "
            "convert °F with (F - 32) / 1.8",
        )


def _check_hours(field: str, value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InputError(field, value, "give a duration in hours, 0 or more")


def grade_fever(temperature_c: float, hours_above_40_c: float | None = None) -> GradeResult:
    """Grade fever (CTCAE v5.0, C1): 38.0-39.0 °C grade 1; > 39.0-40.0 grade 2; > 40.0 °C for
    ≤ 24 h grade 3, for > 24 h grade 4. Below 38.0 °C: grade 0.

    Above 40.0 °C without ``hours_above_40_c`` the result is grade 3 with status
    ``INDETERMINATE`` (grade 4 cannot be excluded).
    """
    _check_temperature("temperature_c", temperature_c)
    _check_hours("hours_above_40_c", hours_above_40_c)
    scale = ToxicityScale.CTCAE_5
    fever = grading_table(scale).fever
    assert fever is not None, "ctcae-5.yaml defines fever"
    rule = f"grade.{scale.value}.{ToxicityTerm.FEVER.value}"
    inputs = {"temperature_c": temperature_c, "hours_above_40_c": hours_above_40_c}

    def result(
        g: Grade, status: DecisionStatus, why: str, band: GradeBand | None, missing: tuple[str, ...]
    ) -> GradeResult:
        citation = _with_quote(fever.citation, band.text) if band else fever.citation
        decision: Decision[Grade | NotEvaluable] = Decision(
            rule, g, status, why, citation, inputs, missing
        )
        return GradeResult(ToxicityTerm.FEVER, scale, g, None, band, decision)

    matching = [b for b in fever.bands if b.contains(temperature_c)]
    if not matching:
        return result(
            Grade.G0,
            DecisionStatus.DECIDED,
            f"CTCAE v5.0 Fever: grade 0, {temperature_c:g} °C is below 38.0 °C.",
            None,
            (),
        )
    timed = [b for b in matching if b.hours_gt is not None or b.hours_le is not None]
    if not timed:
        band = matching[0]
        return result(
            band.grade,
            DecisionStatus.DECIDED,
            f"CTCAE v5.0 Fever: grade {int(band.grade)}, {temperature_c:g} °C ({band.text}).",
            band,
            (),
        )
    if hours_above_40_c is None:
        low = min(timed, key=lambda b: b.grade)
        return result(
            low.grade,
            DecisionStatus.INDETERMINATE,
            f"CTCAE v5.0 Fever: at least grade {int(low.grade)} at {temperature_c:g} °C; the "
            "time above 40.0 °C decides between grades 3 and 4.",
            low,
            ("hours_above_40_c",),
        )
    for band in timed:
        if (band.hours_gt is None or hours_above_40_c > band.hours_gt) and (
            band.hours_le is None or hours_above_40_c <= band.hours_le
        ):
            return result(
                band.grade,
                DecisionStatus.DECIDED,
                f"CTCAE v5.0 Fever: grade {int(band.grade)}, {temperature_c:g} °C for "
                f"{hours_above_40_c:g} h ({band.text}).",
                band,
                (),
            )
    raise AssertionError("fever bands must cover every duration")  # pragma: no cover


def grade_febrile_neutropenia(
    anc: LabResult,
    *,
    max_temperature_c: float | None,
    hours_at_or_above_38_c: float | None = None,
    life_threatening: bool = False,
    died: bool = False,
) -> GradeResult:
    """Febrile neutropenia per CTCAE v5.0 (C1).

    Definition: ANC < 1000/mm³ with a single temperature > 38.3 °C or a sustained temperature
    ≥ 38 °C for more than one hour. Present → grade 3; with life-threatening consequences →
    grade 4; death → grade 5. Absent → grade 0.

    Parameters
    ----------
    anc
        The neutrophil count at the time of the fever.
    max_temperature_c
        Highest single temperature reading, °C.
    hours_at_or_above_38_c
        How long the temperature stayed at or above 38.0 °C, hours.
    life_threatening, died
        Clinical consequences (grades 4 and 5).
    """
    if anc.code is not LabCode.ANC:
        raise InputError("anc", anc.code.value, "give an ANC result")
    _check_temperature("max_temperature_c", max_temperature_c)
    _check_hours("hours_at_or_above_38_c", hours_at_or_above_38_c)
    scale = ToxicityScale.CTCAE_5
    rule_data = grading_table(scale).febrile_neutropenia
    assert rule_data is not None, "ctcae-5.yaml defines febrile neutropenia"
    rule = f"grade.{scale.value}.{ToxicityTerm.FEBRILE_NEUTROPENIA.value}"
    inputs = {
        "ANC": anc.value,
        "max_temperature_c": max_temperature_c,
        "hours_at_or_above_38_c": hours_at_or_above_38_c,
        "life_threatening": life_threatening,
        "died": died,
    }

    def result(
        g: Grade | NotEvaluable, status: DecisionStatus, why: str, missing: tuple[str, ...] = ()
    ) -> GradeResult:
        quote = rule_data.descriptor(g).text if isinstance(g, Grade) and g >= Grade.G3 else ""
        citation = _with_quote(rule_data.citation, quote) if quote else rule_data.citation
        decision: Decision[Grade | NotEvaluable] = Decision(
            rule, g, status, why, citation, inputs, missing
        )
        return GradeResult(
            ToxicityTerm.FEBRILE_NEUTROPENIA,
            scale,
            g if isinstance(g, Grade) else None,
            g if isinstance(g, NotEvaluable) else None,
            None,
            decision,
        )

    anc_text = _fmt(LabCode.ANC, anc.value)
    if anc.value >= rule_data.anc_below_10e9_per_l:
        return result(
            Grade.G0,
            DecisionStatus.DECIDED,
            f"Not febrile neutropenia: ANC {anc_text} is not below "
            f"{_fmt(LabCode.ANC, rule_data.anc_below_10e9_per_l)}.",
        )
    single = (
        None
        if max_temperature_c is None
        else max_temperature_c > rule_data.single_temperature_above_c
    )
    sustained = (
        None
        if hours_at_or_above_38_c is None
        else hours_at_or_above_38_c > rule_data.sustained_longer_than_h
    )
    if single or sustained:
        g = Grade.G5 if died else Grade.G4 if life_threatening else Grade.G3
        return result(
            g,
            DecisionStatus.DECIDED,
            f"CTCAE v5.0 Febrile neutropenia grade {int(g)}: ANC {anc_text} with "
            + (
                f"a temperature of {max_temperature_c:g} °C"
                if single
                else f"≥ {rule_data.sustained_temperature_at_least_c:g} °C for "
                f"{hours_at_or_above_38_c:g} h"
            )
            + ".",
        )
    if single is False and sustained is False:
        return result(
            Grade.G0,
            DecisionStatus.DECIDED,
            f"Not febrile neutropenia: ANC {anc_text} but no temperature above "
            f"{rule_data.single_temperature_above_c:g} °C and none ≥ "
            f"{rule_data.sustained_temperature_at_least_c:g} °C for more than "
            f"{rule_data.sustained_longer_than_h:g} h.",
        )
    missing = tuple(
        name
        for name, known in (
            ("max_temperature_c", single is not None),
            ("hours_at_or_above_38_c", sustained is not None),
        )
        if not known
    )
    return result(
        NotEvaluable.MISSING_INPUT,
        DecisionStatus.INDETERMINATE,
        f"ANC {anc_text} is below {_fmt(LabCode.ANC, rule_data.anc_below_10e9_per_l)}; "
        "febrile neutropenia needs the temperature record to decide.",
        missing,
    )

"""Toxicity grading tables as data: CTCAE v5.0 and the iwCLL 2008 haematological scale.

Files (inside the package, ``cllcds/knowledge/data/grading``):

``ctcae-5.yaml``
    CTCAE v5.0 bands for the blood counts (with ``LLN`` as the grade-1 upper bound), the
    descriptor grades of infusion-related reaction and CMV reactivation, fever and febrile
    neutropenia. Source C1 (a third-party transcription; ANC cross-checked with C2).
``iwcll-2008-haematological.yaml``
    iwCLL 2008 Table 5 (G4): falls of platelets / Hb from the pre-treatment value, ANC bands,
    and the footnote rules.
``lln-defaults.yaml``
    Lower limits of normal: institution-specific configurable defaults, not rules.

Every band carries the source's own words for its grade. Bounds are converted once, here, to the
canonical unit of the lab (:func:`cllcds.domain.to_canonical`), and the bands of each lab are
checked to be contiguous and non-overlapping when the table is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from itertools import pairwise
from typing import Any

from cllcds.domain import (
    Citation,
    CmvReactivationFeature,
    Grade,
    InfusionReactionFeature,
    InputError,
    KnowledgeError,
    LabCode,
    LabResult,
    LabUnit,
    ToxicityScale,
    ToxicityTerm,
    to_canonical,
)

from ._files import Record, data_root, load_yaml

GRADING_FOLDER = "grading"
LLN = "LLN"
"""The token a band uses for the lower limit of normal."""

_FILES: Mapping[ToxicityScale, str] = {
    ToxicityScale.CTCAE_5: "ctcae-5.yaml",
    ToxicityScale.IWCLL_2008_HAEM: "iwcll-2008-haematological.yaml",
}


class GradingMode(Enum):
    """How a scale grades a lab."""

    ABSOLUTE = "absolute"
    """By the value itself (CTCAE; iwCLL ANC)."""
    RELATIVE_FALL = "relative-fall"
    """By the fall from the pre-treatment value, % of that value (iwCLL platelets and Hb)."""
    NOT_GRADED = "not-graded"
    """The scale says this lab is not graded (iwCLL WBC and lymphocytes)."""


class FootnoteKind(Enum):
    """Footnote rules of a grading table (iwCLL 2008 Table 5)."""

    BELOW_NORMAL_REQUIRED = "below-normal-required"
    """Grades 1-4 need the value below the lower limit of normal."""
    GRADE_4_BELOW = "grade-4-below"
    """Any value below ``value`` is grade 4."""
    NOT_EVALUABLE_IF_BASELINE_BELOW = "not-evaluable-if-baseline-below"
    """A pre-treatment value below ``value`` makes the patient not evaluable for this lab."""
    PRE_TRANSFUSION = "pre-transfusion"
    """The value must be measured before any transfusion."""
    RECORD_ERYTHROPOIETIN = "record-erythropoietin"
    """Erythropoietin does not change the grade but must be recorded."""
    RECORD_GROWTH_FACTOR = "record-growth-factor"
    """G-CSF does not change the grade but must be recorded."""
    NOT_GRADED = "not-graded"
    """The lab is not graded on this scale."""


@dataclass(frozen=True, slots=True)
class GradeBand:
    """One row of a grading table: the interval of the graded quantity that gives ``grade``.

    The graded quantity is the lab value in its canonical unit (absolute mode), the fall in %
    of the pre-treatment value (relative mode) or the temperature in °C (fever). ``upper_is_lln``
    makes the upper bound the lower limit of normal, given at grading time.
    """

    grade: Grade
    text: str
    lower: float | None = None
    lower_inclusive: bool = True
    upper: float | None = None
    upper_inclusive: bool = False
    upper_is_lln: bool = False
    hours_gt: float | None = None
    """Only for a duration condition (fever): more than this many hours."""
    hours_le: float | None = None
    """Only for a duration condition (fever): at most this many hours."""

    def contains(self, x: float, lln: float | None = None) -> bool:
        """Whether ``x`` falls in the band (``lln`` is needed when the upper bound is LLN)."""
        upper = lln if self.upper_is_lln else self.upper
        if self.upper_is_lln and lln is None:
            raise ValueError("this band's upper bound is the LLN: pass lln")
        if self.lower is not None and (
            x < self.lower or (x == self.lower and not self.lower_inclusive)
        ):
            return False
        return not (upper is not None and (x > upper or (x == upper and not self.upper_inclusive)))

    def interval(self, unit: str, lln: float | None = None) -> str:
        """The band as an interval, e.g. ``1 <= x < 1.5 10*9/L``."""
        parts = []
        if self.lower is not None:
            parts.append(f"{self.lower:g} {'<=' if self.lower_inclusive else '<'}")
        parts.append("x")
        if self.upper_is_lln:
            bound = f"LLN ({lln:g})" if lln is not None else "LLN"
            parts.append(f"< {bound}")
        elif self.upper is not None:
            parts.append(f"{'<=' if self.upper_inclusive else '<'} {self.upper:g}")
        return " ".join(parts) + (f" {unit}" if unit else "")


@dataclass(frozen=True, slots=True)
class GradingFootnote:
    """A footnote rule with its citation; ``value`` is in the lab's canonical unit."""

    kind: FootnoteKind
    citation: Citation
    value: float | None = None


@dataclass(frozen=True, slots=True)
class LabGrading:
    """How one scale grades one lab."""

    scale: ToxicityScale
    term: ToxicityTerm
    lab: LabCode
    name: str
    """The term or column as the source words it."""
    mode: GradingMode
    citation: Citation
    bands: tuple[GradeBand, ...] = ()
    clinical_grades: tuple[tuple[Grade, str], ...] = ()
    """Grades the value cannot set (CTCAE anaemia 4 and 5), with their descriptors."""
    footnotes: tuple[GradingFootnote, ...] = ()
    si_bands: Mapping[LabUnit, tuple[GradeBand, ...]] = field(default_factory=dict)
    """Bands the source prints in another unit (CTCAE anaemia in mmol/L), bounds in that unit:
    a result reported in that unit is graded on them, not on converted g/dL bounds."""

    def footnote(self, kind: FootnoteKind) -> GradingFootnote | None:
        """The footnote of ``kind``, if the table has one for this lab."""
        for note in self.footnotes:
            if note.kind is kind:
                return note
        return None

    @property
    def quantity_unit(self) -> str:
        """Unit of the graded quantity (``%`` for relative falls)."""
        if self.mode is GradingMode.RELATIVE_FALL:
            return "% fall"
        return self.lab.canonical_unit.value


@dataclass(frozen=True, slots=True)
class DescriptorGrade:
    """A grade given by the source's descriptor text."""

    grade: Grade
    text: str


@dataclass(frozen=True, slots=True)
class DescriptorGrading:
    """A term graded by descriptors (infusion-related reaction, CMV reactivation)."""

    term: ToxicityTerm
    name: str
    citation: Citation
    grades: tuple[DescriptorGrade, ...]
    feature_grades: Mapping[Enum, Grade] = field(default_factory=dict)

    def descriptor(self, grade: Grade) -> DescriptorGrade:
        """The descriptor of ``grade``."""
        for row in self.grades:
            if row.grade is grade:
                return row
        raise KeyError(grade)


@dataclass(frozen=True, slots=True)
class FeverGrading:
    """CTCAE fever bands (temperature in °C, grades 3 and 4 by hours above 40 °C)."""

    name: str
    citation: Citation
    bands: tuple[GradeBand, ...]


@dataclass(frozen=True, slots=True)
class FebrileNeutropeniaRule:
    """CTCAE v5.0 febrile neutropenia definition and grades."""

    name: str
    citation: Citation
    anc_below_10e9_per_l: float
    single_temperature_above_c: float
    sustained_temperature_at_least_c: float
    sustained_longer_than_h: float
    grades: tuple[DescriptorGrade, ...]

    def descriptor(self, grade: Grade) -> DescriptorGrade:
        """The descriptor of ``grade``."""
        for row in self.grades:
            if row.grade is grade:
                return row
        raise KeyError(grade)


@dataclass(frozen=True, slots=True)
class GradingTable:
    """One grading scale as shipped: its labs, descriptor terms and special rules."""

    scale: ToxicityScale
    title: str
    source: str
    caveat: str
    labs: Mapping[LabCode, LabGrading]
    descriptors: Mapping[ToxicityTerm, DescriptorGrading] = field(default_factory=dict)
    fever: FeverGrading | None = None
    febrile_neutropenia: FebrileNeutropeniaRule | None = None
    grade_5: Citation | None = None


_FEATURE_ENUMS: Mapping[ToxicityTerm, type[Enum]] = {
    ToxicityTerm.INFUSION_REACTION: InfusionReactionFeature,
    ToxicityTerm.CMV_REACTIVATION: CmvReactivationFeature,
}


def _enum(rec: Record, key: str, enum: type[Any]) -> Any:
    raw = rec.req(key, (str, int))
    try:
        return enum(raw)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)
        raise KnowledgeError(
            rec.path, f"{rec.where}.{key}: {raw!r} is not one of: {valid}"
        ) from None


def _unit(rec: Record, key: str = "unit") -> LabUnit:
    raw = rec.req(key, str)
    try:
        return LabUnit(raw)
    except ValueError:
        raise KnowledgeError(rec.path, f"{rec.where}.{key}: unknown unit {raw!r}") from None


_BAND_KEYS = {"grade", "text", "gt", "ge", "lt", "le", "hours_gt", "hours_le"}


def _band(path: str, where: str, raw: Any, convert: Any) -> GradeBand:
    """Read a band; ``convert`` maps a bound in the file's unit to the graded quantity."""
    rec = Record(path, where, raw, _BAND_KEYS)
    grade = _enum(rec, "grade", Grade)
    lower_keys = [k for k in ("gt", "ge") if rec.opt(k, (int, float, str)) is not None]
    upper_keys = [k for k in ("lt", "le") if rec.opt(k, (int, float, str)) is not None]
    if len(lower_keys) > 1 or len(upper_keys) > 1:
        raise KnowledgeError(path, f"{where}: give at most one of gt/ge and one of lt/le")
    lower = upper = None
    lower_inclusive, upper_inclusive, upper_is_lln = True, False, False
    if lower_keys:
        lower = convert(rec.req(lower_keys[0], float))
        lower_inclusive = lower_keys[0] == "ge"
    if upper_keys:
        bound = rec.req(upper_keys[0], (float, str))
        upper_inclusive = upper_keys[0] == "le"
        if bound == LLN:
            if upper_inclusive:
                raise KnowledgeError(path, f"{where}: an LLN bound is exclusive (use lt: LLN)")
            upper_is_lln = True
        elif isinstance(bound, str):
            raise KnowledgeError(path, f"{where}: a bound is a number or {LLN!r}, not {bound!r}")
        else:
            upper = convert(bound)
    return GradeBand(
        grade=grade,
        text=rec.req("text", str),
        lower=lower,
        lower_inclusive=lower_inclusive,
        upper=upper,
        upper_inclusive=upper_inclusive,
        upper_is_lln=upper_is_lln,
        hours_gt=rec.opt("hours_gt", float),
        hours_le=rec.opt("hours_le", float),
    )


def _check_contiguous(path: str, where: str, ordered: list[GradeBand]) -> None:
    """Bands ordered from low to high graded quantity must tile the line without gaps."""
    if not ordered:
        raise KnowledgeError(path, f"{where}: no bands")
    if ordered[0].lower is not None and ordered[0].lower > 0:
        raise KnowledgeError(path, f"{where}: the lowest band must reach down to 0")
    for low, high in pairwise(ordered):
        if low.upper_is_lln:
            raise KnowledgeError(path, f"{where}: only the top band may end at LLN")
        if low.upper is None or high.lower is None or low.upper != high.lower:
            raise KnowledgeError(
                path, f"{where}: grades {low.grade} and {high.grade} leave a gap or overlap"
            )
        if low.upper_inclusive == high.lower_inclusive:
            raise KnowledgeError(
                path,
                f"{where}: at {low.upper:g} grades {low.grade} and {high.grade} must split the "
                "boundary (one inclusive, one exclusive)",
            )
    top = ordered[-1]
    if top.upper is not None:
        raise KnowledgeError(path, f"{where}: the highest band must be open above or end at LLN")


def _citation(
    rec: Record, source: str, scale: ToxicityScale, quote: str = "", note: str = ""
) -> Citation:
    notes = " ".join(n for n in (rec.opt("note", str, ""), note) if n)
    return Citation(
        source=source,
        locator=rec.req("locator", str),
        quote=quote,
        note=notes,
        rule_set=scale.value,
    )


_LAB_KEYS = {
    "term", "lab", "name", "mode", "unit", "locator", "bands", "footnotes",
    "clinical_grades", "cross_check", "note", "si_bands",
}  # fmt: skip


def _lab_grading(
    path: str, where: str, raw: Any, *, scale: ToxicityScale, source: str, caveat: str
) -> LabGrading:
    rec = Record(path, where, raw, _LAB_KEYS)
    term = _enum(rec, "term", ToxicityTerm)
    lab = _enum(rec, "lab", LabCode)
    if ToxicityTerm.for_lab(lab) is not term:
        raise KnowledgeError(path, f"{where}: lab {lab.value} is not graded as {term.value}")
    mode = _enum(rec, "mode", GradingMode)
    cross = rec.opt("cross_check", str, "")
    note = " ".join(
        n for n in (caveat, f"Bands cross-checked against {cross}." if cross else "") if n
    )
    citation = _citation(rec, source, scale, note=note)
    bands: tuple[GradeBand, ...] = ()
    if mode is GradingMode.NOT_GRADED:
        if rec.opt("bands", list) is not None:
            raise KnowledgeError(path, f"{where}: a not-graded lab has no bands")
    else:
        if mode is GradingMode.ABSOLUTE:
            unit = _unit(rec)

            def convert(x: float) -> float:
                return to_canonical(lab, x, unit)

        else:
            if rec.opt("unit", str) is not None:
                raise KnowledgeError(path, f"{where}: relative bands are in % (no unit)")

            def convert(x: float) -> float:
                return float(x)

        bands = tuple(
            _band(path, f"{where}.bands[{i}]", b, convert)
            for i, b in enumerate(rec.req("bands", list))
        )
        grades = [b.grade for b in bands]
        if len(set(grades)) != len(grades):
            raise KnowledgeError(path, f"{where}: a grade appears twice")
        # Absolute counts: the worst grade has the lowest values; relative falls: the highest.
        ordered = sorted(bands, key=lambda b: b.grade, reverse=mode is GradingMode.ABSOLUTE)
        _check_contiguous(path, f"{where}.bands", ordered)
    si_bands: dict[LabUnit, tuple[GradeBand, ...]] = {}
    for i, sraw in enumerate(rec.opt("si_bands", list, [])):
        srec = Record(path, f"{where}.si_bands[{i}]", sraw, {"unit", "bands"})
        si_unit = _unit(srec)
        if mode is not GradingMode.ABSOLUTE or si_unit not in lab.accepted_units:
            raise KnowledgeError(
                path, f"{where}.si_bands[{i}]: absolute bands in a {lab.value} unit"
            )
        alt = tuple(
            _band(path, f"{where}.si_bands[{i}].bands[{j}]", b, float)
            for j, b in enumerate(srec.req("bands", list))
        )
        if sorted(b.grade for b in alt) != sorted(b.grade for b in bands):
            raise KnowledgeError(path, f"{where}.si_bands[{i}]: the same grades as bands")
        _check_contiguous(
            path, f"{where}.si_bands[{i}]", sorted(alt, key=lambda b: b.grade, reverse=True)
        )
        si_bands[si_unit] = alt
    footnotes = []
    for i, fraw in enumerate(rec.opt("footnotes", list, [])):
        frec = Record(
            path,
            f"{where}.footnotes[{i}]",
            fraw,
            {"kind", "value", "unit", "locator", "text", "note"},
        )
        kind = _enum(frec, "kind", FootnoteKind)
        value = frec.opt("value", float)
        if value is not None:
            value = to_canonical(lab, value, _unit(frec))
        footnotes.append(
            GradingFootnote(
                kind, _citation(frec, source, scale, quote=frec.req("text", str)), value
            )
        )
    clinical = []
    for i, craw in enumerate(rec.opt("clinical_grades", list, [])):
        crec = Record(path, f"{where}.clinical_grades[{i}]", craw, {"grade", "text"})
        clinical.append((_enum(crec, "grade", Grade), crec.req("text", str)))
    return LabGrading(
        scale=scale,
        term=term,
        lab=lab,
        name=rec.req("name", str),
        mode=mode,
        citation=citation,
        bands=bands,
        si_bands=si_bands,
        clinical_grades=tuple(clinical),
        footnotes=tuple(footnotes),
    )


def _descriptor_grading(
    path: str, where: str, raw: Any, *, scale: ToxicityScale, source: str, caveat: str
) -> DescriptorGrading:
    rec = Record(path, where, raw, {"term", "name", "locator", "note", "grades"})
    term = _enum(rec, "term", ToxicityTerm)
    features_enum = _FEATURE_ENUMS.get(term)
    if features_enum is None:
        raise KnowledgeError(path, f"{where}: {term.value} is not graded by descriptors")
    grades = []
    feature_grades: dict[Enum, Grade] = {}
    for i, graw in enumerate(rec.req("grades", list)):
        grec = Record(path, f"{where}.grades[{i}]", graw, {"grade", "text", "features"})
        grade = _enum(grec, "grade", Grade)
        grades.append(DescriptorGrade(grade, grec.req("text", str)))
        for fraw in grec.req("features", list):
            try:
                feature = features_enum(fraw)
            except ValueError:
                valid = ", ".join(str(m.value) for m in features_enum)
                raise KnowledgeError(
                    path, f"{where}.grades[{i}]: feature {fraw!r} is not one of: {valid}"
                ) from None
            if feature in feature_grades:
                raise KnowledgeError(path, f"{where}: feature {fraw!r} appears twice")
            feature_grades[feature] = grade
    missing = [m.value for m in features_enum if m not in feature_grades]
    if missing:
        raise KnowledgeError(path, f"{where}: features without a grade: {missing}")
    return DescriptorGrading(
        term=term,
        name=rec.req("name", str),
        citation=_citation(rec, source, scale, note=caveat),
        grades=tuple(grades),
        feature_grades=feature_grades,
    )


def _fever(path: str, raw: Any, scale: ToxicityScale, source: str, caveat: str) -> FeverGrading:
    rec = Record(path, "fever", raw, {"name", "locator", "bands"})
    bands = tuple(
        _band(path, f"fever.bands[{i}]", b, float) for i, b in enumerate(rec.req("bands", list))
    )
    return FeverGrading(rec.req("name", str), _citation(rec, source, scale, note=caveat), bands)


def _febrile_neutropenia(
    path: str, raw: Any, scale: ToxicityScale, source: str, caveat: str
) -> FebrileNeutropeniaRule:
    rec = Record(
        path,
        "febrile_neutropenia",
        raw,
        {
            "name", "locator", "anc_below", "unit", "single_temperature_above_c",
            "sustained_temperature_at_least_c", "sustained_longer_than_h", "grades",
        },
    )  # fmt: skip
    grades = []
    for i, graw in enumerate(rec.req("grades", list)):
        grec = Record(path, f"febrile_neutropenia.grades[{i}]", graw, {"grade", "text"})
        grades.append(DescriptorGrade(_enum(grec, "grade", Grade), grec.req("text", str)))
    return FebrileNeutropeniaRule(
        name=rec.req("name", str),
        citation=_citation(rec, source, scale, note=caveat),
        anc_below_10e9_per_l=to_canonical(LabCode.ANC, rec.req("anc_below", float), _unit(rec)),
        single_temperature_above_c=rec.req("single_temperature_above_c", float),
        sustained_temperature_at_least_c=rec.req("sustained_temperature_at_least_c", float),
        sustained_longer_than_h=rec.req("sustained_longer_than_h", float),
        grades=tuple(grades),
    )


@cache
def grading_table(scale: ToxicityScale | str) -> GradingTable:
    """The shipped grading table of ``scale`` (``ctcae-5`` or ``iwcll-2008-haem``).

    Raises
    ------
    InputError
        For an unknown scale (the message lists the valid ones).
    KnowledgeError
        When the shipped file is invalid (a packaging bug).
    """
    scale = ToxicityScale.parse(scale)
    name = _FILES[scale]
    path = f"{GRADING_FOLDER}/{name}"
    doc = Record(
        path,
        "root",
        load_yaml(data_root() / GRADING_FOLDER / name),
        {"scale", "title", "source", "caveat", "labs", "descriptors", "fever",
         "febrile_neutropenia", "grade_5"},
    )  # fmt: skip
    declared = doc.req("scale", str)
    if declared != scale.value:
        raise KnowledgeError(path, f"declares scale {declared!r}, expected {scale.value!r}")
    source = doc.req("source", str)
    caveat = doc.req("caveat", str)
    labs: dict[LabCode, LabGrading] = {}
    for i, raw in enumerate(doc.req("labs", list)):
        grading = _lab_grading(path, f"labs[{i}]", raw, scale=scale, source=source, caveat=caveat)
        if grading.lab in labs:
            raise KnowledgeError(path, f"labs[{i}]: {grading.lab.value} appears twice")
        labs[grading.lab] = grading
    descriptors: dict[ToxicityTerm, DescriptorGrading] = {}
    for i, raw in enumerate(doc.opt("descriptors", list, [])):
        d = _descriptor_grading(
            path, f"descriptors[{i}]", raw, scale=scale, source=source, caveat=caveat
        )
        descriptors[d.term] = d
    fever_raw = doc.opt("fever", dict)
    fn_raw = doc.opt("febrile_neutropenia", dict)
    g5_raw = doc.opt("grade_5", dict)
    grade_5 = None
    if g5_raw is not None:
        g5 = Record(path, "grade_5", g5_raw, {"locator", "text"})
        grade_5 = _citation(g5, source, scale, quote=g5.req("text", str))
    return GradingTable(
        scale=scale,
        title=doc.req("title", str),
        source=source,
        caveat=caveat,
        labs=labs,
        descriptors=descriptors,
        fever=_fever(path, fever_raw, scale, source, caveat) if fever_raw is not None else None,
        febrile_neutropenia=(
            _febrile_neutropenia(path, fn_raw, scale, source, caveat)
            if fn_raw is not None
            else None
        ),
        grade_5=grade_5,
    )


@cache
def lln_defaults() -> Mapping[LabCode, LabResult]:
    """Configurable default lower limits of normal, one per lab (institution-specific).

    These are not rules from any source (see ``lln-defaults.yaml``): pass the laboratory's own
    LLN to :func:`cllcds.rules.grading.grade` where it differs.
    """
    name = "lln-defaults.yaml"
    path = f"{GRADING_FOLDER}/{name}"
    doc = Record(path, "root", load_yaml(data_root() / GRADING_FOLDER / name), {"lln"})
    out: dict[LabCode, LabResult] = {}
    for i, raw in enumerate(doc.req("lln", list)):
        rec = Record(path, f"lln[{i}]", raw, {"lab", "value", "unit", "note"})
        lab = _enum(rec, "lab", LabCode)
        try:
            value = LabResult.of(lab, rec.req("value", float), _unit(rec), field=f"lln[{i}]")
        except InputError as exc:
            raise KnowledgeError(path, str(exc)) from exc
        if lab in out:
            raise KnowledgeError(path, f"lln[{i}]: {lab.value} appears twice")
        out[lab] = value
    missing = [c.value for c in LabCode if c.graded and c not in out]
    if missing:
        raise KnowledgeError(path, f"no default LLN for {missing}")
    return out

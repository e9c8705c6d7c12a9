"""Response criteria as data: NCI-WG 1996, iwCLL 2008 (ASH and PMC versions), iwCLL 2018.

Files (inside the package, ``cllcds/knowledge/data/response``):

``<criteria>.yaml``
    One per :class:`~cllcds.domain.ResponseCriteria` (``nci-wg-1996.yaml``,
    ``iwcll-2008.yaml``, ``iwcll-2008-pmc.yaml``, ``iwcll-2018.yaml``). Each row is one cell of
    the source's response table: its column (CR, PR, PD), its words, its citation and a test over
    a closed vocabulary of measures (:class:`ResponseMeasure`). The combination rules (how many
    group A / B criteria make a PR, CRi, nPR, duration) are data too, each cited.
``mrd.yaml``
    The MRD-negativity threshold.

The row schema is documented at the top of ``nci-wg-1996.yaml``. Everything is validated when
first loaded; a bad file raises :class:`KnowledgeError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, TypeAlias

from cllcds.domain import Citation, KnowledgeError, ResponseCategory, ResponseCriteria

from ._files import Record, data_root, load_yaml

RESPONSE_FOLDER = "response"


class ResponseMeasure(Enum):
    """What a response criterion measures (the closed vocabulary of the data files).

    Absolute measures are read from one assessment (the current one unless the comparison says
    ``at``); change measures compare the current assessment with a reference (``from``:
    baseline, nadir or previous). Percent changes are ``(current - reference) / reference × 100``;
    from a reference of 0 a rise is +∞ (a new finding) and no change is 0.
    """

    NODE_LONG_AXIS_MAX_MM = "node_long_axis_max_mm"
    NODE_SPD_MM2 = "node_spd_mm2"
    LIVER_CM = "liver_cm"
    SPLEEN_CM = "spleen_cm"
    SPLEEN_LENGTH_CM = "spleen_length_cm"
    ALC = "alc_10e9_per_l"
    ANC = "anc_10e9_per_l"
    PLT = "plt_10e9_per_l"
    HGB = "hgb_g_per_dl"
    CLONAL_B = "clonal_b_10e9_per_l"
    MARROW_LYMPHOCYTES_PCT = "marrow_lymphocytes_pct"
    MARROW_CLL_CELLS_PCT = "marrow_cll_cells_pct"
    MARROW_NODULES = "marrow_nodules"
    MARROW_NORMOCELLULAR = "marrow_normocellular"
    MARROW_HYPOCELLULAR = "marrow_hypocellular"
    CONSTITUTIONAL_SYMPTOMS = "constitutional_symptoms"
    TRANSFUSED = "transfused"
    ERYTHROPOIETIN = "erythropoietin"
    GROWTH_FACTOR = "growth_factor"
    """A myeloid growth factor (G-CSF, GM-CSF) given before the neutrophil count (iwCLL 2008:
    neutrophils count "without need for exogenous growth factors")."""
    CYTOPENIA_DUE_TO_CLL = "cytopenia_due_to_cll"
    MARROW_MRD_NEGATIVE = "marrow_mrd_negative"
    """A marrow MRD level below the MRD threshold (< 10^-4, ``mrd.yaml``) is recorded; false
    when no marrow MRD was measured (never missing)."""
    MARROW_MRD_POSITIVE = "marrow_mrd_positive"
    """A marrow MRD level at or above the threshold is recorded; false when not measured."""
    TRANSFORMATION = "transformation"
    NEW_NODES = "new_nodes"
    NODE_SPD_CHANGE_PCT = "node_spd_change_pct"
    LIVER_CHANGE_PCT = "liver_change_pct"
    SPLEEN_CHANGE_PCT = "spleen_change_pct"
    LIVER_SPLEEN_CHANGE_PCT = "liver_spleen_change_pct"
    """The largest % change of liver or spleen (cm below the costal margin) among organs
    enlarged at the reference or now: ≤ -50 means every enlarged organ halved."""
    ALC_CHANGE_PCT = "alc_change_pct"
    ANC_CHANGE_PCT = "anc_change_pct"
    PLT_CHANGE_PCT = "plt_change_pct"
    HGB_CHANGE_PCT = "hgb_change_pct"
    CLONAL_B_CHANGE_PCT = "clonal_b_change_pct"
    MARROW_LYMPHOCYTES_CHANGE_PCT = "marrow_lymphocytes_change_pct"
    MARROW_CLL_CELLS_CHANGE_PCT = "marrow_cll_cells_change_pct"
    HGB_CHANGE_G_PER_DL = "hgb_change_g_per_dl"

    @property
    def is_bool(self) -> bool:
        """Whether the measure is a yes/no finding."""
        return self in _BOOL_MEASURES

    @property
    def is_change(self) -> bool:
        """Whether the measure compares the current assessment with a reference."""
        return self in _CHANGE_MEASURES


_BOOL_MEASURES = frozenset(
    {
        ResponseMeasure.MARROW_NODULES,
        ResponseMeasure.MARROW_NORMOCELLULAR,
        ResponseMeasure.MARROW_HYPOCELLULAR,
        ResponseMeasure.CONSTITUTIONAL_SYMPTOMS,
        ResponseMeasure.TRANSFUSED,
        ResponseMeasure.ERYTHROPOIETIN,
        ResponseMeasure.GROWTH_FACTOR,
        ResponseMeasure.CYTOPENIA_DUE_TO_CLL,
        ResponseMeasure.MARROW_MRD_NEGATIVE,
        ResponseMeasure.MARROW_MRD_POSITIVE,
        ResponseMeasure.TRANSFORMATION,
        ResponseMeasure.NEW_NODES,
    }
)
_CHANGE_MEASURES = frozenset(
    {
        ResponseMeasure.NEW_NODES,
        ResponseMeasure.NODE_SPD_CHANGE_PCT,
        ResponseMeasure.LIVER_CHANGE_PCT,
        ResponseMeasure.SPLEEN_CHANGE_PCT,
        ResponseMeasure.LIVER_SPLEEN_CHANGE_PCT,
        ResponseMeasure.ALC_CHANGE_PCT,
        ResponseMeasure.ANC_CHANGE_PCT,
        ResponseMeasure.PLT_CHANGE_PCT,
        ResponseMeasure.HGB_CHANGE_PCT,
        ResponseMeasure.CLONAL_B_CHANGE_PCT,
        ResponseMeasure.MARROW_LYMPHOCYTES_CHANGE_PCT,
        ResponseMeasure.MARROW_CLL_CELLS_CHANGE_PCT,
        ResponseMeasure.HGB_CHANGE_G_PER_DL,
    }
)


class Op(Enum):
    """Comparison operators of a criterion test."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IS = "is"

    def holds(self, x: float | bool, y: float | bool) -> bool:
        """``x op y``."""
        if self is Op.IS:
            return x is y
        assert not isinstance(x, bool)
        assert not isinstance(y, bool)
        if self is Op.LT:
            return x < y
        if self is Op.LE:
            return x <= y
        if self is Op.GT:
            return x > y
        return x >= y


class MeasureReference(Enum):
    """Which assessment a comparison reads (``at``) or compares with (``from``)."""

    CURRENT = "current"
    BASELINE = "baseline"
    NADIR = "nadir"
    """The best (smallest) tumour measures at a response assessment ("from response")."""
    PREVIOUS = "previous"
    """The latest earlier assessment that has the value, else the baseline."""


class ParameterGroup(Enum):
    """iwCLL parameter groups: A = tumour load, B = haematopoietic function."""

    A = "A"
    B = "B"


class Compartment(Enum):
    """Disease compartments whose response the review reports separately."""

    BLOOD = "blood"
    MARROW = "marrow"
    NODES = "nodes"
    LIVER = "liver"
    SPLEEN = "spleen"
    LIVER_SPLEEN = "liver-spleen"


class CriExemption(Enum):
    """Why a CR row may fail in CRi."""

    COUNTS = "counts"
    """A blood count not recovered (for a reason other than CLL)."""
    CELLULARITY = "cellularity"
    """A hypocellular marrow."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """``measure op value``, read at / from a reference assessment."""

    measure: ResponseMeasure
    op: Op
    value: float | bool
    reference: MeasureReference = MeasureReference.CURRENT
    """For an absolute measure: the assessment read. For a change: the reference compared
    with (``CURRENT`` then means the baseline)."""
    optional: bool = False
    """A missing input makes the comparison "not met" instead of "unknown"."""

    def text(self) -> str:
        """Readable form, e.g. ``plt_10e9_per_l > 100``."""
        where = ""
        if self.reference is not MeasureReference.CURRENT:
            where = f" ({'from' if self.measure.is_change else 'at'} {self.reference.value})"
        value = str(self.value).lower() if isinstance(self.value, bool) else f"{self.value:g}"
        return f"{self.measure.value}{where} {self.op.value} {value}"


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every term holds."""

    terms: tuple[Expr, ...]

    def text(self) -> str:
        """Readable form."""
        return "(" + " and ".join(t.text() for t in self.terms) + ")"


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one term holds."""

    terms: tuple[Expr, ...]

    def text(self) -> str:
        """Readable form."""
        return "(" + " or ".join(t.text() for t in self.terms) + ")"


Expr: TypeAlias = "Comparison | AllOf | AnyOf"


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """One cell of a response table, with its test and citation."""

    id: str
    column: ResponseCategory
    parameter: str
    criterion: str
    citation: Citation
    test: Expr
    group: ParameterGroup | None = None
    compartment: Compartment | None = None
    applies_if: Expr | None = None
    confirm_after_days: int | None = None
    unmet_means_unknown: str = ""
    cri_exempt: CriExemption | None = None
    npr_exempt: bool = False
    abnormal_at_baseline: Expr | None = None
    """For the iwCLL 2018 PR footnote: when the row's parameter counts as abnormal before
    therapy (evaluated with ``at: baseline``)."""


@dataclass(frozen=True, slots=True)
class PrClause:
    """At least ``minimum`` of ``rows`` must be met (only the applicable ones, if so marked)."""

    minimum: int
    rows: tuple[str, ...]
    only_applicable: bool = False


@dataclass(frozen=True, slots=True)
class PrRule:
    """The PR combination rule: every clause must hold.

    ``single_abnormal`` (iwCLL 2018 footnote): when exactly one row of every clause was
    abnormal before therapy (each row's ``abnormal_at_baseline``), only that row of each clause
    needs to improve (minimum 1 of it).
    """

    clauses: tuple[PrClause, ...]
    citation: Citation
    single_abnormal: Citation | None = None


@dataclass(frozen=True, slots=True)
class DurationRule:
    """A response must be sustained for ``months`` to be confirmed."""

    months: int
    categories: tuple[ResponseCategory, ...]
    citation: Citation


@dataclass(frozen=True, slots=True)
class ResponseRuleSet:
    """One set of response criteria as shipped."""

    criteria: ResponseCriteria
    title: str
    strength: str
    categories: tuple[ResponseCategory, ...]
    rows: tuple[CriterionRow, ...]
    cr: Citation
    pr: PrRule
    pd: Citation
    sd: Citation
    cri: Citation | None = None
    npr: Citation | None = None
    duration: DurationRule | None = None
    notes: tuple[str, ...] = ()

    def column(self, column: ResponseCategory) -> tuple[CriterionRow, ...]:
        """The rows of one column (CR, PR or PD), in file order."""
        return tuple(r for r in self.rows if r.column is column)

    def row(self, row_id: str) -> CriterionRow:
        """A row by id."""
        for r in self.rows:
            if r.id == row_id:
                return r
        raise KeyError(row_id)

    @property
    def uses_nadir(self) -> bool:
        """Whether any criterion compares with the response nadir (iwCLL 2018 PD)."""
        return any(_uses(r.test, MeasureReference.NADIR) for r in self.rows)


def _uses(expr: Expr, ref: MeasureReference) -> bool:
    if isinstance(expr, Comparison):
        return expr.reference is ref
    return any(_uses(t, ref) for t in expr.terms)


@dataclass(frozen=True, slots=True)
class MrdRule:
    """MRD negativity: level strictly below ``threshold``."""

    threshold: float
    citations: tuple[Citation, ...]


def _parse(rec: Record, key: str, enum: type[Any]) -> Any:
    raw = rec.req(key, str)
    try:
        return enum(raw)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)
        raise KnowledgeError(
            rec.path, f"{rec.where}.{key}: {raw!r} is not one of: {valid}"
        ) from None


def _expr(path: str, where: str, raw: Any) -> Expr:
    if isinstance(raw, dict) and set(raw) == {"all"}:
        return AllOf(tuple(_expr(path, f"{where}.all[{i}]", t) for i, t in enumerate(raw["all"])))
    if isinstance(raw, dict) and set(raw) == {"any"}:
        return AnyOf(tuple(_expr(path, f"{where}.any[{i}]", t) for i, t in enumerate(raw["any"])))
    rec = Record(path, where, raw, {"measure", "op", "value", "is", "at", "from", "optional"})
    measure = _parse(rec, "measure", ResponseMeasure)
    at = rec.opt("at", str)
    frm = rec.opt("from", str)
    if at is not None and measure.is_change:
        raise KnowledgeError(path, f"{where}: a change measure takes 'from', not 'at'")
    if frm is not None and not measure.is_change:
        raise KnowledgeError(path, f"{where}: an absolute measure takes 'at', not 'from'")
    ref_raw = at if at is not None else frm
    try:
        reference = MeasureReference(ref_raw) if ref_raw is not None else MeasureReference.CURRENT
    except ValueError:
        raise KnowledgeError(path, f"{where}: unknown reference {ref_raw!r}") from None
    if reference is MeasureReference.CURRENT and ref_raw is not None:
        raise KnowledgeError(path, f"{where}: 'current' is the default; omit it")
    optional = rec.opt("optional", bool, False)
    if measure.is_bool:
        if rec.opt("op", str) is not None or rec.opt("value", (int, float)) is not None:
            raise KnowledgeError(path, f"{where}: {measure.value} is yes/no: use 'is'")
        return Comparison(measure, Op.IS, rec.req("is", bool), reference, optional)
    if rec.opt("is", bool) is not None:
        raise KnowledgeError(path, f"{where}: {measure.value} is a number: use op and value")
    op = _parse(rec, "op", Op)
    if op is Op.IS:
        raise KnowledgeError(path, f"{where}: 'is' compares yes/no measures only")
    return Comparison(measure, op, rec.req("value", float), reference, optional)


def _citation(rec: Record, criteria: ResponseCriteria, quote_key: str) -> Citation:
    return Citation(
        source=rec.req("source", str),
        locator=rec.req("locator", str),
        quote=rec.req(quote_key, str),
        note=rec.opt("note", str, ""),
        rule_set=criteria.value,
    )


_ROW_KEYS = {
    "id", "column", "parameter", "group", "compartment", "criterion", "source", "locator",
    "note", "test", "applies_if", "confirm_after_days", "unmet_means_unknown", "cri_exempt",
    "npr_exempt", "abnormal_at_baseline",
}  # fmt: skip
_COLUMNS = (ResponseCategory.CR, ResponseCategory.PR, ResponseCategory.PD)


def _row(path: str, where: str, raw: Any, criteria: ResponseCriteria) -> CriterionRow:
    rec = Record(path, where, raw, _ROW_KEYS)
    row_id = rec.req("id", str)
    where = f"{where} ({row_id})"
    column = _parse(rec, "column", ResponseCategory)
    if column not in _COLUMNS:
        raise KnowledgeError(path, f"{where}: column must be CR, PR or PD")
    if not row_id.startswith(f"{column.value.lower()}."):
        raise KnowledgeError(path, f"{where}: id must start with '{column.value.lower()}.'")
    group = _parse(rec, "group", ParameterGroup) if rec.opt("group", str) is not None else None
    compartment = (
        _parse(rec, "compartment", Compartment) if rec.opt("compartment", str) is not None else None
    )
    cri = _parse(rec, "cri_exempt", CriExemption) if rec.opt("cri_exempt", str) else None
    npr = rec.opt("npr_exempt", bool, False)
    if (cri is not None or npr) and column is not ResponseCategory.CR:
        raise KnowledgeError(path, f"{where}: only CR rows can be CRi/nPR exempt")
    applies_raw = rec.opt("applies_if", dict)
    abnormal_raw = rec.opt("abnormal_at_baseline", dict)
    if abnormal_raw is not None and column is not ResponseCategory.PR:
        raise KnowledgeError(path, f"{where}: only PR rows say when they were abnormal")
    return CriterionRow(
        id=row_id,
        column=column,
        parameter=rec.req("parameter", str),
        criterion=rec.req("criterion", str),
        citation=_citation(rec, criteria, "criterion"),
        test=_expr(path, f"{where}.test", rec.req("test", dict)),
        group=group,
        compartment=compartment,
        applies_if=_expr(path, f"{where}.applies_if", applies_raw) if applies_raw else None,
        confirm_after_days=rec.opt("confirm_after_days", int),
        unmet_means_unknown=rec.opt("unmet_means_unknown", str, ""),
        cri_exempt=cri,
        npr_exempt=npr,
        abnormal_at_baseline=(
            _expr(path, f"{where}.abnormal_at_baseline", abnormal_raw) if abnormal_raw else None
        ),
    )


@cache
def response_rules(criteria: ResponseCriteria | str) -> ResponseRuleSet:
    """The shipped rule set of ``criteria`` (e.g. ``iwcll-2018``).

    Raises
    ------
    InputError
        For unknown criteria (the message lists the valid ones).
    KnowledgeError
        When the shipped file is invalid (a packaging bug).
    """
    criteria = ResponseCriteria.parse(criteria)
    name = f"{criteria.value}.yaml"
    path = f"{RESPONSE_FOLDER}/{name}"
    doc = Record(
        path,
        "root",
        load_yaml(data_root() / RESPONSE_FOLDER / name),
        {"criteria", "title", "strength", "categories", "notes", "rows", "cr", "cri", "npr",
         "pr", "pd", "sd", "duration"},
    )  # fmt: skip
    if doc.req("criteria", str) != criteria.value:
        raise KnowledgeError(path, f"must declare criteria: {criteria.value}")
    categories = []
    for raw in doc.req("categories", list):
        try:
            categories.append(ResponseCategory(raw))
        except ValueError:
            raise KnowledgeError(path, f"categories: unknown category {raw!r}") from None
    required = {ResponseCategory.CR, ResponseCategory.PR, ResponseCategory.SD, ResponseCategory.PD}
    if not required <= set(categories):
        raise KnowledgeError(path, "categories must include CR, PR, SD and PD")
    rows = tuple(
        _row(path, f"rows[{i}]", raw, criteria) for i, raw in enumerate(doc.req("rows", list))
    )
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise KnowledgeError(path, "row ids must be unique")
    for col in _COLUMNS:
        if not any(r.column is col for r in rows):
            raise KnowledgeError(path, f"no {col.value} rows")

    def section(key: str, extra: set[str] | None = None) -> Record | None:
        raw = doc.opt(key, dict)
        if raw is None:
            return None
        return Record(path, key, raw, {"source", "locator", "text", "note"} | (extra or set()))

    cr_rec, pd_rec, sd_rec = section("cr"), section("pd"), section("sd")
    pr_rec = section("pr", {"clauses", "single_abnormal"})
    if cr_rec is None or pd_rec is None or sd_rec is None or pr_rec is None:
        raise KnowledgeError(path, "needs cr, pr, pd and sd sections")
    cri_rec, npr_rec = section("cri"), section("npr")
    if (cri_rec is not None) != (ResponseCategory.CRI in categories):
        raise KnowledgeError(path, "a cri section is needed exactly when CRi is a category")
    if (npr_rec is not None) != (ResponseCategory.NPR in categories):
        raise KnowledgeError(path, "an npr section is needed exactly when nPR is a category")
    if cri_rec is None and any(r.cri_exempt for r in rows):
        raise KnowledgeError(path, "rows are CRi-exempt but CRi is not a category")
    pr_ids = {r.id for r in rows if r.column is ResponseCategory.PR}
    clauses = []
    for i, craw in enumerate(pr_rec.req("clauses", list)):
        crec = Record(path, f"pr.clauses[{i}]", craw, {"minimum", "rows", "only_applicable"})
        clause = PrClause(
            minimum=crec.req("minimum", int),
            rows=tuple(crec.req("rows", list)),
            only_applicable=crec.opt("only_applicable", bool, False),
        )
        unknown = [r for r in clause.rows if r not in pr_ids]
        if unknown or not 1 <= clause.minimum <= len(clause.rows):
            raise KnowledgeError(path, f"pr.clauses[{i}]: bad rows {unknown} or minimum")
        clauses.append(clause)
    single = None
    single_raw = pr_rec.opt("single_abnormal", dict)
    if single_raw is not None:
        srec = Record(path, "pr.single_abnormal", single_raw, {"source", "locator", "text", "note"})
        single = _citation(srec, criteria, "text")
        by_id = {r.id: r for r in rows}
        bare = [i for c in clauses for i in c.rows if by_id[i].abnormal_at_baseline is None]
        if bare:
            raise KnowledgeError(
                path, f"pr.single_abnormal: rows without abnormal_at_baseline {bare}"
            )
    duration = None
    dur_raw = doc.opt("duration", dict)
    if dur_raw is not None:
        drec = Record(
            path, "duration", dur_raw, {"months", "categories", "source", "locator", "text"}
        )
        duration = DurationRule(
            months=drec.req("months", int),
            categories=tuple(ResponseCategory(c) for c in drec.req("categories", list)),
            citation=_citation(drec, criteria, "text"),
        )
    return ResponseRuleSet(
        criteria=criteria,
        title=doc.req("title", str),
        strength=doc.req("strength", str),
        categories=tuple(categories),
        rows=rows,
        cr=_citation(cr_rec, criteria, "text"),
        pr=PrRule(tuple(clauses), _citation(pr_rec, criteria, "text"), single),
        pd=_citation(pd_rec, criteria, "text"),
        sd=_citation(sd_rec, criteria, "text"),
        cri=_citation(cri_rec, criteria, "text") if cri_rec is not None else None,
        npr=_citation(npr_rec, criteria, "text") if npr_rec is not None else None,
        duration=duration,
        notes=tuple(doc.opt("notes", list, [])),
    )


@cache
def mrd_rule() -> MrdRule:
    """The MRD-negativity threshold with its sources (P13, P14)."""
    path = f"{RESPONSE_FOLDER}/mrd.yaml"
    doc = Record(path, "root", load_yaml(data_root() / RESPONSE_FOLDER / "mrd.yaml"),
                 {"threshold", "sources"})  # fmt: skip
    citations = []
    for i, raw in enumerate(doc.req("sources", list)):
        rec = Record(path, f"sources[{i}]", raw, {"source", "locator", "note"})
        citations.append(
            Citation(
                source=rec.req("source", str),
                locator=rec.req("locator", str),
                note=rec.req("note", str),
                rule_set="mrd",
            )
        )
    threshold = doc.req("threshold", float)
    if not 0 < threshold < 1:
        raise KnowledgeError(path, "threshold must be a fraction between 0 and 1")
    return MrdRule(threshold=threshold, citations=tuple(citations))


def all_response_rules() -> Mapping[ResponseCriteria, ResponseRuleSet]:
    """Every shipped rule set, by criteria."""
    return {c: response_rules(c) for c in ResponseCriteria}

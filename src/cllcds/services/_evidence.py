"""Evidence use cases: what the CLI, the API and the web app show of the review's evidence.

Everything returns plain JSON-ready data (dicts, lists, numbers, strings), so every adapter
shows the same thing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from cllcds import evidence, knowledge
from cllcds.domain import InputError, Measure, Reported, Study
from cllcds.evidence import (
    Basis,
    Outcome,
    PlotFormat,
    PoolResult,
    PredictionInterval,
    ReviewText,
    StudyData,
    Subset,
    TauMethod,
    Transform,
    check_quotes,
    forest_plot,
    leave_one_out,
    pool,
    pool_inputs,
    route_group,
    subgroups,
)

MIN_STUDIES = 2
"""A pooled estimate needs at least two studies."""

REVIEW = (
    "Alemtuzumab in fludarabine-refractory CLL (clinical review; shared/seed/"
    "000_56971d7eaf23c097.txt). Values as printed in the review, each with its locator and a "
    "verbatim quote."
)


def _reported_row(r: Reported) -> dict[str, Any]:
    return {
        "measure": r.measure.value,
        "population": r.population,
        "primary": r.primary,
        "count": r.count,
        "denominator": r.denominator,
        "percent": r.percent,
        "value": r.value,
        "unit": r.unit.value if r.unit else None,
        "low": r.low,
        "high": r.high,
        "derived": r.derived,
        "printed": r.printed or None,
        "locator": r.citation.locator,
        "quote": r.citation.quote,
        "note": r.citation.note,
        "source": r.citation.source,
    }


def as_printed(x: float) -> int | float:
    """A whole number as an int (``42``, as the table prints it), anything else unchanged."""
    return int(x) if float(x).is_integer() else x


def _pct(r: Reported | None) -> float | None:
    if r is None:
        return None
    return r.exact_percent if r.exact_percent is not None else r.percent


def evidence_studies() -> list[Study]:
    """Every study of the evidence base, in id order."""
    return list(knowledge.studies().values())


def study_summary(st: Study) -> dict[str, Any]:
    """One line per study: design, size and its primary response."""
    orr, cr = st.primary(Measure.ORR), st.primary(Measure.CR)
    return {
        "id": st.id,
        "cited_as": st.cited_as,
        "title": st.title,
        "design": st.design.value,
        "setting": st.setting.value,
        "route": st.route.value,
        "disease_status": st.disease_status.value,
        "n_enrolled": st.population.n_enrolled,
        "n_evaluable": st.population.n_evaluable,
        "orr_pct": _pct(orr),
        "orr_count": orr.count if orr else None,
        "cr_pct": _pct(cr),
        "cr_count": cr.count if cr else None,
        "regimen": st.regimen_summary,
        "regimen_ids": list(st.regimen_ids),
    }


def study_detail(study_id: str) -> dict[str, Any]:
    """Everything one study reports, with provenance."""
    st = knowledge.study(study_id)
    pop = st.population
    return {
        **study_summary(st),
        "reference_id": st.reference_id,
        "notes": st.notes,
        "population": {
            "n_enrolled": pop.n_enrolled,
            "n_evaluable": pop.n_evaluable,
            "description": pop.description,
            "fludarabine_refractory_fraction": pop.fludarabine_refractory_fraction,
            "prior_lines_median": pop.prior_lines_median,
            "prior_lines_low": pop.prior_lines_low,
            "prior_lines_high": pop.prior_lines_high,
            "locator": pop.citation.locator,
            "quote": pop.citation.quote,
        },
        "outcomes": [_reported_row(r) for r in st.outcomes],
    }


def review_table_meta(number: int) -> dict[str, str]:
    """Title, header and abbreviations of Table ``number`` as printed."""
    evidence.table(number)  # validates the number
    return dict(knowledge.review_table_meta()[number])


def review_table(number: int, *, recomputed: bool = False) -> list[dict[str, Any]]:
    """Table ``number`` as printed; with ``recomputed``, each row beside the text's values."""
    rows = []
    for rr in evidence.recomputed(number):
        r = rr.printed
        row: dict[str, Any] = {
            "table": r.table,
            "row": r.row,
            "reference": r.reference,
            "schedule": r.schedule,
            "n_evaluable": r.n_evaluable,
            "or_pct": as_printed(r.or_pct),
            "cr_pct": as_printed(r.cr_pct),
        }
        if r.table == 1:
            row["route"] = r.route
        row["study_id"] = r.study_id
        if recomputed:
            row.update(
                text_n=rr.text_n,
                text_or_pct=rr.text_or_pct,
                text_cr_pct=rr.text_cr_pct,
                agrees=(rr.text_n == r.n_evaluable)
                and rr.or_agrees is not False
                and rr.cr_agrees is not False,
            )
        rows.append(row)
    return rows


def discrepancies(study_id: str | None = None) -> list[dict[str, Any]]:
    """The consistency register, optionally for one study."""
    studies = None if study_id is None else [knowledge.study(study_id)]
    out = []
    for d in evidence.register(studies):
        item = asdict(d)
        item["kind"] = d.kind.value
        item["severity"] = d.severity.value
        item["key"] = d.key
        item["citations"] = [
            {"source": c.source, "locator": c.locator, "quote": c.quote} for c in d.citations
        ]
        out.append(item)
    return out


def bibliography_rows() -> list[dict[str, Any]]:
    """The review's bibliography."""
    return [asdict(r) for r in knowledge.bibliography().values()]


def evidence_report() -> dict[str, Any]:
    """Every study with its numbers and sources, both tables (as printed and recomputed) and
    the consistency register."""
    return {
        "source": REVIEW,
        "studies": [study_detail(st.id) for st in evidence_studies()],
        "tables": {str(n): review_table(n, recomputed=True) for n in (1, 2)},
        "discrepancies": discrepancies(),
    }


def verify_quotes(review_path: Path) -> list[dict[str, Any]]:
    """Check every quote and table row of the evidence base against a copy of the review."""
    return [asdict(c) for c in check_quotes(ReviewText.from_file(review_path))]


# --------------------------------------------------------------------------------------------
# The user's own data for pooling

POOL_CSV_COLUMNS = ("study", "events", "n")
"""The columns a user's CSV file must have (others are ignored)."""


@dataclass(frozen=True, slots=True)
class CsvStudy:
    """One row of a user's CSV file."""

    label: str
    events: int
    n: int
    group: str


def _int_cell(raw: str | None, row: int, column: str) -> int:
    text = (raw or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"row {row}: {column}", text, "give a whole number of patients (e.g. 12)"
        ) from None
    if not value.is_integer():
        raise InputError(f"row {row}: {column}", text, "give a whole number of patients")
    return int(value)


def read_pool_csv(path: Path, group_column: str | None = None) -> list[CsvStudy]:
    """Read a user's studies for pooling from CSV (columns ``study``, ``events``, ``n``).

    Rows are numbered as a spreadsheet shows them (the header is row 1). Every problem raises
    :class:`InputError` naming the row and the column.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            "--data", str(path), f"give a readable CSV file ({exc.strerror})"
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    needed = list(POOL_CSV_COLUMNS) + ([group_column] if group_column else [])
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(
            "--data",
            str(path),
            f"the file needs the column(s) {', '.join(missing)}; its header has "
            f"{', '.join(header) or 'nothing'}",
        )
    out = []
    for i, rec in enumerate(reader, start=2):
        label = (rec.get("study") or "").strip()
        if not label:
            raise InputError(f"row {i}: study", "", "give each study a name")
        events = _int_cell(rec.get("events"), i, "events")
        n = _int_cell(rec.get("n"), i, "n")
        if n < 1:
            raise InputError(f"row {i}: n", n, "n is the number of patients: 1 or more")
        if events < 0:
            raise InputError(f"row {i}: events", events, "events cannot be negative")
        if events > n:
            raise InputError(f"row {i}: events", events, f"events cannot exceed n ({n})")
        group = (rec.get(group_column) or "").strip() if group_column else ""
        out.append(CsvStudy(label, events, n, group))
    if len(out) < MIN_STUDIES:
        raise InputError(
            "--data",
            f"{len(out)} stud{'y' if len(out) == 1 else 'ies'}",
            f"pooling needs at least {MIN_STUDIES} studies",
        )
    return out


# --------------------------------------------------------------------------------------------
# Pooled estimates


class Grouping(Enum):
    """Subgroups for pooled estimates of the review's studies."""

    ROUTE = "route"
    """IV vs SC (any subcutaneous maintenance counts as SC)."""
    SETTING = "setting"
    """Monotherapy (Table 1) vs combination (Table 2)."""


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """How to pool: the statistical choices, each as R metafor names it."""

    transform: Transform = Transform.LOGIT
    method: TauMethod = TauMethod.REML
    knha: bool = False
    level: float = 0.95
    pi: PredictionInterval = PredictionInterval.METAFOR

    def kwargs(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "method": self.method,
            "knha": self.knha,
            "level": self.level,
            "pi": self.pi,
        }


@dataclass(frozen=True, slots=True)
class PoolRequest:
    """What to pool: the review's studies (outcome, subset, basis) or a user's CSV file."""

    outcome: Outcome = Outcome.ORR
    subset: Subset = Subset.MONOTHERAPY
    basis: Basis = Basis.TEXT
    data: Path | None = None
    group_column: str | None = None
    by: Grouping | None = None


def _result_json(r: PoolResult) -> dict[str, Any]:
    return {
        "k": r.k,
        "estimate": r.estimate,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "pi_low": r.pi_low,
        "pi_high": r.pi_high,
        "tau2": r.tau2,
        "tau2_ci": list(r.tau2_ci) if r.tau2_ci else None,
        "i2": r.i2,
        "i2_ci": list(r.i2_ci) if r.i2_ci else None,
        "h2": r.h2,
        "q": r.q,
        "q_df": r.q_df,
        "q_p": r.q_p,
        "transform": r.transform.value,
        "method": r.method.value,
        "knha": r.knha,
        "level": r.level,
        "pi_type": r.pi_type.value,
        "methods": r.methods,
        "studies": [
            {
                "study": s.label,
                "events": s.events,
                "n": s.n,
                "proportion": s.proportion,
                "ci_low": s.ci_low,
                "ci_high": s.ci_high,
                "exact_ci_low": s.cp_low,
                "exact_ci_high": s.cp_high,
                "weight_pct": s.weight_pct,
                "continuity_corrected": s.corrected,
            }
            for s in r.studies
        ],
    }


def _inputs(req: PoolRequest) -> tuple[list[StudyData], list[str], list[dict[str, Any]], str]:
    """Study data, group labels, per-study provenance and a sentence on the data used."""
    if req.data is not None:
        rows = read_pool_csv(req.data, req.group_column)
        data = [StudyData(r.label, r.events, r.n) for r in rows]
        prov = [{"study": r.label, "basis": f"{req.data.name}"} for r in rows]
        return data, [r.group for r in rows], prov, f"user data from {req.data.name}"
    subset = req.subset
    if req.by is Grouping.SETTING:
        subset = Subset.ALL
    inputs = pool_inputs(req.outcome, subset, req.basis)
    data = [StudyData(p.label, p.events, p.n) for p in inputs]
    if req.by is Grouping.ROUTE:
        groups = [route_group(p) for p in inputs]
    elif req.by is Grouping.SETTING:
        groups = [p.setting.value for p in inputs]
    else:
        groups = []
    prov = [
        {
            "study": p.label,
            "study_id": p.study_id,
            "basis": p.basis,
            "locator": p.citation.locator,
            "quote": p.citation.quote,
        }
        for p in inputs
    ]
    what = (
        "counts recomputed from the review's text (where the text gives none, the table)"
        if req.basis is Basis.TEXT
        else "the review's tables as printed (events = % × n, rounded)"
    )
    label = {
        Subset.MONOTHERAPY: "Table 1 (monotherapy)",
        Subset.COMBINATION: "Table 2 (combination)",
        Subset.ALL: "Tables 1 and 2",
    }[subset]
    return data, groups, prov, f"{req.outcome.value.upper()} in {label}: {what}"


def pool_analysis(req: PoolRequest, opts: PoolOptions) -> dict[str, Any]:
    """A pooled estimate with its inputs, as JSON-ready data.

    With ``req.by`` (or a user file's ``group_column``), one estimate per subgroup and the test
    of subgroup differences; otherwise one estimate.
    """
    data, groups, prov, what = _inputs(req)
    out: dict[str, Any] = {"data": what, "inputs": prov}
    if req.by is not None or req.group_column:
        if len(set(groups)) < MIN_STUDIES:
            raise InputError(
                "--by",
                req.by.value if req.by else req.group_column,
                "subgroups need at least two groups",
            )
        sg = subgroups(data, groups, **opts.kwargs())
        out["overall"] = _result_json(pool(data, **opts.kwargs()))
        out["subgroups"] = {name: _result_json(r) for name, r in sg.subgroups}
        out["test_of_subgroup_differences"] = {
            "qm": sg.qm,
            "qm_df1": sg.qm_df1,
            "qm_df2": sg.qm_df2,
            "qm_p": sg.qm_p,
            "tau2_residual": sg.tau2_residual,
            "q_between": sg.q_between,
            "q_between_df": sg.q_between_df,
            "q_between_p": sg.q_between_p,
        }
        out["methods"] = sg.methods
        return out
    res = pool(data, **opts.kwargs())
    out.update(_result_json(res))
    return out


def pool_result(req: PoolRequest, opts: PoolOptions) -> PoolResult:
    """The pooled result itself (for plots)."""
    data, _groups, _prov, _what = _inputs(req)
    return pool(data, **opts.kwargs())


def leave_one_out_analysis(req: PoolRequest, opts: PoolOptions) -> dict[str, Any]:
    """The pooled estimate with each study left out in turn."""
    data, _groups, prov, what = _inputs(req)
    rows = []
    for omitted, r in leave_one_out(data, **opts.kwargs()):
        rows.append(
            {"omitted": omitted, **{k: v for k, v in _result_json(r).items() if k != "studies"}}
        )
    return {"data": what, "inputs": prov, "leave_one_out": rows}


def forest(req: PoolRequest, opts: PoolOptions, path: Path, title: str = "") -> Path:
    """Write a forest plot (SVG or PNG by the file's suffix) of the pooled analysis."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png"):
        raise InputError("--plot", str(path), "name a .svg or .png file")
    res = pool_result(req, opts)
    data_title = title or _inputs(req)[3]
    try:
        forest_plot(res, path, fmt=PlotFormat(suffix), title=data_title)
    except OSError as exc:
        raise InputError("--plot", str(path), f"give a writable path ({exc.strerror})") from None
    return path

"""The review's evidence as data: bibliography, studies and the two tables.

Files (inside the package, ``cllcds/knowledge/data``):

``bibliography.yaml``
    Every reference the review cites, keyed by a stable id (``keating2002b``).
``studies/<id>.yaml``
    One file per study the review describes: design, population, regimen and every reported
    value with its locator and a verbatim quote from the review.
``review_tables.yaml``
    The review's Table 1 and Table 2, cell by cell as printed.

Everything is validated when first loaded; a bad file raises :class:`KnowledgeError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from cllcds.domain import (
    Citation,
    Design,
    DiseaseStatus,
    InputError,
    KnowledgeError,
    Measure,
    NotFoundError,
    Population,
    Reference,
    Reported,
    Route,
    Setting,
    Study,
    TableRow,
    Unit,
)

from ._files import Record, data_root, iter_yaml, load_yaml

SEED_SOURCE = "seed"
"""Source id of the review itself (``shared/seed/000_56971d7eaf23c097.txt``)."""

E = TypeVar("E", bound=Enum)


def _enum(rec: Record, key: str, enum: type[E], default: E | None = None) -> E:
    raw = rec.opt(key, str) if default is not None else rec.req(key, str)
    if raw is None:
        assert default is not None
        return default
    try:
        return enum(raw)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)
        raise KnowledgeError(
            rec.path, f"{rec.where}.{key}: {raw!r} is not one of: {valid}"
        ) from None


@cache
def bibliography() -> Mapping[str, Reference]:
    """Every reference the review cites, by id."""
    path = "bibliography.yaml"
    doc = load_yaml(data_root() / path)
    out: dict[str, Reference] = {}
    for i, raw in enumerate(Record(path, "root", doc, {"references"}).req("references", list)):
        rec = Record(
            path,
            f"references[{i}]",
            raw,
            {"id", "cited_as", "first_author", "year", "title", "journal", "note", "source"},
        )
        ref = Reference(
            id=rec.req("id", str),
            cited_as=rec.req("cited_as", str),
            first_author=rec.req("first_author", str),
            year=rec.req("year", int),
            title=rec.opt("title", str, ""),
            journal=rec.opt("journal", str, ""),
            note=rec.opt("note", str, ""),
            source=rec.opt("source", str, ""),
        )
        if ref.id in out:
            raise KnowledgeError(path, f"duplicate reference id {ref.id!r}")
        out[ref.id] = ref
    return out


def _citation(rec: Record, note_key: str = "note") -> Citation:
    return Citation(
        source=SEED_SOURCE,
        locator=rec.req("locator", str),
        quote=rec.opt("quote", str, ""),
        note=rec.opt(note_key, str, ""),
    )


_OUTCOME_KEYS = {
    "measure",
    "population",
    "primary",
    "count",
    "denominator",
    "percent",
    "value",
    "unit",
    "low",
    "high",
    "locator",
    "quote",
    "note",
    "derived",
    "printed",
}


def _reported(path: str, where: str, raw: Any) -> Reported:
    rec = Record(path, where, raw, _OUTCOME_KEYS)
    unit_raw = rec.opt("unit", str)
    try:
        unit = Unit(unit_raw) if unit_raw is not None else None
    except ValueError:
        raise KnowledgeError(
            path, f"{where}.unit: {unit_raw!r} is not one of {[u.value for u in Unit]}"
        ) from None
    try:
        out = Reported(
            measure=_enum(rec, "measure", Measure),
            population=rec.req("population", str),
            citation=_citation(rec),
            count=rec.opt("count", int),
            denominator=rec.opt("denominator", int),
            percent=rec.opt("percent", float),
            value=rec.opt("value", float),
            unit=unit,
            low=rec.opt("low", float),
            high=rec.opt("high", float),
            primary=rec.opt("primary", bool, False),
            derived=rec.opt("derived", bool, False),
            printed=str(rec.opt("printed", (str, int, float), "")),
        )
    except InputError as exc:
        raise KnowledgeError(path, f"{where}: {exc}") from exc
    if out.derived and not out.citation.note:
        raise KnowledgeError(path, f"{where}: a derived value needs a note saying how")
    if out.printed and not out.citation.note:
        raise KnowledgeError(
            path, f"{where}: a value stored apart from its printed form needs a note"
        )
    if not out.derived and not out.citation.quote:
        raise KnowledgeError(path, f"{where}: a printed value needs its verbatim quote")
    return out


def _study(path: str, doc: Any, refs: Mapping[str, Reference]) -> Study:
    rec = Record(
        path,
        "study",
        doc,
        {
            "id",
            "reference",
            "title",
            "design",
            "setting",
            "route",
            "disease_status",
            "regimen",
            "regimen_ids",
            "population",
            "outcomes",
            "notes",
        },
    )
    sid = rec.req("id", str)
    ref_id = rec.req("reference", str)
    if ref_id not in refs:
        raise KnowledgeError(path, f"reference {ref_id!r} is not in bibliography.yaml")
    prec = Record(
        path,
        "population",
        rec.req("population", dict),
        {
            "n_enrolled",
            "n_evaluable",
            "description",
            "fludarabine_refractory_fraction",
            "prior_lines",
            "locator",
            "quote",
            "note",
        },
    )
    lines = prec.opt("prior_lines", dict, {})
    lrec = Record(path, "population.prior_lines", lines, {"median", "low", "high"})
    try:
        population = Population(
            n_enrolled=prec.opt("n_enrolled", int),
            n_evaluable=prec.opt("n_evaluable", int),
            description=prec.req("description", str),
            citation=_citation(prec),
            fludarabine_refractory_fraction=prec.opt("fludarabine_refractory_fraction", float),
            prior_lines_median=lrec.opt("median", float),
            prior_lines_low=lrec.opt("low", float),
            prior_lines_high=lrec.opt("high", float),
        )
    except InputError as exc:
        raise KnowledgeError(path, f"population: {exc}") from exc
    outcomes = tuple(
        _reported(path, f"outcomes[{i}]", raw)
        for i, raw in enumerate(rec.opt("outcomes", list, []))
    )
    design = _enum(rec, "design", Design)
    if population.n_evaluable is None and design is not Design.GUIDELINE:
        raise KnowledgeError(path, "population.n_evaluable is required for a study of patients")
    seen: set[Measure] = set()
    for o in outcomes:
        if o.primary:
            if o.measure in seen:
                raise KnowledgeError(path, f"two primary values for {o.measure.value}")
            seen.add(o.measure)
    return Study(
        id=sid,
        reference_id=ref_id,
        cited_as=refs[ref_id].cited_as,
        title=rec.req("title", str),
        design=design,
        setting=_enum(rec, "setting", Setting),
        route=_enum(rec, "route", Route),
        disease_status=_enum(rec, "disease_status", DiseaseStatus),
        regimen_summary=rec.req("regimen", str),
        population=population,
        outcomes=outcomes,
        regimen_ids=tuple(rec.opt("regimen_ids", list, [])),
        notes=rec.opt("notes", str, ""),
    )


@cache
def studies() -> Mapping[str, Study]:
    """Every study the review describes, by id, in id order."""
    refs = bibliography()
    out: dict[str, Study] = {}
    for path, doc in iter_yaml("studies"):
        st = _study(path, doc, refs)
        if not path.endswith(f"/{st.id}.yaml"):
            raise KnowledgeError(path, f"file name must be the study id {st.id!r}")
        out[st.id] = st
    return dict(sorted(out.items()))


def study(study_id: str) -> Study:
    """One study by id; :class:`NotFoundError` lists the valid ids."""
    all_studies = studies()
    try:
        return all_studies[study_id]
    except KeyError:
        raise NotFoundError("study", study_id, f"use one of: {', '.join(all_studies)}") from None


@cache
def review_table_meta() -> Mapping[int, Mapping[str, str]]:
    """Title, column headings and abbreviation footnote of each table, as printed."""
    path = "review_tables.yaml"
    doc = Record(path, "root", load_yaml(data_root() / path), {"tables"})
    out: dict[int, dict[str, str]] = {}
    for i, raw in enumerate(doc.req("tables", list)):
        rec = Record(
            path, f"tables[{i}]", raw, {"number", "title", "header", "abbreviations", "rows"}
        )
        out[rec.req("number", int)] = {
            "title": rec.req("title", str),
            "header": rec.req("header", str),
            "abbreviations": rec.req("abbreviations", str),
        }
    return out


@cache
def review_tables() -> tuple[TableRow, ...]:
    """Every row of the review's Table 1 and Table 2, as printed, in table order."""
    path = "review_tables.yaml"
    doc = Record(path, "root", load_yaml(data_root() / path), {"tables"})
    known = studies()
    rows: list[TableRow] = []
    for i, raw in enumerate(doc.req("tables", list)):
        rec = Record(
            path, f"tables[{i}]", raw, {"number", "title", "header", "abbreviations", "rows"}
        )
        number = rec.req("number", int)
        for j, rraw in enumerate(rec.req("rows", list)):
            where = f"table {number} row {j + 1}"
            rr = Record(
                path,
                where,
                rraw,
                {"reference", "schedule", "n_evaluable", "or_cr", "route", "study"},
            )
            or_cr = rr.req("or_cr", str)
            parts = or_cr.split("/")
            if len(parts) != 2:
                raise KnowledgeError(path, f"{where}: or_cr {or_cr!r} is not 'OR/CR'")
            sid = rr.req("study", str)
            if sid not in known:
                raise KnowledgeError(path, f"{where}: study {sid!r} has no file in studies/")
            rows.append(
                TableRow(
                    table=number,
                    row=j + 1,
                    reference=rr.req("reference", str),
                    schedule=rr.req("schedule", str),
                    n_evaluable=int(rr.req("n_evaluable", str)),
                    or_pct=float(parts[0]),
                    cr_pct=float(parts[1]),
                    route=rr.opt("route", str),
                    study_id=sid,
                )
            )
    return tuple(rows)

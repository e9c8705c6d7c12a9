"""Renal dose adjustment of the CMV antivirals, as data (``antivirals/renal_dosing.yaml``).

The US labels' renal-impairment tables (Valcyte for valganciclovir, Cytovene-IV for ganciclovir)
give an induction (treatment) and a maintenance (prevention) dose for each band of creatinine
clearance, estimated by Cockcroft-Gault. Each band is ``crcl_ge <= CrCl < crcl_lt``; the bands of
a drug must tile 0 to infinity without gap or overlap (checked on load).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from itertools import pairwise
from typing import Any

from cllcds.domain import Citation, KnowledgeError

from ._files import Record, data_root, load_yaml

RENAL_FILE = "antivirals/renal_dosing.yaml"


class RenalPhase(Enum):
    """Which column of a renal table: treatment or prevention."""

    INDUCTION = "induction"
    """Induction / treatment (the engine's pre-emptive therapy)."""
    MAINTENANCE = "maintenance"
    """Maintenance / prevention (the engine's prophylaxis)."""


@dataclass(frozen=True, slots=True)
class RenalDose:
    """One dose of a renal table: ``dose`` in the table's unit (mg or mg/kg), ``every``."""

    dose: float
    every: str


@dataclass(frozen=True, slots=True)
class RenalBand:
    """One row of a renal table: ``crcl_ge <= CrCl < crcl_lt`` (mL/min)."""

    crcl_ge: float
    crcl_lt: float | None
    text: str
    induction: RenalDose | None = None
    maintenance: RenalDose | None = None
    not_recommended: bool = False

    def contains(self, crcl: float) -> bool:
        """Whether a clearance falls in the band."""
        return crcl >= self.crcl_ge and (self.crcl_lt is None or crcl < self.crcl_lt)

    def dose(self, phase: RenalPhase) -> RenalDose | None:
        """The band's dose for ``phase`` (``None`` when the drug is not recommended)."""
        return self.induction if phase is RenalPhase.INDUCTION else self.maintenance


@dataclass(frozen=True, slots=True)
class RenalTable:
    """A drug's renal dosing table, with its source."""

    drug: str
    route: str
    unit: str
    """``mg`` (a fixed dose) or ``mg/kg`` (per kg of body weight)."""
    citation: Citation
    bands: tuple[RenalBand, ...]

    def band(self, crcl: float) -> RenalBand:
        """The band a clearance falls in."""
        for b in self.bands:
            if b.contains(crcl):
                return b
        raise ValueError(f"no band holds CrCl {crcl}")  # pragma: no cover - tables tile


@dataclass(frozen=True, slots=True)
class CrclFormula:
    """The creatinine clearance estimate the labels use (Cockcroft-Gault)."""

    name: str
    text: str
    female_factor: float
    citation: Citation


@dataclass(frozen=True, slots=True)
class RenalDosing:
    """The shipped renal dosing data: the CrCl formula and one table per drug."""

    crcl: CrclFormula
    tables: Mapping[str, RenalTable]
    sources: Mapping[str, str]
    """Source id -> URL."""


def _dose(rec: Record, key: str) -> RenalDose | None:
    raw = rec.opt(key, dict)
    if raw is None:
        return None
    d = Record(rec.path, f"{rec.where}.{key}", raw, {"dose", "every"})
    dose = d.req("dose", float)
    if dose <= 0:
        raise KnowledgeError(rec.path, f"{rec.where}.{key}: a dose must be positive")
    return RenalDose(float(dose), d.req("every", str))


def _opt_float(rec: Record, key: str) -> float | None:
    value = rec.opt(key, float)
    return None if value is None else float(value)


def _table(path: str, where: str, raw: Any, sources: Mapping[str, str]) -> RenalTable:
    rec = Record(path, where, raw, {"drug", "route", "unit", "source", "locator", "rows"})
    source = rec.req("source", str)
    if source not in sources:
        raise KnowledgeError(path, f"{where}.source: {source!r} is not under sources")
    unit = rec.req("unit", str)
    if unit not in ("mg", "mg/kg"):
        raise KnowledgeError(path, f"{where}.unit: use mg or mg/kg")
    bands = []
    for i, braw in enumerate(rec.req("rows", list)):
        b = Record(
            path,
            f"{where}.rows[{i}]",
            braw,
            {"crcl_ge", "crcl_lt", "induction", "maintenance", "text", "not_recommended"},
        )
        band = RenalBand(
            crcl_ge=_opt_float(b, "crcl_ge") or 0.0,
            crcl_lt=_opt_float(b, "crcl_lt"),
            text=b.req("text", str),
            induction=_dose(b, "induction"),
            maintenance=_dose(b, "maintenance"),
            not_recommended=b.opt("not_recommended", bool, False),
        )
        if band.not_recommended != (band.induction is None and band.maintenance is None):
            raise KnowledgeError(
                path, f"{b.where}: give both doses, or not_recommended and no dose"
            )
        bands.append(band)
    ordered = sorted(bands, key=lambda x: x.crcl_ge)
    if not ordered or ordered[0].crcl_ge != 0 or ordered[-1].crcl_lt is not None:
        raise KnowledgeError(path, f"{where}.rows: the bands must run from 0 to open above")
    for low, high in pairwise(ordered):
        if low.crcl_lt != high.crcl_ge:
            raise KnowledgeError(path, f"{where}.rows: gap or overlap at {low.crcl_lt}")
    return RenalTable(
        drug=rec.req("drug", str),
        route=rec.req("route", str),
        unit=unit,
        citation=Citation(
            source=source,
            locator=rec.req("locator", str),
            note=f"{sources[source]}; CLL use is off-label.",
            rule_set="renal",
        ),
        bands=tuple(ordered),
    )


@cache
def renal_dosing() -> RenalDosing:
    """The renal dosing tables of valganciclovir and ganciclovir IV and the CrCl formula."""
    path = RENAL_FILE
    doc = Record(
        path,
        "root",
        load_yaml(data_root() / "antivirals" / "renal_dosing.yaml"),
        {"sources", "crcl", "drugs"},
    )
    sources: dict[str, str] = {}
    for sid, sraw in doc.req("sources", dict).items():
        srec = Record(path, f"sources.{sid}", sraw, {"title", "url"})
        sources[str(sid)] = f"{srec.req('title', str)} ({srec.req('url', str)})"
    crec = Record(
        path,
        "crcl",
        doc.req("crcl", dict),
        {"formula", "source", "locator", "text", "female_factor"},
    )
    csource = crec.req("source", str)
    if csource not in sources:
        raise KnowledgeError(path, f"crcl.source: {csource!r} is not under sources")
    factor = float(crec.req("female_factor", float))
    if not 0 < factor <= 1:
        raise KnowledgeError(path, "crcl.female_factor: a fraction up to 1")
    crcl = CrclFormula(
        name=crec.req("formula", str),
        text=crec.req("text", str),
        female_factor=factor,
        citation=Citation(
            source=csource,
            locator=crec.req("locator", str),
            quote=crec.req("text", str),
            note=sources[csource],
            rule_set="renal",
        ),
    )
    tables = {}
    for i, raw in enumerate(doc.req("drugs", list)):
        table = _table(path, f"drugs[{i}]", raw, sources)
        if table.drug in tables:
            raise KnowledgeError(path, f"drugs[{i}]: {table.drug} appears twice")
        tables[table.drug] = table
    return RenalDosing(crcl=crcl, tables=tables, sources=sources)

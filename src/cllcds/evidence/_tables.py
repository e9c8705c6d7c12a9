"""The review's Tables 1 and 2, as printed and as recomputed from the text, and the per-study
counts that feed the pooled estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from cllcds import knowledge
from cllcds.domain import (
    Citation,
    InputError,
    Measure,
    Reported,
    Route,
    Setting,
    Study,
    TableRow,
)

from ._register import agrees


class Basis(Enum):
    """Which numbers an analysis uses."""

    TEXT = "text"
    """Counts from the review's text (the default): the events and n the text prints, or sums of
    printed subgroup counts; where the text has no count, the table's percentage times its n."""
    PRINTED = "printed"
    """The tables as printed: events = round(% × n / 100) from the table row."""


class Outcome(Enum):
    """The response outcomes that can be pooled."""

    ORR = "orr"
    CR = "cr"

    @property
    def measure(self) -> Measure:
        return Measure.ORR if self is Outcome.ORR else Measure.CR


class Subset(Enum):
    """Which studies to pool: the review's Table 1 (monotherapy), Table 2 (combination), or
    both."""

    MONOTHERAPY = "monotherapy"
    COMBINATION = "combination"
    ALL = "all"

    def tables(self) -> tuple[int, ...]:
        return {Subset.MONOTHERAPY: (1,), Subset.COMBINATION: (2,), Subset.ALL: (1, 2)}[self]


@dataclass(frozen=True, slots=True)
class RecomputedRow:
    """A table row beside the same quantities recomputed from the review's text."""

    printed: TableRow
    text_n: int
    text_or_pct: float | None
    text_cr_pct: float | None
    or_agrees: bool | None
    cr_agrees: bool | None


def round_half_up(x: float) -> int:
    """Round to the nearest whole number, halves up (18.5 -> 19), as a reader of a table would;
    Python's ``round`` rounds halves to even."""
    return math.floor(x + 0.5)


def _text_pct(study: Study, measure: Measure) -> float | None:
    r = study.primary(measure)
    if r is None:
        return None
    return r.exact_percent if r.exact_percent is not None else r.percent


def table(number: int) -> tuple[TableRow, ...]:
    """The rows of Table ``number`` (1 or 2) exactly as printed."""
    if number not in (1, 2):
        raise InputError("table", number, "the review has Table 1 (monotherapy) and Table 2")
    return tuple(r for r in knowledge.review_tables() if r.table == number)


def recomputed(number: int) -> tuple[RecomputedRow, ...]:
    """Table ``number`` with each row's n, OR and CR recomputed from the text."""
    out = []
    for row in table(number):
        st = knowledge.study(row.study_id)
        t_or, t_cr = _text_pct(st, Measure.ORR), _text_pct(st, Measure.CR)
        text_n = st.population.n_evaluable
        assert text_n is not None  # a study in a table has patients
        out.append(
            RecomputedRow(
                printed=row,
                text_n=text_n,
                text_or_pct=t_or,
                text_cr_pct=t_cr,
                or_agrees=None if t_or is None else agrees(row.or_pct, t_or),
                cr_agrees=None if t_cr is None else agrees(row.cr_pct, t_cr),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PoolInput:
    """One study's events and n for a pooled estimate, with where they came from."""

    study_id: str
    label: str
    events: int
    n: int
    route: Route
    setting: Setting
    basis: str
    """A sentence: which numbers were used and why."""
    citation: Citation


def _route_group(route: Route) -> str:
    return "iv" if route is Route.IV else "sc"


def route_group(p: PoolInput) -> str:
    """The route subgroup of a pooled study: ``iv`` or ``sc`` (any subcutaneous maintenance)."""
    return _route_group(p.route)


def _printed_parts(study: Study, orr: Reported, n: int) -> list[tuple[Measure, int]] | None:
    """The printed CR, PR (and nPR) counts of the ORR's population, when the text gives them."""
    parts: list[tuple[Measure, int]] = []
    for m in (Measure.CR, Measure.PR, Measure.NPR):
        hits = [
            r
            for r in study.reported(m)
            if r.population == orr.population
            and r.count is not None
            and not r.derived
            and (r.denominator or n) == n
        ]
        if hits and hits[0].count is not None:
            parts.append((m, hits[0].count))
    have = {m for m, _ in parts}
    return parts if {Measure.CR, Measure.PR} <= have else None


def pool_inputs(outcome: Outcome, subset: Subset, basis: Basis = Basis.TEXT) -> list[PoolInput]:
    """Events and n per study for pooling ``outcome`` over ``subset``.

    With :attr:`Basis.TEXT`, each study's count comes from the text (its primary value for the
    outcome, which may be a documented sum of printed subgroup counts); where the text prints a
    percentage only, the count is that percentage of the denominator, rounded; where the text
    gives nothing, the table row is used and the basis says so.
    """
    out = []
    for row in knowledge.review_tables():
        if row.table not in subset.tables():
            continue
        st = knowledge.study(row.study_id)
        table_pct = row.or_pct if outcome is Outcome.ORR else row.cr_pct
        table_cite = Citation(
            knowledge.SEED_SOURCE,
            f"Table {row.table}, row {row.row} ({row.reference})",
            quote=f"{row.n_evaluable} {row.or_pct:g}/{row.cr_pct:g}",
        )
        from_table = (
            round_half_up(table_pct * row.n_evaluable / 100),
            row.n_evaluable,
            f"Table {row.table} as printed: {table_pct:g}% of {row.n_evaluable}",
            table_cite,
        )
        text = st.primary(outcome.measure) if basis is Basis.TEXT else None
        if text is None:
            events, n, why, cite = from_table
            if basis is Basis.TEXT:
                why += " (the text gives no count)"
        elif text.count is not None:
            n = text.denominator or st.population.n_evaluable or row.n_evaluable
            events, cite = text.count, text.citation
            why = f"text: {text.count}/{n}" + (f" ({text.citation.note})" if text.derived else "")
        else:
            assert text.percent is not None
            n = text.denominator or st.population.n_evaluable or row.n_evaluable
            parts = _printed_parts(st, text, n) if outcome is Outcome.ORR else None
            if parts is not None:
                events, cite = sum(c for _, c in parts), text.citation
                why = (
                    "text: "
                    + " + ".join(f"{c} {m.value.upper()}" for m, c in parts)
                    + f" = {events} of {n} (the printed ORR is {text.percent:g}%)"
                )
            else:
                events, cite = round_half_up(text.percent * n / 100), text.citation
                why = f"text: {text.percent:g}% of {n}, rounded to {events} patients"
        out.append(
            PoolInput(
                study_id=st.id,
                label=row.reference,
                events=events,
                n=n,
                route=st.route,
                setting=st.setting,
                basis=why,
                citation=cite,
            )
        )
    return out

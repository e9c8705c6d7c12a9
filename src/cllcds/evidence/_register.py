"""The consistency register: where the review disagrees with itself, found by code.

Nothing in this module is a list of known errors. It compares, for every study:

* each row of Tables 1 and 2 with the study's values in the text (n evaluable, % OR, % CR),
  and with the percentages recomputed from the text's own counts;
* every printed percentage with the count and denominator printed beside it, and, where only a
  percentage is printed, whether any whole number of patients out of the denominator gives it;
* response categories with their totals (CR + PR + nPR against ORR; all categories against the
  number evaluated), and a table's CR against its OR;
* values printed in an impossible form (kept in the data's ``printed`` field);
* the table's citation label with the bibliography.

For each disagreement it gives the table value, the text value, the value recomputed from
counts, and the most likely reading, which is worked out from the numbers (columns swapped,
counts printed in place of percentages, a lost digit, truncation instead of rounding, a
different denominator), never typed in.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import Enum

from cllcds import knowledge
from cllcds.domain import (
    Citation,
    DoseSpec,
    Drug,
    Measure,
    NotFoundError,
    Reported,
    Study,
    TableRow,
)

PRINT_ROUNDING_TOLERANCE = 0.5 + 1e-9
"""A printed whole percentage agrees with an exact value when it is the exact value rounded
(either way at a half): |printed - exact| <= 0.5."""

CATEGORY_SUM_TOLERANCE = 1.5 + 1e-9
"""Three rounded percentages (CR, PR, nPR) may each be off by 0.5, so their sum may differ from
the rounded ORR by up to 1.5 without any error in the source."""

DENOMINATOR_SEARCH = 5
"""How far from the stated denominator the register looks for one that explains a percentage."""

_RESPONSE_PARTS = (Measure.CR, Measure.PR, Measure.NPR)
_RESPONSE_CATEGORIES = (
    Measure.CR,
    Measure.PR,
    Measure.NPR,
    Measure.SD,
    Measure.PD,
    Measure.NR,
    Measure.DIED_ON_TREATMENT,
)


class Kind(Enum):
    """What sort of disagreement a register entry is."""

    TABLE_VS_TEXT = "table-vs-text"
    PERCENT_VS_COUNT = "percent-vs-count"
    PERCENT_UNATTAINABLE = "percent-unattainable"
    CATEGORY_SUM = "category-sum"
    CATEGORIES_EXCEED_N = "categories-exceed-n"
    IMPOSSIBLE_VALUE = "impossible-value"
    CR_ABOVE_OR = "cr-above-or"
    CITATION_LABEL = "citation-label"
    SCHEDULE_VS_TEXT = "schedule-vs-text"


class Severity(Enum):
    """How much a disagreement matters to a reader of the numbers."""

    CONTRADICTION = "contradiction"
    """The values cannot both be right (off by one point or more, or impossible)."""
    ROUNDING = "rounding"
    """Off by less than one point: truncated instead of rounded, or similar."""
    LABEL = "label"
    """A naming difference that changes no number."""
    SIMPLIFICATION = "simplification"
    """The table shortens what the text says (a route, a step) without contradicting it."""


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One place where the review disagrees with itself."""

    study_id: str
    field: str
    kind: Kind
    severity: Severity
    description: str
    likely_reading: str
    table_value: float | None = None
    text_value: float | None = None
    recomputed: float | None = None
    citations: tuple[Citation, ...] = dc_field(default_factory=tuple)

    @property
    def key(self) -> str:
        """A stable identifier: study, field and kind."""
        return f"{self.study_id}:{self.field}:{self.kind.value}"


# --------------------------------------------------------------------------------------------
# Number helpers


def agrees(printed: float, exact: float) -> bool:
    """Whether a printed (rounded) percentage agrees with an exact one."""
    return abs(printed - exact) <= PRINT_ROUNDING_TOLERANCE


def _severity(printed: float, exact: float) -> Severity:
    return Severity.ROUNDING if abs(printed - exact) < 1 else Severity.CONTRADICTION


def attainable(percent: float, n: int) -> list[int]:
    """Every whole count out of ``n`` whose percentage rounds to ``percent``."""
    lo = max(0, math.floor((percent - 0.5) * n / 100))
    hi = min(n, math.ceil((percent + 0.5) * n / 100))
    return [c for c in range(lo, hi + 1) if agrees(percent, 100 * c / n)]


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}".rstrip("0").rstrip(".") if not float(x).is_integer() else str(int(x))


def _denominators_explaining(percent: float, count: int | None, n: int) -> list[int]:
    """Denominators near ``n`` that make ``percent`` exact (with ``count`` when known)."""
    out = []
    for d in range(max(1, n - DENOMINATOR_SEARCH), n + DENOMINATOR_SEARCH + 1):
        if d == n:
            continue
        if count is not None:
            if count <= d and agrees(percent, 100 * count / d):
                out.append(d)
        elif attainable(percent, d):
            out.append(d)
    return sorted(out, key=lambda d: (abs(d - n), d))


def explain_percent(printed: float, count: int | None, n: int) -> str:
    """The most likely reading of a printed percentage that disagrees with ``count`` of ``n``.

    Tried in order: a digit lost in print, truncation instead of rounding, a nearby denominator,
    a nearby count.
    """
    exact = 100 * count / n if count is not None else None
    if exact is not None:
        right = round(exact)
        p = _fmt(printed)
        if str(right) != p and str(right).startswith(p):
            return f"a digit lost in print: {right}% ({count}/{n})"
        if math.floor(exact) == printed and not agrees(printed, exact):
            return f"truncated instead of rounded: {exact:.1f}% rounds to {right}%"
    dens = _denominators_explaining(printed, count, n)
    if dens:
        d = dens[0]
        what = f"{count}/{d}" if count is not None else f"a count out of {d}"
        return f"the percentage was computed over {d} patients ({what} = {printed:g}%), not {n}"
    counts = attainable(printed, n)
    if counts and exact is not None:
        return (
            f"{printed:g}% corresponds to {counts[0]}/{n}; "
            f"the printed count {count} gives {exact:.1f}%"
        )
    if exact is not None:
        return f"the count is likely right: {count}/{n} = {exact:.1f}%"
    return f"no whole number of patients out of {n} gives {printed:g}%"


# --------------------------------------------------------------------------------------------
# Checks


def _text_value(study: Study, measure: Measure) -> Reported | None:
    return study.primary(measure)


def _table_checks(row: TableRow, study: Study) -> Iterable[Discrepancy]:
    table_cite = Citation(
        source=knowledge.SEED_SOURCE,
        locator=f"Table {row.table}, row {row.row} ({row.reference})",
        quote=f"{row.reference} ... {row.n_evaluable} {row.or_pct:g}/{row.cr_pct:g}",
    )
    n_text = study.population.n_evaluable
    if row.n_evaluable != n_text:
        yield Discrepancy(
            study.id,
            "n_evaluable",
            Kind.TABLE_VS_TEXT,
            Severity.CONTRADICTION,
            f"Table {row.table} gives {row.n_evaluable} evaluable patients; the text {n_text}.",
            "the text's number, which its counts use" if n_text else "",
            table_value=row.n_evaluable,
            text_value=n_text,
            citations=(table_cite, study.population.citation),
        )
    if row.cr_pct > row.or_pct:
        text_or, text_cr = _text_value(study, Measure.ORR), _text_value(study, Measure.CR)
        reading = "impossible as printed: complete responses are part of the overall response"
        or_share = _share(text_or, None) if text_or is not None else None
        cr_share = _share(text_cr, None) if text_cr is not None else None
        if (
            or_share is not None
            and cr_share is not None
            and agrees(row.or_pct, cr_share)
            and agrees(row.cr_pct, or_share)
        ):
            reading = (
                f"the OR and CR columns are swapped: the text gives OR {or_share:.1f}% "
                f"and CR {cr_share:.1f}%"
            )
        yield Discrepancy(
            study.id,
            "cr_pct",
            Kind.CR_ABOVE_OR,
            Severity.CONTRADICTION,
            f"Table {row.table} prints CR {row.cr_pct:g}% above OR {row.or_pct:g}%.",
            reading,
            table_value=row.cr_pct,
            citations=(table_cite,),
        )
    for measure, table_pct, name in (
        (Measure.ORR, row.or_pct, "or_pct"),
        (Measure.CR, row.cr_pct, "cr_pct"),
    ):
        text = _text_value(study, measure)
        if text is None:
            continue
        recomputed = text.exact_percent
        text_pct = text.percent
        ok_printed = text_pct is None or agrees(table_pct, text_pct)
        ok_recomputed = recomputed is None or agrees(table_pct, recomputed)
        if ok_printed and ok_recomputed:
            continue
        reading = _table_reading(row, study, measure, table_pct, text)
        ref = recomputed if recomputed is not None else text_pct
        assert ref is not None  # a proportion has a count or a percent
        yield Discrepancy(
            study.id,
            name,
            Kind.TABLE_VS_TEXT,
            _severity(table_pct, ref),
            f"Table {row.table} gives {measure.value.upper()} {table_pct:g}%; the text gives "
            f"{_describe(text)}.",
            reading,
            table_value=table_pct,
            text_value=text_pct,
            recomputed=recomputed,
            citations=(table_cite, text.citation),
        )


def _describe(r: Reported) -> str:
    parts = []
    if r.percent is not None:
        parts.append(f"{r.percent:g}%")
    if r.count is not None and r.denominator is not None:
        parts.append(f"{r.count}/{r.denominator} = {100 * r.count / r.denominator:.1f}%")
    text = " (".join(parts) + (")" if len(parts) > 1 else "")
    return text + (" (derived)" if r.derived else "")


def _table_reading(
    row: TableRow, study: Study, measure: Measure, table_pct: float, text: Reported
) -> str:
    other = Measure.CR if measure is Measure.ORR else Measure.ORR
    other_text = _text_value(study, other)
    other_share = _share(other_text, None) if other_text is not None else None
    if other_share is not None and agrees(table_pct, other_share):
        return (
            f"columns swapped: {table_pct:g}% is the text's {other.value.upper()}; "
            f"the {measure.value.upper()} is {_describe(text)}"
        )
    # A count printed where a percentage belongs (e.g. 8 responders of 16 printed as "8").
    counts = {r.count: r for r in study.outcomes if r.count is not None and r.measure is measure}
    if float(table_pct).is_integer() and int(table_pct) in counts:
        r = counts[int(table_pct)]
        pct = r.exact_percent if r.exact_percent is not None else r.percent
        return (
            f"the table prints the count ({int(table_pct)} patients) in place of the "
            f"percentage ({_fmt(pct)}%)"
        )
    # The same when the text prints only the percentage: its count is percent × n.
    n = text.denominator or study.population.n_evaluable
    if text.count is None and text.percent is not None and n:
        implied = text.percent * n / 100
        if float(table_pct).is_integer() and abs(implied - table_pct) < 0.5:
            return (
                f"the table prints the count ({int(table_pct)} of {n} patients) in place of "
                f"the percentage ({text.percent:g}%)"
            )
    if text.count is not None and text.denominator is not None:
        return explain_percent(table_pct, text.count, text.denominator)
    if text.percent is not None:
        return f"the text's {text.percent:g}%"
    return "the text's value"


def _impossible(r: Reported) -> bool:
    """Whether a value's printed form is impossible for its measure (a percentage over 100)."""
    try:
        printed = float(r.printed.rstrip("%"))
    except ValueError:
        return False
    return r.measure.is_proportion and r.percent is not None and not 0 <= printed <= 100


def _reported_checks(study: Study) -> Iterable[Discrepancy]:
    for r in study.outcomes:
        if r.printed and _impossible(r):
            yield Discrepancy(
                study.id,
                r.measure.value,
                Kind.IMPOSSIBLE_VALUE,
                Severity.CONTRADICTION,
                f"The review prints {r.printed!r} for {r.measure.value} ({r.population}), "
                "impossible as a percentage.",
                f"{_fmt(r.percent if r.percent is not None else r.value)}"
                f"{'%' if r.percent is not None else ''}: {r.citation.note}",
                text_value=r.percent if r.percent is not None else r.value,
                citations=(r.citation,),
            )
        if r.derived or r.percent is None or r.denominator is None:
            continue
        if r.count is not None:
            exact = 100 * r.count / r.denominator
            if not agrees(r.percent, exact):
                yield Discrepancy(
                    study.id,
                    f"{r.measure.value} ({r.population})",
                    Kind.PERCENT_VS_COUNT,
                    _severity(r.percent, exact),
                    f"{r.count} of {r.denominator} is {exact:.1f}%, printed as {r.percent:g}%.",
                    explain_percent(r.percent, r.count, r.denominator),
                    text_value=r.percent,
                    recomputed=exact,
                    citations=(r.citation,),
                )
        elif not r.printed and not attainable(r.percent, r.denominator):
            yield Discrepancy(
                study.id,
                f"{r.measure.value} ({r.population})",
                Kind.PERCENT_UNATTAINABLE,
                Severity.ROUNDING,
                f"No whole number of the {r.denominator} patients gives {r.percent:g}%.",
                explain_percent(r.percent, None, r.denominator),
                text_value=r.percent,
                citations=(r.citation,),
            )


def _group_key(r: Reported) -> tuple[str, int | None]:
    return (r.population, r.denominator)


def _share(r: Reported, n: int | None) -> float | None:
    if r.count is not None and (r.denominator or n):
        return 100 * r.count / (r.denominator or n or 1)
    return r.percent


def _part_check(
    study: Study, population: str, orr: Reported, part: Reported
) -> Iterable[Discrepancy]:
    both_counts = orr.count is not None and part.count is not None
    a = float(part.count) if both_counts and part.count is not None else _share(part, None)
    b = float(orr.count) if both_counts and orr.count is not None else _share(orr, None)
    if a is None or b is None or a <= b + (0 if both_counts else CATEGORY_SUM_TOLERANCE):
        return
    unit = "" if both_counts else "%"
    yield Discrepancy(
        study.id,
        f"orr ({population})",
        Kind.CATEGORY_SUM,
        Severity.CONTRADICTION,
        f"{part.measure.value.upper()} {a:g}{unit} exceeds the ORR {b:g}{unit}.",
        "a part of the response cannot exceed the whole; one of the two is misprinted",
        text_value=b,
        recomputed=a,
        citations=(orr.citation, part.citation),
    )


def _sum_check(
    study: Study, population: str, n: int | None, orr: Reported, parts: list[Reported]
) -> Iterable[Discrepancy]:
    cites = (orr.citation, *(p.citation for p in parts))
    names = " + ".join(p.measure.value.upper() for p in parts)
    if orr.count is not None and all(p.count is not None for p in parts):
        total = sum(p.count or 0 for p in parts)
        if total != orr.count:
            yield Discrepancy(
                study.id,
                f"orr ({population})",
                Kind.CATEGORY_SUM,
                Severity.CONTRADICTION,
                f"{names} = {total} patients but the ORR is {orr.count}.",
                f"{total} responders" + (f" of {n}" if n else ""),
                text_value=orr.count,
                recomputed=total,
                citations=cites,
            )
    elif orr.percent is not None and all(p.percent is not None for p in parts):
        total_pct = sum(p.percent or 0.0 for p in parts)
        if abs(total_pct - orr.percent) > CATEGORY_SUM_TOLERANCE:
            yield Discrepancy(
                study.id,
                f"orr ({population})",
                Kind.CATEGORY_SUM,
                Severity.CONTRADICTION,
                f"{names} = {total_pct:g}% but the ORR is printed as {orr.percent:g}%.",
                "one of the parts is misprinted; see the percent-vs-count entries",
                text_value=orr.percent,
                recomputed=total_pct,
                citations=cites,
            )
    elif orr.percent is not None and n and all(p.count is not None for p in parts):
        total = sum(p.count or 0 for p in parts)
        exact = 100 * total / n
        if not agrees(orr.percent, exact):
            yield Discrepancy(
                study.id,
                f"orr ({population})",
                Kind.CATEGORY_SUM,
                _severity(orr.percent, exact),
                f"{names} = {total} of {n} ({exact:.1f}%) but the ORR is printed as "
                f"{orr.percent:g}%.",
                explain_percent(orr.percent, total, n),
                text_value=orr.percent,
                recomputed=exact,
                citations=cites,
            )


def _category_checks(study: Study) -> Iterable[Discrepancy]:
    groups: dict[tuple[str, int | None], dict[Measure, Reported]] = defaultdict(dict)
    for r in study.outcomes:
        if r.measure in (Measure.ORR, *_RESPONSE_CATEGORIES) and not r.derived:
            groups[_group_key(r)].setdefault(r.measure, r)
    for (population, n), by_measure in groups.items():
        orr = by_measure.get(Measure.ORR)
        if orr is None:
            pass
        elif Measure.CR in by_measure and Measure.PR in by_measure:
            # The whole breakdown is printed: CR + PR (+ nPR) must make the ORR.
            yield from _sum_check(
                study,
                population,
                n,
                orr,
                [by_measure[m] for m in _RESPONSE_PARTS if m in by_measure],
            )
        else:
            # Only part of the breakdown is printed: no part may exceed the ORR.
            for part in (by_measure[m] for m in _RESPONSE_PARTS if m in by_measure):
                yield from _part_check(study, population, orr, part)
        cats = [by_measure[m] for m in _RESPONSE_CATEGORIES if m in by_measure]
        if n and cats and all(c.count is not None for c in cats):
            total = sum(c.count or 0 for c in cats)
            if total > n:
                yield Discrepancy(
                    study.id,
                    f"response categories ({population})",
                    Kind.CATEGORIES_EXCEED_N,
                    Severity.CONTRADICTION,
                    f"Response categories add up to {total} patients, more than the {n} evaluated.",
                    f"{total} patients were assessed, not {n}",
                    text_value=n,
                    recomputed=total,
                    citations=tuple(c.citation for c in cats),
                )


def _label_checks(row: TableRow, study: Study) -> Iterable[Discrepancy]:
    if row.reference != study.cited_as:
        yield Discrepancy(
            study.id,
            "reference",
            Kind.CITATION_LABEL,
            Severity.LABEL,
            f"Table {row.table} cites {row.reference!r}; the text cites {study.cited_as!r}.",
            f"the same study: {study.cited_as}",
            citations=(
                Citation(knowledge.SEED_SOURCE, f"Table {row.table}, row {row.row}"),
                study.population.citation,
            ),
        )


_DRUG_WORDS = re.compile(r"\b(Rituximab|FAMP|C ?TX)\b")
_DOSE = re.compile(
    r"(\d+(?:\s*[-–]\s*\d+)*)\s*(?:mg\b|iv\b|sc\b|civ\b|os\b)(\s*(?:iv|sc)?\s*(sqm2|mg/m2))?"
)
_WEEKS = re.compile(r"×\s*(\d+)\s*W\b")


@dataclass(frozen=True, slots=True)
class _TableDose:
    steps: tuple[float, ...]
    per_m2: bool
    text: str


def table_alemtuzumab_doses(schedule: str) -> list[_TableDose]:
    """The alemtuzumab doses a table row's schedule prints ("Campath 3-0-30 mg" → 3, 0, 30).

    Table 1 rows are alemtuzumab only; in Table 2 the Campath part runs from the word
    "Campath" to the next drug's name.
    """
    start = schedule.find("Campath")
    if start < 0:
        part = schedule
    else:
        part = schedule[start + len("Campath") :]
        nxt = _DRUG_WORDS.search(part)
        if nxt:
            part = part[: nxt.start()]
    out = []
    for m in _DOSE.finditer(part):
        steps = tuple(float(x) for x in re.split(r"\s*[-–]\s*", m.group(1)))
        out.append(_TableDose(steps, bool(m.group(3)), m.group(0).strip()))
    return out


def _regimen_alemtuzumab(study: Study) -> tuple[str, list[DoseSpec], int] | None:
    for rid in study.regimen_ids:
        try:
            reg = knowledge.regimen(rid)
        except NotFoundError:
            continue
        doses = [r.dose for r in (*reg.run_in, *reg.components) if r.drug is Drug.ALEMTUZUMAB]
        return rid, doses, reg.cycles.length_days * reg.cycles.count
    return None


def _lost_digit(steps: tuple[float, ...]) -> str | None:
    """``3-0-30`` → ``3-10-30``: a zero step inside a rising series lost a leading digit."""
    fixed = list(steps)
    for i, x in enumerate(steps):
        if x == 0 and 0 < i < len(steps) - 1:
            for lead in range(1, 10):
                guess = float(f"{lead}0")
                if steps[i - 1] < guess < steps[i + 1]:
                    fixed[i] = guess
                    break
            else:
                return None
    return "-".join(f"{x:g}" for x in fixed)


def _schedule_checks(row: TableRow, study: Study) -> Iterable[Discrepancy]:
    found = _regimen_alemtuzumab(study)
    cite_row = Citation(
        knowledge.SEED_SOURCE,
        f"Table {row.table}, row {row.row} ({row.reference})",
        quote=row.schedule,
    )
    doses = table_alemtuzumab_doses(row.schedule)
    for d in doses:
        if 0 in d.steps:
            guess = _lost_digit(d.steps)
            yield Discrepancy(
                study.id,
                "schedule",
                Kind.IMPOSSIBLE_VALUE,
                Severity.CONTRADICTION,
                f"Table {row.table} prints alemtuzumab {d.text!r}: a 0 mg step.",
                f"a digit lost in print: {guess} mg" if guess else "a misprinted dose",
                citations=(cite_row,),
            )
    if found is None or not doses:
        return
    rid, specs, length_days = found
    flat = [s.amount for s in specs if s.basis.value == "mg"]
    table_max = max(max(d.steps) for d in doses)
    if any(d.per_m2 for d in doses) and flat:
        yield Discrepancy(
            study.id,
            "schedule",
            Kind.SCHEDULE_VS_TEXT,
            Severity.CONTRADICTION,
            f"Table {row.table} prints alemtuzumab {table_max:g} per m² ({doses[0].text!r}); "
            f"the text gives a flat {max(flat):g} mg (regimen {rid}).",
            f"a flat {max(flat):g} mg: {table_max:g} mg/m² would pass the 30 mg single-dose "
            "ceiling for any adult",
            table_value=table_max,
            text_value=max(flat),
            citations=(cite_row,),
        )
    elif flat and table_max != max(flat):
        yield Discrepancy(
            study.id,
            "schedule",
            Kind.SCHEDULE_VS_TEXT,
            Severity.CONTRADICTION,
            f"Table {row.table} gives alemtuzumab up to {table_max:g} mg; the text's regimen "
            f"({rid}) goes up to {max(flat):g} mg.",
            "the two describe different doses; the regimen library offers the text's version "
            "by default",
            table_value=table_max,
            text_value=max(flat),
            citations=(cite_row,),
        )
    weeks = [int(w) for w in _WEEKS.findall(row.schedule)]
    if row.table == 1 and len(weeks) == 1 and length_days % 7 == 0 and weeks[0] != length_days // 7:
        yield Discrepancy(
            study.id,
            "schedule",
            Kind.SCHEDULE_VS_TEXT,
            Severity.CONTRADICTION,
            f"Table 1 gives {weeks[0]} weeks; the text's schedule runs {length_days // 7} weeks.",
            f"{length_days // 7} weeks, as the text says",
            table_value=weeks[0],
            text_value=length_days // 7,
            citations=(cite_row,),
        )
    if row.table == 1 and row.route and row.route != study.route.value:
        yield Discrepancy(
            study.id,
            "route",
            Kind.SCHEDULE_VS_TEXT,
            Severity.SIMPLIFICATION,
            f"Table 1 gives the route {row.route!r}; the text describes {study.route.value!r}.",
            f"{study.route.value}: the table names the maintenance route only",
            citations=(cite_row, study.population.citation),
        )


def register(
    studies: Sequence[Study] | None = None, rows: Sequence[TableRow] | None = None
) -> tuple[Discrepancy, ...]:
    """Every disagreement of the review with itself, in study order.

    Parameters
    ----------
    studies
        The studies to check (default: every study of the evidence base).
    rows
        The table rows to compare them with (default: the review's Tables 1 and 2).

    Examples
    --------
    >>> from cllcds.evidence import register
    >>> any(d.study_id == "moreton2005" and d.kind.value == "cr-above-or" for d in register())
    True
    """
    chosen = list(knowledge.studies().values()) if studies is None else list(studies)
    rows_by_study: dict[str, list[TableRow]] = defaultdict(list)
    for row in knowledge.review_tables() if rows is None else rows:
        rows_by_study[row.study_id].append(row)
    out: list[Discrepancy] = []
    for st in chosen:
        for row in rows_by_study.get(st.id, []):
            out.extend(_table_checks(row, st))
            out.extend(_label_checks(row, st))
            out.extend(_schedule_checks(row, st))
        out.extend(_reported_checks(st))
        out.extend(_category_checks(st))
    return tuple(out)

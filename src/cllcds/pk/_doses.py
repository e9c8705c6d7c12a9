"""Dose tables: what is given, when, how and how fast.

A dose table is the event table of established PK tools (NONMEM/mrgsolve ``time``, ``amt``,
``rate``/``dur``, ``cmt``) reduced to what alemtuzumab needs: ``time_h`` (from the start of the
schedule), ``dose_mg``, ``route`` (``iv`` infusion or ``sc`` injection) and ``duration_h`` (the
infusion length; 0 for SC). A continuous infusion is an IV row with a long duration.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from cllcds.domain import Citation, InputError

COLUMNS = ("time_h", "dose_mg", "route", "duration_h")
"""Columns of a dose table file, in this order."""

MAX_DOSE_MG = 240.0
"""Largest single dose accepted: the largest dose in the model's data (Mould 2007, 3–240 mg)."""
MAX_TIME_H = 5.0 * 365 * 24
"""Latest dose time accepted (5 years): longer schedules are surely a unit error."""
LABEL_INFUSION_H = 2.0
"""Label: IV infusion over 2 hours (clinical-rules.md §1.2, L1/L2)."""


class DoseRoute(Enum):
    """How a dose enters the body."""

    IV = "iv"
    """Intravenous infusion at a constant rate over ``duration_h`` (> 0)."""
    SC = "sc"
    """Subcutaneous injection into a first-order depot (APPROXIMATION A1, pk-model.md §5)."""


@dataclass(frozen=True, slots=True)
class Dose:
    """One administration.

    Attributes
    ----------
    time_h
        Start of the administration, hours from the start of the schedule (≥ 0).
    dose_mg
        Amount given (mg, 0 to 240; 0 is a placeholder that gives nothing).
    route
        :class:`DoseRoute`.
    duration_h
        Infusion length for IV (> 0); 0 for SC.
    """

    time_h: float
    dose_mg: float
    route: DoseRoute
    duration_h: float

    def __post_init__(self) -> None:
        _check_row(self.time_h, self.dose_mg, self.route, self.duration_h, "dose")

    @property
    def end_h(self) -> float:
        """End of the administration (= start for SC)."""
        return self.time_h + self.duration_h


def _check_row(
    time_h: float, dose_mg: float, route: DoseRoute, duration_h: float, where: str
) -> None:
    if not math.isfinite(time_h) or not 0 <= time_h <= MAX_TIME_H:
        raise InputError(f"{where}: time_h", time_h, "give hours from the start, 0 to 43800")
    if not math.isfinite(dose_mg) or not 0 <= dose_mg <= MAX_DOSE_MG:
        raise InputError(
            f"{where}: dose_mg", dose_mg, f"give a dose in mg from 0 to {MAX_DOSE_MG:g}"
        )
    if not math.isfinite(duration_h) or duration_h < 0:
        raise InputError(f"{where}: duration_h", duration_h, "give hours, 0 or more")
    if route is DoseRoute.IV and duration_h <= 0:
        raise InputError(
            f"{where}: duration_h",
            duration_h,
            "an IV dose is an infusion: give its length in hours (the label says 2)",
        )
    if route is DoseRoute.SC and duration_h != 0:
        raise InputError(f"{where}: duration_h", duration_h, "an SC injection has duration 0")


@dataclass(frozen=True, slots=True)
class DoseTable:
    """An ordered, validated tuple of :class:`Dose` rows (sorted by start time).

    ``source`` says where the schedule comes from (a regimen, a file, the label).
    """

    doses: tuple[Dose, ...]
    source: str = ""
    citation: Citation | None = None

    def __post_init__(self) -> None:
        if not self.doses:
            raise InputError("doses", [], "give at least one dose")
        times = [d.time_h for d in self.doses]
        if times != sorted(times):
            raise InputError("doses", "unsorted", "sort the rows by time_h")

    def __len__(self) -> int:
        return len(self.doses)

    @property
    def has_sc(self) -> bool:
        """Whether any dose is subcutaneous (then outputs carry the SC approximation)."""
        return any(d.route is DoseRoute.SC for d in self.doses)

    @property
    def end_h(self) -> float:
        """When the last administration ends."""
        return max(d.end_h for d in self.doses)

    @property
    def total_mg(self) -> float:
        """Sum of all doses (mg)."""
        return sum(d.dose_mg for d in self.doses)

    def rows(self) -> list[dict[str, Any]]:
        """The table as JSON-ready rows."""
        return [
            {
                "time_h": d.time_h,
                "dose_mg": d.dose_mg,
                "route": d.route.value,
                "duration_h": d.duration_h,
            }
            for d in self.doses
        ]


def dose_table(rows: Iterable[Mapping[str, Any]], *, source: str = "") -> DoseTable:
    """Build a :class:`DoseTable` from mappings with the four :data:`COLUMNS`.

    Errors name the row (1-based, as a spreadsheet user counts data rows) and the field.

    Examples
    --------
    >>> t = dose_table([{"time_h": 0, "dose_mg": 3, "route": "iv", "duration_h": 2}])
    >>> t.total_mg
    3.0
    """
    doses: list[Dose] = []
    for i, row in enumerate(rows, start=1):
        where = f"row {i}"
        missing = [c for c in COLUMNS if c not in row or row[c] in (None, "")]
        if "duration_h" in missing and str(row.get("route", "")).strip().lower() == "sc":
            missing.remove("duration_h")
        if missing:
            raise InputError(f"{where}: {missing[0]}", None, f"give all of {', '.join(COLUMNS)}")
        values: dict[str, float] = {}
        for col in ("time_h", "dose_mg", "duration_h"):
            raw = row.get(col)
            raw = 0 if raw in (None, "") else raw
            try:
                values[col] = float(raw)
            except (TypeError, ValueError):
                raise InputError(f"{where}: {col}", raw, "give a number") from None
        route_raw = str(row["route"]).strip().lower()
        try:
            route = DoseRoute(route_raw)
        except ValueError:
            raise InputError(f"{where}: route", row["route"], "use iv or sc") from None
        t, amount, dur = values["time_h"], values["dose_mg"], values["duration_h"]
        _check_row(t, amount, route, dur, where)
        doses.append(Dose(t, amount, route, dur))
    if not doses:
        raise InputError("doses", "no rows", "give at least one dose row")
    for i in range(1, len(doses)):
        if doses[i].time_h < doses[i - 1].time_h:
            raise InputError(
                f"row {i + 1}: time_h",
                doses[i].time_h,
                f"rows must be in time order (row {i} is at {doses[i - 1].time_h:g} h)",
            )
    return DoseTable(tuple(doses), source=source)


def read_dose_csv(path: Path | str) -> DoseTable:
    """Read a dose table from a CSV file with a header ``time_h,dose_mg,route,duration_h``.

    Blank lines and lines starting with ``#`` are ignored.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("--doses", str(p), f"give a readable CSV file ({exc.strerror})") from None
    return parse_dose_csv(text, source=str(p))


def parse_dose_csv(text: str, *, source: str = "") -> DoseTable:
    """Parse dose-table CSV text (see :func:`read_dose_csv`)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(
            "header", ",".join(header), f"the CSV header must name {', '.join(COLUMNS)}"
        )
    rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    return dose_table(rows, source=source)


LABEL_SCHEDULE = Citation(
    "L1",
    "clinical-rules.md §1.2 (US label D&A; L1/L2)",
    quote="",
    note=(
        "3 mg, 10 mg, 30 mg as 2-h IV infusions on days 1-3, then 30 mg three times a week on "
        "alternate days for 12 weeks in all (38 doses, 1093 mg), as simulated in pk-model.md §4."
    ),
)


def label_iv_schedule(weeks: int = 12, *, start_h: float = 0.0) -> DoseTable:
    """The label IV schedule as a dose table (built in; not the regimen library).

    3 mg at 0 h, 10 mg at 24 h, then 30 mg at days 2, 4, 6 of every week (alternate days, three
    times a week) to the end of ``weeks`` weeks; every dose a 2-h IV infusion (US label D&A,
    clinical-rules.md §1.2, L1/L2). With 12 weeks: 38 doses, 1093 mg, last dose on day 83 —
    the schedule simulated in pk-model.md §4.

    Examples
    --------
    >>> t = label_iv_schedule()
    >>> len(t), t.total_mg, t.doses[-1].time_h / 24
    (38, 1093.0, 83.0)
    """
    if not 1 <= weeks <= 52:
        raise InputError("weeks", weeks, "give 1 to 52 weeks")
    rows: list[Dose] = [
        Dose(start_h, 3.0, DoseRoute.IV, LABEL_INFUSION_H),
        Dose(start_h + 24.0, 10.0, DoseRoute.IV, LABEL_INFUSION_H),
    ]
    for week in range(weeks):
        for day in (2, 4, 6):
            t = start_h + 24.0 * (7 * week + day)
            rows.append(Dose(t, 30.0, DoseRoute.IV, LABEL_INFUSION_H))
    return DoseTable(
        tuple(rows), source=f"label IV schedule, {weeks} weeks", citation=LABEL_SCHEDULE
    )


def continuous_infusion(
    mg_per_day: float = 15.0, days: float = 6.0, *, start_h: float = 0.0
) -> DoseTable:
    """A continuous IV infusion as one dose row (``mg_per_day · days`` over ``24 · days`` h).

    The default, 15 mg/day for 6 days, is the continuous regimen of pk-model.md §2/§5 A4 (no
    published PK comparator).
    """
    if not (mg_per_day > 0 and days > 0):
        raise InputError("continuous infusion", (mg_per_day, days), "give positive rate and days")
    return DoseTable(
        (Dose(start_h, mg_per_day * days, DoseRoute.IV, 24.0 * days),),
        source=f"continuous IV infusion {mg_per_day:g} mg/day × {days:g} d",
    )


def _as_datetime(x: Any, field: str) -> datetime:
    if isinstance(x, datetime):
        return x
    if isinstance(x, date):
        return datetime.combine(x, time(0, 0))
    if isinstance(x, str):
        try:
            return datetime.fromisoformat(x)
        except ValueError:
            pass
    raise InputError(field, x, "give an ISO date or date-time")


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:h\b|hr|hour)", re.IGNORECASE)
_CIV_HOURS = 24.0
"""A continuous-IV administration of a plan lasts one day (AdministrationRoute.CIV)."""


def doses_from_administrations(
    administrations: Sequence[Any],
    start: date | datetime,
    *,
    default_infusion_h: float = LABEL_INFUSION_H,
    source: str = "",
) -> DoseTable:
    """Turn dated administrations (e.g. ``cllcds.course.plan(...).administrations``) into a
    dose table.

    Each administration may be a mapping or an object with: a date or date-time (``date``,
    ``when``, ``at`` or ``datetime``), ``dose_mg``, and optionally ``drug`` (administrations of
    other drugs are skipped: the model is alemtuzumab's), ``route`` (an enum or string: ``iv``,
    ``civ`` for a 24-h continuous infusion, ``sc``; default IV), ``duration_h``, or an
    ``infusion`` text such as "over 2 hours" (default: the label's 2-h infusion for IV). Dates
    without a time are taken at 00:00. Times are hours from ``start``.

    Examples
    --------
    >>> from datetime import date
    >>> adm = [{"date": date(2024, 1, 1), "dose_mg": 3}, {"date": date(2024, 1, 2), "dose_mg": 10}]
    >>> [d["time_h"] for d in doses_from_administrations(adm, date(2024, 1, 1)).rows()]
    [0.0, 24.0]
    """
    t0 = _as_datetime(start, "start")
    rows: list[dict[str, Any]] = []
    for i, adm in enumerate(administrations, start=1):
        drug = _get(adm, "drug")
        if drug is not None and str(getattr(drug, "value", drug)).lower() != "alemtuzumab":
            continue
        when = _get(adm, "when", "at", "datetime", "date")
        if when is None:
            raise InputError(f"administration {i}", adm, "needs a date")
        at = _as_datetime(when, f"administration {i}: date")
        dose = _get(adm, "dose_mg")
        route_raw = _get(adm, "route")
        route_s = str(getattr(route_raw, "value", route_raw) or "iv").lower()
        duration = _get(adm, "duration_h")
        if route_s.startswith(("sc", "sub")):
            route_s, duration = "sc", 0.0
        elif route_s == "civ":
            route_s = "iv"
            duration = _CIV_HOURS if duration is None else duration
        elif route_s in ("iv", "intravenous"):
            route_s = "iv"
        else:
            raise InputError(f"administration {i}: route", route_raw, "use iv, civ or sc")
        if duration is None:
            match = _HOURS.search(str(_get(adm, "infusion") or ""))
            duration = float(match.group(1)) if match else default_infusion_h
        rows.append(
            {
                "time_h": (at - t0) / timedelta(hours=1),
                "dose_mg": dose,
                "route": route_s,
                "duration_h": duration,
            }
        )
    if not rows:
        raise InputError("administrations", len(administrations), "no alemtuzumab is given")
    rows.sort(key=lambda r: float(r["time_h"]))
    return dose_table(rows, source=source or "course plan")

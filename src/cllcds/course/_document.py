"""Reading a course document (``cllcds.course/1``) into a :class:`~cllcds.domain.Course`.

Every problem in the document is collected, each naming its place (``events[4].value``), and
raised together as one :class:`~cllcds.domain.DocumentError`; nothing half-read is returned.
Unknown keys are errors, so typos surface.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from cllcds import knowledge
from cllcds.domain import (
    COURSE_FORMAT,
    AdministrationRoute,
    AdverseEvent,
    Antiviral,
    AntiviralIntent,
    Assessment,
    AssessmentEvent,
    AutoimmuneCytopenia,
    AutoimmuneKind,
    Baseline,
    Cellularity,
    CmvAntigenemia,
    CmvPcr,
    CmvPolicy,
    CmvUnit,
    Course,
    Cytogenetics,
    DocumentError,
    DoseGiven,
    DoseHeld,
    Esa,
    EsaDoseUnit,
    Event,
    EventType,
    Fever,
    GrowthFactor,
    Infection,
    InfusionReaction,
    InputError,
    LabelRuleSet,
    LabEvent,
    LabResult,
    LymphNode,
    Marrow,
    Mrd,
    MrdSample,
    Note,
    Patient,
    PriorResponse,
    PriorTherapy,
    Progression,
    ProgressionKind,
    ProphylaxisAction,
    ProphylaxisEvent,
    ProphylaxisKind,
    Resolved,
    ResponseCriteria,
    RuleSets,
    Serostatus,
    Sex,
    StopReason,
    ToxicityScale,
    Transformation,
    Transfusion,
    TreatmentStopped,
)
from cllcds.rules import cytopenia

T = TypeVar("T")

TOP_KEYS = frozenset(
    {"format", "as_of", "rule_sets", "patient", "regimen", "start_date", "baseline", "events"}
)
EVENT_COMMON = frozenset({"date", "time", "type", "id", "supersedes"})
EVENT_KEYS: Mapping[EventType, frozenset[str]] = {
    EventType.DOSE: frozenset({"drug", "dose_mg", "route"}),
    EventType.DOSE_HELD: frozenset({"reason"}),
    EventType.LAB: frozenset({"code", "value", "unit"}),
    EventType.CMV_PCR: frozenset({"value", "unit", "result"}),
    EventType.CMV_ANTIGENEMIA: frozenset({"value", "positive_cells"}),
    EventType.INFUSION_REACTION: frozenset({"grade", "resolved"}),
    EventType.FEVER: frozenset({"temperature_c", "duration_h", "resolved"}),
    EventType.INFECTION: frozenset({"grade", "description", "serious", "resolved"}),
    EventType.AUTOIMMUNE_CYTOPENIA: frozenset({"kind"}),
    EventType.ANTIVIRAL: frozenset({"drug", "dose_mg", "start", "stop", "intent", "frequency"}),
    EventType.GROWTH_FACTOR: frozenset({"drug"}),
    EventType.TRANSFUSION: frozenset({"product"}),
    EventType.ASSESSMENT: frozenset(
        {
            "lymph_nodes",
            "liver_cm",
            "spleen_cm",
            "spleen_length_cm",
            "marrow",
            "constitutional_symptoms",
            "mrd",
            "transformation",
            "cytopenia_due_to_cll",
        }
    ),
    EventType.NOTE: frozenset({"text"}),
    EventType.ADVERSE_EVENT: frozenset({"grade", "term", "serious", "resolved"}),
    EventType.RESOLVED: frozenset({"event_id"}),
    EventType.PROGRESSION: frozenset({"kind", "description"}),
    EventType.ESA: frozenset({"drug", "dose", "dose_unit", "start", "stop"}),
    EventType.PROPHYLAXIS: frozenset({"agent", "action", "drug", "dose_mg", "frequency"}),
    EventType.TREATMENT_STOPPED: frozenset({"reason", "text"}),
}
ASSESSMENT_KEYS = EVENT_KEYS[EventType.ASSESSMENT]
_ALLOWED = {t: EVENT_COMMON | keys for t, keys in EVENT_KEYS.items()}

TEMPERATURE_RANGE_C = (30.0, 45.0)
"""Body temperatures outside this range are refused (likely °F or a typing error)."""
CMV_PCR_MAX = 1e9
"""Sanity limit for a CMV viral load (IU/mL or copies/mL)."""
ANTIGENEMIA_MAX = 200_000.0
"""pp65-positive cells per 2 × 10^5 leukocytes cannot exceed the leukocytes counted."""
FEVER_DURATION_MAX_H = 24.0 * 60
"""A fever lasting longer than 60 days is refused as a typing error (hours, not minutes)."""


class _Collector:
    """Collects problems; each check returns a value or ``None`` and records the problem."""

    def __init__(self) -> None:
        self.problems: list[InputError] = []
        self.offsets: dict[dt.timedelta, tuple[str, str]] = {}
        """UTC offsets seen in ISO datetimes: one document keeps one clock (see datetime)."""

    def add(self, field: str, value: object, fix: str) -> None:
        self.problems.append(InputError(field, value, fix))

    def guard(self, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except InputError as exc:
            self.problems.append(exc)
            return None

    def keys(self, raw: object, allowed: frozenset[str], where: str) -> Mapping[str, Any]:
        if not isinstance(raw, Mapping):
            self.add(where, raw, "expected an object ({...})")
            return {}
        for k in raw:
            if k not in allowed:
                self.add(
                    f"{where}.{k}" if where else k,
                    raw[k],
                    f"unknown key; allowed: {', '.join(sorted(allowed))}",
                )
        return raw

    def date(self, raw: object, where: str, *, required: bool = True) -> dt.date | None:
        d, _ = self.datetime(raw, where, required=required)
        return d

    def datetime(
        self, raw: object, where: str, *, required: bool = True
    ) -> tuple[dt.date | None, dt.time | None]:
        if raw is None:
            if required:
                self.add(where, None, "give a date as YYYY-MM-DD")
            return None, None
        if isinstance(raw, str):
            try:
                if "T" in raw:
                    stamp = dt.datetime.fromisoformat(raw)
                    offset = stamp.utcoffset()
                    if offset is not None:
                        # Dates and times are the clinic's local ones; times with different UTC
                        # offsets cannot be ordered on one local clock without guessing.
                        self.offsets.setdefault(offset, (where, raw))
                        if len(self.offsets) > 1:
                            first_where, first_raw = next(iter(self.offsets.values()))
                            self.add(
                                where,
                                raw,
                                f"has a UTC offset other than {first_where} ({first_raw}): give "
                                "every time in the clinic's local time, one offset per document",
                            )
                            return None, None
                    return stamp.date(), stamp.time().replace(tzinfo=None)
                if len(raw) == 10:
                    return dt.date.fromisoformat(raw), None
            except ValueError:
                pass
        self.add(where, raw, "give a date as YYYY-MM-DD (or YYYY-MM-DDThh:mm)")
        return None, None

    def clock(self, raw: object, where: str) -> dt.time | None:
        if raw is None:
            return None
        if isinstance(raw, str) and len(raw) in (5, 8) and raw[2] == ":":
            try:
                return dt.time.fromisoformat(raw)
            except ValueError:
                pass
        self.add(where, raw, "give the clock time as HH:MM (24-hour), e.g. 08:30")
        return None

    def number(
        self,
        raw: object,
        where: str,
        *,
        required: bool = True,
        low: float | None = None,
        high: float | None = None,
        fix: str = "",
    ) -> float | None:
        if raw is None:
            if required:
                self.add(where, None, fix or "give a number")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.add(where, raw, fix or "give a number")
            return None
        x = float(raw)
        if not math.isfinite(x) or (low is not None and x < low) or (high is not None and x > high):
            self.add(where, raw, fix or _range_fix(low, high))
            return None
        return x

    def integer(self, raw: object, where: str, low: int, high: int) -> int | None:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.add(where, raw, f"give a whole number from {low} to {high}")
            return None
        return raw

    def boolean(self, raw: object, where: str) -> bool | None:
        if raw is None:
            return None
        if not isinstance(raw, bool):
            self.add(where, raw, "give true or false")
            return None
        return raw

    def text(self, raw: object, where: str, *, required: bool = False) -> str:
        if raw is None:
            if required:
                self.add(where, None, "give a text value")
            return ""
        if not isinstance(raw, str):
            self.add(where, raw, "give a text value")
            return ""
        if required and not raw.strip():
            # A blank required text would leave the event unread: refuse it, never drop it.
            self.add(where, raw, "give a non-blank text value")
            return ""
        return raw

    def enum(self, enum: type[Any], raw: object, where: str, default: Any = None) -> Any:
        if raw is None:
            return default
        try:
            return enum(raw)
        except ValueError:
            valid = ", ".join(repr(m.value) for m in enum)
            self.add(where, raw, f"use one of: {valid}")
            return default


def _range_fix(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"give a number from {low:g} to {high:g}"
    if low is not None:
        return f"give a number of at least {low:g}"
    if high is not None:
        return f"give a number of at most {high:g}"
    return "give a finite number (not NaN or infinity)"


RESOLVABLE_TYPES = frozenset(
    {
        EventType.INFUSION_REACTION,
        EventType.FEVER,
        EventType.INFECTION,
        EventType.ADVERSE_EVENT,
        EventType.AUTOIMMUNE_CYTOPENIA,
        EventType.PROGRESSION,
        EventType.ASSESSMENT,
        EventType.DOSE,
    }
)
"""Event types a ``resolved`` event may name: those that can start a hold ended by a recorded
resolution or review (a dose above the single-dose ceiling is reviewed this way)."""


def _rule_sets(c: _Collector, raw: object) -> RuleSets:
    if raw is None:
        return RuleSets()
    rec = c.keys(raw, frozenset({"label", "response", "toxicity", "cmv"}), "rule_sets")
    d = RuleSets()
    return RuleSets(
        label=c.enum(LabelRuleSet, rec.get("label"), "rule_sets.label", d.label),
        response=c.enum(ResponseCriteria, rec.get("response"), "rule_sets.response", d.response),
        toxicity=c.enum(ToxicityScale, rec.get("toxicity"), "rule_sets.toxicity", d.toxicity),
        cmv=c.enum(CmvPolicy, rec.get("cmv"), "rule_sets.cmv", d.cmv),
    )


def _patient(c: _Collector, raw: object) -> Patient | None:
    keys = frozenset(
        {
            "id",
            "sex",
            "birth_date",
            "height_cm",
            "weight_kg",
            "diagnosis",
            "cmv_igg",
            "prior_cmv_reactivation",
            "cmv_surveillance_available",
            "cytogenetics",
            "prior_therapies",
            "name",
        }
    )
    rec = c.keys(raw, keys, "patient")
    if not rec:
        return None
    cyto_raw = rec.get("cytogenetics")
    cyto = Cytogenetics()
    if cyto_raw is not None:
        cr = c.keys(
            cyto_raw,
            frozenset({"del17p", "tp53_mutation", "del11q", "ighv_unmutated"}),
            "patient.cytogenetics",
        )
        cyto = Cytogenetics(**{k: c.boolean(cr.get(k), f"patient.cytogenetics.{k}") for k in cr})
    prior: list[PriorTherapy] = []
    prior_raw = rec.get("prior_therapies") or []
    if not isinstance(prior_raw, list):
        c.add("patient.prior_therapies", prior_raw, "give a list of prior therapies")
        prior_raw = []
    for i, p in enumerate(prior_raw):
        where = f"patient.prior_therapies[{i}]"
        pr = c.keys(
            p, frozenset({"regimen", "start", "end", "best_response", "progression"}), where
        )
        prior.append(
            PriorTherapy(
                regimen=c.text(pr.get("regimen"), f"{where}.regimen", required=True),
                start=c.date(pr.get("start"), f"{where}.start", required=False),
                end=c.date(pr.get("end"), f"{where}.end", required=False),
                best_response=c.enum(
                    PriorResponse, pr.get("best_response"), f"{where}.best_response"
                ),
                progression=c.date(pr.get("progression"), f"{where}.progression", required=False),
            )
        )
    height = c.number(
        rec.get("height_cm"),
        "patient.height_cm",
        required=False,
        low=50,
        high=250,
        fix="give the height in cm, 50 to 250",
    )
    weight = c.number(
        rec.get("weight_kg"),
        "patient.weight_kg",
        required=False,
        low=20,
        high=300,
        fix="give the weight in kg, 20 to 300",
    )
    pid = c.text(rec.get("id"), "patient.id", required=True)
    if not pid:
        return None
    return Patient(
        id=pid,
        sex=c.enum(Sex, rec.get("sex"), "patient.sex", Sex.UNKNOWN),
        birth_date=c.date(rec.get("birth_date"), "patient.birth_date", required=False),
        height_cm=height,
        weight_kg=weight,
        diagnosis=c.text(rec.get("diagnosis"), "patient.diagnosis") or "B-CLL",
        cmv_igg=c.enum(Serostatus, rec.get("cmv_igg"), "patient.cmv_igg", Serostatus.UNKNOWN),
        prior_cmv_reactivation=bool(
            c.boolean(rec.get("prior_cmv_reactivation"), "patient.prior_cmv_reactivation")
        ),
        cmv_surveillance_available=c.boolean(
            rec.get("cmv_surveillance_available"), "patient.cmv_surveillance_available"
        )
        is not False,
        cytogenetics=cyto,
        prior_therapies=tuple(prior),
    )


def _lab(
    c: _Collector, rec: Mapping[str, Any], where: str, date: dt.date | None
) -> LabResult | None:
    value = c.number(rec.get("value"), f"{where}.value")
    if value is None:
        return None
    code, unit = rec.get("code"), rec.get("unit")
    if code is None:
        c.add(f"{where}.code", None, "give a lab code (WBC, ALC, ANC, PLT, HGB, CD4) or LOINC")
        return None
    if unit is None:
        c.add(f"{where}.unit", None, "give the UCUM unit, e.g. 10*9/L or g/dL")
        return None
    return c.guard(lambda: LabResult.of(code, value, unit, date=date, field=where))


def _assessment(
    c: _Collector, rec: Mapping[str, Any], where: str, date: dt.date
) -> Assessment | None:
    nodes: tuple[LymphNode, ...] | None = None
    if "lymph_nodes" in rec:
        raw_nodes = rec["lymph_nodes"]
        if not isinstance(raw_nodes, list):
            c.add(f"{where}.lymph_nodes", raw_nodes, "give a list of nodes (may be empty)")
        else:
            out = []
            for i, n in enumerate(raw_nodes):
                nw = f"{where}.lymph_nodes[{i}]"
                nr = c.keys(n, frozenset({"site", "long_mm", "short_mm"}), nw)
                lng = c.number(nr.get("long_mm"), f"{nw}.long_mm")
                sht = c.number(nr.get("short_mm"), f"{nw}.short_mm")
                if lng is not None and sht is not None:
                    site = c.text(nr.get("site"), f"{nw}.site")
                    node = c.guard(partial(LymphNode, lng, sht, site))
                    if node is not None:
                        out.append(node)
            nodes = tuple(out)
    marrow = None
    if rec.get("marrow") is not None:
        mw = f"{where}.marrow"
        mr = c.keys(
            rec["marrow"],
            frozenset({"lymphocytes_pct", "nodules", "cellularity", "cll_cells_pct"}),
            mw,
        )
        cell_raw = mr.get("cellularity")
        cell = (
            c.guard(lambda: Cellularity.parse(cell_raw, f"{mw}.cellularity")) if cell_raw else None
        )
        marrow = c.guard(
            lambda: Marrow(
                lymphocytes_pct=c.number(
                    mr.get("lymphocytes_pct"),
                    f"{mw}.lymphocytes_pct",
                    required=False,
                    low=0,
                    high=100,
                ),
                nodules=c.boolean(mr.get("nodules"), f"{mw}.nodules"),
                cellularity=cell,
                cll_cells_pct=c.number(
                    mr.get("cll_cells_pct"), f"{mw}.cll_cells_pct", required=False, low=0, high=100
                ),
            )
        )
    mrd = None
    if rec.get("mrd") is not None:
        dw = f"{where}.mrd"
        dr = c.keys(rec["mrd"], frozenset({"sample", "level"}), dw)
        sample = c.enum(MrdSample, dr.get("sample"), f"{dw}.sample")
        level = c.number(
            dr.get("level"),
            f"{dw}.level",
            low=0,
            high=1,
            fix="give the level as a fraction of leukocytes, e.g. 0.00005",
        )
        if sample is None and "sample" not in dr:
            c.add(f"{dw}.sample", None, "give the sample: blood or marrow")
        if sample is not None and level is not None:
            mrd = c.guard(lambda: Mrd(sample, level))
    organ = "give cm below the costal margin, 0 to 40 (0 = not palpable)"
    return c.guard(
        lambda: Assessment(
            date=date,
            nodes=nodes,
            liver_cm=c.number(
                rec.get("liver_cm"), f"{where}.liver_cm", required=False, low=0, high=40, fix=organ
            ),
            spleen_cm=c.number(
                rec.get("spleen_cm"),
                f"{where}.spleen_cm",
                required=False,
                low=0,
                high=40,
                fix=organ,
            ),
            spleen_length_cm=c.number(
                rec.get("spleen_length_cm"),
                f"{where}.spleen_length_cm",
                required=False,
                low=0,
                high=40,
            ),
            marrow=marrow,
            constitutional_symptoms=c.boolean(
                rec.get("constitutional_symptoms"), f"{where}.constitutional_symptoms"
            ),
            mrd=mrd,
            cytopenia_due_to_cll=c.boolean(
                rec.get("cytopenia_due_to_cll"), f"{where}.cytopenia_due_to_cll"
            ),
            transformation=c.enum(
                Transformation, rec.get("transformation"), f"{where}.transformation"
            ),
        )
    )


def _baseline(c: _Collector, raw: object) -> Baseline | None:
    if raw is None:
        return None
    rec = c.keys(raw, frozenset({"date", "labs", "assessment"}), "baseline")
    date = c.date(rec.get("date"), "baseline.date")
    labs = []
    raw_labs = rec.get("labs") or []
    if not isinstance(raw_labs, list):
        c.add("baseline.labs", raw_labs, "give a list of labs")
        raw_labs = []
    seen: set[object] = set()
    for i, lab_raw in enumerate(raw_labs):
        where = f"baseline.labs[{i}]"
        lr = c.keys(lab_raw, frozenset({"code", "value", "unit"}), where)
        lab = _lab(c, lr, where, date)
        if lab is not None:
            if lab.code in seen:
                c.add(f"{where}.code", lab.code.value, "give one baseline value per lab")
            seen.add(lab.code)
            labs.append(lab)
    assessment = None
    if rec.get("assessment") is not None and date is not None:
        ar = c.keys(rec["assessment"], ASSESSMENT_KEYS, "baseline.assessment")
        assessment = _assessment(c, ar, "baseline.assessment", date)
    if date is None:
        return None
    return Baseline(date=date, labs=tuple(labs), assessment=assessment)


def _resolved_date(
    c: _Collector, rec: Mapping[str, Any], where: str, date: dt.date
) -> dt.date | None:
    resolved = c.date(rec.get("resolved"), f"{where}.resolved", required=False)
    if resolved is not None and resolved < date:
        c.add(f"{where}.resolved", rec.get("resolved"), "cannot be before the event date")
    return resolved


def autoimmune_kind(text: str) -> AutoimmuneKind | None:
    """The coded kind a text names: the kind's value, a listed synonym or its SNOMED CT code.

    ``None`` for anything else: the engine then withholds pending review (it never guesses).
    Case, British/American spelling, hyphens and extra spaces do not matter.
    """
    key = " ".join(text.lower().replace("-", " ").split())
    for kind in AutoimmuneKind:
        if key == kind.value:
            return kind
    return cytopenia.autoimmune_kind_for(key)


def _event(c: _Collector, i: int, raw: object) -> Event | None:
    where = f"events[{i}]"
    if not isinstance(raw, Mapping):
        c.add(where, raw, "give each event as an object with date and type")
        return None
    etype = c.enum(EventType, raw.get("type"), f"{where}.type")
    if etype is None:
        if raw.get("type") is None:
            c.add(f"{where}.type", None, "give the event type")
        return None
    rec = c.keys(raw, _ALLOWED[etype], where)
    date, time = c.datetime(rec.get("date"), f"{where}.date")
    clock = c.clock(rec.get("time"), f"{where}.time")
    if clock is not None:
        if time is not None and time != clock:
            c.add(
                f"{where}.time",
                rec.get("time"),
                f"differs from the time in date ({time.isoformat('minutes')}); give one",
            )
        time = clock
    if date is None:
        return None
    base: dict[str, Any] = {
        "date": date,
        "time": time,
        "index": i,
        "id": c.text(rec.get("id"), f"{where}.id") or None,
        "supersedes": c.text(rec.get("supersedes"), f"{where}.supersedes") or None,
    }
    n_before = len(c.problems)
    ev: Event | None = None
    if etype is EventType.DOSE:
        dose = c.number(
            rec.get("dose_mg"), f"{where}.dose_mg", low=0, high=10_000, fix="give the dose in mg"
        )
        route = c.enum(AdministrationRoute, rec.get("route"), f"{where}.route")
        if route is None and rec.get("route") is None:
            c.add(f"{where}.route", None, "give the route: iv, sc, po or civ")
        drug = c.text(rec.get("drug"), f"{where}.drug", required=True)
        if dose is not None and route is not None and drug:
            ev = DoseGiven(**base, drug=drug, dose_mg=dose, route=route)
    elif etype is EventType.DOSE_HELD:
        ev = DoseHeld(**base, reason=c.text(rec.get("reason"), f"{where}.reason"))
    elif etype is EventType.LAB:
        lab = _lab(c, rec, where, date)
        if lab is not None:
            ev = LabEvent(**base, result=lab)
    elif etype is EventType.CMV_PCR:
        result = rec.get("result")
        if result is not None:
            if result != "not detected":
                c.add(f"{where}.result", result, 'use "not detected" or give value and unit')
            elif rec.get("value") not in (None, 0):
                c.add(f"{where}.value", rec.get("value"), "a result 'not detected' has no value")
            ev = CmvPcr(**base, value=None)
        else:
            value = c.number(
                rec.get("value"),
                f"{where}.value",
                low=0,
                high=CMV_PCR_MAX,
                fix='give the viral load, or "result": "not detected"',
            )
            unit = c.enum(CmvUnit, rec.get("unit"), f"{where}.unit")
            if unit is None and rec.get("unit") is None:
                c.add(f"{where}.unit", None, "give the unit: [IU]/mL or {copies}/mL")
            if value is not None and unit is not None:
                ev = CmvPcr(**base, value=value, unit=unit)
    elif etype is EventType.CMV_ANTIGENEMIA:
        raw_cells = rec.get("positive_cells", rec.get("value"))
        cells = c.number(
            raw_cells,
            f"{where}.positive_cells",
            low=0,
            high=ANTIGENEMIA_MAX,
            fix="give pp65-positive cells per 2 × 10^5 leukocytes",
        )
        if cells is not None:
            ev = CmvAntigenemia(**base, positive_cells=cells)
    elif etype is EventType.INFUSION_REACTION:
        grade = c.integer(rec.get("grade"), f"{where}.grade", 1, 5)
        resolved = _resolved_date(c, rec, where, date)
        if grade is not None:
            ev = InfusionReaction(**base, grade=grade, resolved=resolved)
    elif etype is EventType.FEVER:
        lo, hi = TEMPERATURE_RANGE_C
        temp = c.number(
            rec.get("temperature_c"),
            f"{where}.temperature_c",
            low=lo,
            high=hi,
            fix=f"give the temperature in °C, {lo:g} to {hi:g}",
        )
        duration = c.number(
            rec.get("duration_h"),
            f"{where}.duration_h",
            required=False,
            low=0,
            high=FEVER_DURATION_MAX_H,
            fix="give how long the temperature stayed at or above 38.0 °C, in hours",
        )
        resolved = _resolved_date(c, rec, where, date)
        if temp is not None:
            ev = Fever(**base, temperature_c=temp, duration_h=duration, resolved=resolved)
    elif etype is EventType.INFECTION:
        grade = c.integer(rec.get("grade"), f"{where}.grade", 1, 5)
        resolved = _resolved_date(c, rec, where, date)
        if grade is not None:
            ev = Infection(
                **base,
                grade=grade,
                description=c.text(rec.get("description"), f"{where}.description"),
                serious=c.boolean(rec.get("serious"), f"{where}.serious"),
                resolved=resolved,
            )
    elif etype is EventType.AUTOIMMUNE_CYTOPENIA:
        kind_text = c.text(rec.get("kind"), f"{where}.kind", required=True)
        known = autoimmune_kind(kind_text)
        if kind_text:
            ev = AutoimmuneCytopenia(
                **base,
                kind=known or AutoimmuneKind.OTHER,
                kind_text=kind_text,
                recognised=known is not None,
            )
    elif etype is EventType.ANTIVIRAL:
        drug = c.text(rec.get("drug"), f"{where}.drug", required=True)
        start = c.date(rec.get("start"), f"{where}.start", required=False)
        stop = c.date(rec.get("stop"), f"{where}.stop", required=False)
        if start and stop and stop < start:
            c.add(f"{where}.stop", rec.get("stop"), "cannot be before start")
        dose = c.number(rec.get("dose_mg"), f"{where}.dose_mg", required=False, low=0, high=20_000)
        intent = c.enum(AntiviralIntent, rec.get("intent"), f"{where}.intent")
        frequency = c.text(rec.get("frequency"), f"{where}.frequency")
        if drug:
            ev = Antiviral(
                **base,
                drug=drug,
                dose_mg=dose,
                start=start,
                stop=stop,
                intent=intent,
                frequency=frequency,
            )
    elif etype is EventType.ESA:
        ev = _esa(c, rec, where, base)
    elif etype is EventType.PROPHYLAXIS:
        ev = _prophylaxis(c, rec, where, base)
    elif etype is EventType.TREATMENT_STOPPED:
        ev = _treatment_stopped(c, rec, where, base)
    elif etype is EventType.GROWTH_FACTOR:
        ev = GrowthFactor(**base, drug=c.text(rec.get("drug"), f"{where}.drug"))
    elif etype is EventType.TRANSFUSION:
        ev = Transfusion(**base, product=c.text(rec.get("product"), f"{where}.product"))
    elif etype is EventType.ASSESSMENT:
        assessment = _assessment(c, rec, where, date)
        if assessment is not None:
            ev = AssessmentEvent(**base, assessment=assessment)
    elif etype is EventType.NOTE:
        ev = Note(**base, text=c.text(rec.get("text"), f"{where}.text"))
    elif etype is EventType.ADVERSE_EVENT:
        grade = c.integer(rec.get("grade"), f"{where}.grade", 1, 5)
        term = c.text(rec.get("term"), f"{where}.term", required=True).strip()
        resolved = _resolved_date(c, rec, where, date)
        serious = c.boolean(rec.get("serious"), f"{where}.serious")
        if grade is not None and term:
            ev = AdverseEvent(**base, grade=grade, term=term, serious=serious, resolved=resolved)
    elif etype is EventType.RESOLVED:
        target = c.text(rec.get("event_id"), f"{where}.event_id", required=True)
        if target:
            ev = Resolved(**base, event_id=target)
    elif etype is EventType.PROGRESSION:
        kind = c.enum(ProgressionKind, rec.get("kind"), f"{where}.kind")
        if kind is None and rec.get("kind") is None:
            c.add(
                f"{where}.kind",
                None,
                "give the kind: " + ", ".join(repr(k.value) for k in ProgressionKind),
            )
        if kind is not None:
            ev = Progression(
                **base,
                kind=kind,
                description=c.text(rec.get("description"), f"{where}.description"),
            )
    return ev if len(c.problems) == n_before else None


def _treatment_stopped(
    c: _Collector, rec: Mapping[str, Any], where: str, base: dict[str, Any]
) -> TreatmentStopped | None:
    """A ``treatment_stopped`` event: the coded ``reason``; ``text`` required for ``other``."""
    reason = c.enum(StopReason, rec.get("reason"), f"{where}.reason")
    if reason is None and rec.get("reason") is None:
        c.add(
            f"{where}.reason",
            None,
            "give the reason: " + ", ".join(repr(r.value) for r in StopReason),
        )
    text = c.text(rec.get("text"), f"{where}.text")
    if reason is StopReason.OTHER and not text.strip():
        c.add(f"{where}.text", rec.get("text"), "say why treatment was stopped (reason 'other')")
        return None
    return None if reason is None else TreatmentStopped(**base, reason=reason, text=text)


ESA_DOSE_MAX = 1_000_000.0
"""Sanity limit for one ESA dose (epoetin doses are up to about 60,000 IU, darbepoetin up to
about 500 µg)."""


def _esa(c: _Collector, rec: Mapping[str, Any], where: str, base: dict[str, Any]) -> Esa | None:
    """An ``esa`` event: drug, optional dose with ``dose_unit`` ([IU] or ug), start / stop."""
    drug = c.text(rec.get("drug"), f"{where}.drug", required=True)
    dose = c.number(
        rec.get("dose"), f"{where}.dose", required=False, low=0, high=ESA_DOSE_MAX,
        fix="give the dose as a number in dose_unit ([IU] for epoetin, ug for darbepoetin)",
    )  # fmt: skip
    unit = c.enum(EsaDoseUnit, rec.get("dose_unit"), f"{where}.dose_unit")
    if dose is not None and unit is None and rec.get("dose_unit") is None:
        c.add(f"{where}.dose_unit", None, "give the unit of the dose: [IU] or ug")
    start = c.date(rec.get("start"), f"{where}.start", required=False)
    stop = c.date(rec.get("stop"), f"{where}.stop", required=False)
    if start and stop and stop < start:
        c.add(f"{where}.stop", rec.get("stop"), "cannot be before start")
    if not drug:
        return None
    return Esa(**base, drug=drug, dose=dose, dose_unit=unit, start=start, stop=stop)


def _prophylaxis(
    c: _Collector, rec: Mapping[str, Any], where: str, base: dict[str, Any]
) -> ProphylaxisEvent | None:
    """A ``prophylaxis`` event: agent (pcp, herpes, cmv), action (start, stop, not_tolerated),
    drug, optional dose_mg and frequency."""
    agent = c.enum(ProphylaxisKind, rec.get("agent"), f"{where}.agent")
    if rec.get("agent") is None:
        c.add(f"{where}.agent", None, "give the agent class: pcp, herpes or cmv")
    action = c.enum(ProphylaxisAction, rec.get("action"), f"{where}.action")
    if rec.get("action") is None:
        c.add(f"{where}.action", None, "give the action: start, stop or not_tolerated")
    drug = c.text(rec.get("drug"), f"{where}.drug", required=True)
    dose = c.number(rec.get("dose_mg"), f"{where}.dose_mg", required=False, low=0, high=20_000)
    frequency = c.text(rec.get("frequency"), f"{where}.frequency")
    if agent is None or action is None or not drug:
        return None
    return ProphylaxisEvent(
        **base, agent=agent, action=action, drug=drug, dose_mg=dose, frequency=frequency
    )


def parse_course_reference(doc: object) -> Course:
    """Read a ``cllcds.course/1`` document (parsed JSON) into a :class:`Course`: the reference
    reader, value by value.

    :func:`cllcds.course.parse_course` reads valid documents through a compiled schema
    (``cllcds.course._fast``) and hands every other document to this function, which names
    each problem; the tests check that both give the same course or the same errors.

    Raises
    ------
    DocumentError
        With one problem per invalid value, each naming its place in the document.
    """
    c = _Collector()
    rec = c.keys(doc, TOP_KEYS, "")
    if not rec:
        raise DocumentError("course", c.problems or [InputError("course", doc, "empty")])
    if rec.get("format") != COURSE_FORMAT:
        c.add("format", rec.get("format"), f'use "{COURSE_FORMAT}"')
    rule_sets = _rule_sets(c, rec.get("rule_sets"))
    patient = _patient(c, rec.get("patient"))
    if rec.get("patient") is None:
        c.add("patient", None, "give the patient (at least an id)")
    regimen_id = c.text(rec.get("regimen"), "regimen", required=True)
    if regimen_id:
        c.guard(lambda: knowledge.regimen(regimen_id))
    start = c.date(rec.get("start_date"), "start_date")
    as_of = c.date(rec.get("as_of"), "as_of", required=False)
    baseline = _baseline(c, rec.get("baseline"))
    events: list[Event] = []
    raw_events = rec.get("events") or []
    if not isinstance(raw_events, list):
        c.add("events", raw_events, "give a list of events")
        raw_events = []
    ids: set[str] = set()
    for i, raw in enumerate(raw_events):
        ev = _event(c, i, raw)
        if ev is None:
            continue
        if ev.id is not None:
            if ev.id in ids:
                c.add(f"events[{i}].id", ev.id, "event ids must be unique")
            ids.add(ev.id)
        if ev.supersedes is not None and ev.supersedes not in ids:
            c.add(
                f"events[{i}].supersedes",
                ev.supersedes,
                "name the id of an earlier event in the list",
            )
        if isinstance(ev, AssessmentEvent) and baseline is not None and ev.date < baseline.date:
            c.add(
                f"events[{i}].date",
                ev.date.isoformat(),
                f"an assessment cannot be dated before the baseline ({baseline.date})",
            )
        if start is not None and ev.date < start - dt.timedelta(days=366):
            c.add(
                f"events[{i}].date",
                ev.date.isoformat(),
                f"is more than a year before the start date {start}",
            )
        events.append(ev)
    by_id = {e.id: e for e in events if e.id is not None}
    for ev in events:
        if not isinstance(ev, Resolved):
            continue
        target = by_id.get(ev.event_id)
        if target is None:
            c.add(
                f"events[{ev.index}].event_id",
                ev.event_id,
                "name the id of the event that resolved (give that event an id)",
            )
        elif isinstance(target, Resolved):
            c.add(f"events[{ev.index}].event_id", ev.event_id, "a resolution cannot be resolved")
        elif target.type not in RESOLVABLE_TYPES:
            c.add(
                f"events[{ev.index}].event_id",
                ev.event_id,
                f"names a {target.type.value} event, which nothing resolves: name one of "
                + ", ".join(sorted(t.value for t in RESOLVABLE_TYPES)),
            )
        elif ev.date < target.date:
            c.add(
                f"events[{ev.index}].date",
                ev.date.isoformat(),
                f"is before the event it resolves ({target.date})",
            )
    if c.problems or patient is None or start is None:
        raise DocumentError("course", c.problems)
    return Course(
        patient=patient,
        regimen_id=regimen_id,
        start_date=start,
        rule_sets=rule_sets,
        baseline=baseline,
        events=tuple(events),
        as_of=as_of,
    )

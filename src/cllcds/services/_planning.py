"""Use cases: the regimen library and planning a course from a start date.

The adapters (CLI, API, web) pass what a user typed; this module parses and validates it into
domain objects (one :class:`~cllcds.domain.InputError` per bad value, naming the field, the
value and the fix), plans, and describes regimens as plain dictionaries.

Field names in errors are the plain input names (``regimen``, ``start``, ``height_cm``,
``weight_kg``, ``rule_set``, ``override``, ...); an adapter may map them to its own spelling
(the CLI prints ``--height-cm``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from cllcds import course, knowledge
from cllcds.domain import (
    DEFAULT_CD4_INTERVAL_DAYS,
    DEFAULT_CMV_PCR_INTERVAL_DAYS,
    DEFAULT_LABEL_RULE_SET,
    DEFAULT_TIW_WEEKDAYS,
    DEFAULT_WEEKLY_CEILING,
    AdministrationRule,
    BodyMeasures,
    BsaFormula,
    Citation,
    DoseOverride,
    Drug,
    InputError,
    LabelRuleSet,
    PatientDetails,
    Plan,
    PlanOptions,
    Regimen,
    RoundingMode,
    RoundingPolicy,
)

__all__ = [
    "citation_dict",
    "make_plan",
    "parse_date",
    "parse_overrides",
    "parse_rule_sets",
    "parse_tiw_weekdays",
    "regimen_detail",
    "regimen_list",
    "regimen_summary",
]

RULE_SET_FAMILIES = ("label",)
"""Rule-set families a plan takes (``--rule-set family=value``); planning uses the label's."""

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def citation_dict(c: Citation) -> dict[str, str]:
    """A citation as a plain mapping (empty fields left out)."""
    out = {"source": c.source, "locator": c.locator}
    if c.quote:
        out["quote"] = c.quote
    if c.note:
        out["note"] = c.note
    if c.rule_set:
        out["rule_set"] = c.rule_set
    return out


def regimen_list() -> tuple[Regimen, ...]:
    """Every regimen of the library, in id order."""
    return tuple(knowledge.regimens().values())


def regimen_summary(reg: Regimen) -> dict[str, Any]:
    """One line of ``regimens list``."""
    return {
        "id": reg.id,
        "name": reg.name,
        "status": reg.status.value,
        "drugs": [d.value for d in reg.drugs],
        "cycles": reg.cycles.count,
        "cycle_length_days": reg.cycles.length_days,
        "studies": list(reg.studies),
        "variant_of": reg.variant_of,
    }


def _rule_dict(rule: AdministrationRule) -> dict[str, Any]:
    return {
        "drug": rule.drug.value,
        "dose": rule.dose.amount,
        "dose_high": rule.dose.high,
        "basis": rule.dose.basis.value,
        "route": rule.route.value,
        "phase": rule.phase.value,
        "days": list(rule.days) if rule.days else None,
        "tiw": (
            None if rule.tiw is None else {"from_day": rule.tiw.from_day, "to_day": rule.tiw.to_day}
        ),
        "days_text": rule.days_text(),
        "cycles": None if rule.cycles is None else list(rule.cycles),
        "infusion": rule.infusion,
        "optional": rule.optional,
        "condition": rule.condition,
        "note": rule.note,
        "citation": citation_dict(rule.citation),
    }


def regimen_detail(regimen_id: str) -> dict[str, Any]:
    """Everything about one regimen (``regimens show``); unknown ids list the valid ones."""
    reg = knowledge.regimen(regimen_id)
    return {
        **regimen_summary(reg),
        "summary": reg.summary,
        "max_cycles": reg.cycles.limit,
        "cycles_note": reg.cycles.note,
        "cycles_citation": citation_dict(reg.cycles.citation),
        "run_in_days": reg.run_in_days,
        "run_in": [_rule_dict(r) for r in reg.run_in],
        "components": [_rule_dict(r) for r in reg.components],
        "assessments": [
            {
                "kind": a.kind.value,
                "days": list(a.days),
                "description": a.description,
                "citation": citation_dict(a.citation),
            }
            for a in reg.assessments
        ],
        "conflicts": list(reg.conflicts),
        "assumptions": list(reg.assumptions),
        "notes": list(reg.notes),
        "provenance": [citation_dict(c) for c in reg.provenance],
    }


def parse_date(value: str | date, field: str = "start") -> date:
    """An ISO date (``YYYY-MM-DD``)."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InputError(field, value, "give a date as YYYY-MM-DD, e.g. 2024-03-04")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(field, value, "not a calendar date; give YYYY-MM-DD") from None


def parse_rule_sets(values: Sequence[str] | None) -> LabelRuleSet:
    """``label=us-2007`` style choices; returns the label rule set (default ``us-2007``)."""
    label = DEFAULT_LABEL_RULE_SET
    valid = ", ".join(r.value for r in LabelRuleSet)
    for raw in values or ():
        family, sep, value = raw.partition("=")
        family, value = family.strip().lower(), value.strip().lower()
        if not sep or family not in RULE_SET_FAMILIES:
            raise InputError("rule_set", raw, f"give label=<{valid}> (default label={label.value})")
        try:
            label = LabelRuleSet(value)
        except ValueError:
            raise InputError("rule_set", raw, f"label takes one of: {valid}") from None
    return label


def parse_tiw_weekdays(value: str | None) -> tuple[int, ...]:
    """``mon,wed,fri`` or ``0,2,4`` (Monday = 0)."""
    if value is None or not value.strip():
        return DEFAULT_TIW_WEEKDAYS
    out: list[int] = []
    for part in value.split(","):
        p = part.strip().lower()[:3]
        if p in _WEEKDAYS:
            out.append(_WEEKDAYS.index(p))
        elif p.isdigit():
            out.append(int(p))
        else:
            raise InputError("tiw_weekdays", value, "give three weekdays, e.g. mon,wed,fri")
    return tuple(out)


def _cycles(text: str, raw: str) -> tuple[int, ...]:
    out: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise InputError("override", raw, "cycles as 2 or 2-6 or 1,3") from None
        if a < 1 or b < a:
            raise InputError("override", raw, "cycles as 2 or 2-6 or 1,3 (from 1)")
        out.extend(range(a, b + 1))
    return tuple(sorted(set(out)))


def parse_overrides(values: Sequence[str] | None) -> tuple[DoseOverride, ...]:
    """``drug=amount[@cycles]``, e.g. ``rituximab=500@2-6`` (amount in the regimen's basis)."""
    out: list[DoseOverride] = []
    drugs = ", ".join(d.value for d in Drug)
    fix = f"give drug=amount[@cycles], e.g. rituximab=500@2-6; drugs: {drugs}"
    for raw in values or ():
        head, _, cycles_text = raw.partition("@")
        name, sep, amount_text = head.partition("=")
        if not sep:
            raise InputError("override", raw, fix)
        try:
            drug = Drug(name.strip().lower())
        except ValueError:
            raise InputError("override", raw, fix) from None
        try:
            amount = float(amount_text)
        except ValueError:
            raise InputError("override", raw, fix) from None
        cycles = _cycles(cycles_text, raw) if cycles_text.strip() else None
        out.append(DoseOverride(drug=drug, amount=amount, cycles=cycles))
    return tuple(out)


def _number(value: float | str, field: str, fix: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise InputError(field, value, fix) from None


def make_plan(
    regimen_id: str,
    start: str | date,
    height_cm: float | str,
    weight_kg: float | str,
    *,
    rule_sets: Sequence[str] | None = None,
    bsa_formula: str | BsaFormula = BsaFormula.MOSTELLER,
    bsa_cap_m2: float | None = None,
    rounding_increment_mg: float = 1.0,
    oral_rounding_increment_mg: float = 1.0,
    rounding_mode: str | RoundingMode = RoundingMode.NEAREST,
    tiw_weekdays: str | None = None,
    prophylaxis_start_day: int | None = None,
    cmv_pcr_interval_days: int = DEFAULT_CMV_PCR_INTERVAL_DAYS,
    cd4_interval_days: int = DEFAULT_CD4_INTERVAL_DAYS,
    cycles: int | None = None,
    include_optional: bool = False,
    overrides: Sequence[str] | None = None,
    weekly_ceiling: str = DEFAULT_WEEKLY_CEILING,
    patient_name: str = "",
    patient_id: str = "",
    birth_date: str | date | None = None,
) -> Plan:
    """Plan a regimen for one patient from a start date: the use case behind ``cllcds plan``.

    Parameters are what a user types; each is validated and a bad one raises
    :class:`~cllcds.domain.InputError` naming it (``regimen`` unknown, ``height_cm`` 1800,
    ``weight_kg`` 0, ``start`` not a date, ...). A plan that would pass an alemtuzumab ceiling
    raises :class:`~cllcds.domain.CeilingError` with the reason. ``weekly_ceiling`` reads the
    label's 90 mg a week as the course engine does (``treatment-week``, the default) or per any
    7 consecutive days (``rolling-7-days``, an institutional setting).
    """
    regimen = knowledge.regimen(regimen_id)
    day1 = parse_date(start, "start")
    height = _number(height_cm, "height_cm", "give the height in centimetres, e.g. 170")
    weight = _number(weight_kg, "weight_kg", "give the weight in kilograms, e.g. 70")
    body = BodyMeasures(height, weight)
    try:
        formula = BsaFormula(bsa_formula) if isinstance(bsa_formula, str) else bsa_formula
    except ValueError:
        valid = ", ".join(f.value for f in BsaFormula)
        raise InputError("bsa_formula", bsa_formula, f"use one of: {valid}") from None
    try:
        mode = RoundingMode(rounding_mode) if isinstance(rounding_mode, str) else rounding_mode
    except ValueError:
        valid = ", ".join(m.value for m in RoundingMode)
        raise InputError("rounding_mode", rounding_mode, f"use one of: {valid}") from None
    options = PlanOptions(
        rule_set=parse_rule_sets(rule_sets),
        bsa_formula=formula,
        bsa_cap_m2=bsa_cap_m2,
        rounding=RoundingPolicy(
            increment_mg=rounding_increment_mg,
            oral_increment_mg=oral_rounding_increment_mg,
            mode=mode,
        ),
        tiw_weekdays=parse_tiw_weekdays(tiw_weekdays),
        prophylaxis_start_day=prophylaxis_start_day,
        cmv_pcr_interval_days=cmv_pcr_interval_days,
        cd4_interval_days=cd4_interval_days,
        cycles=cycles,
        include_optional=include_optional,
        overrides=parse_overrides(overrides),
        weekly_ceiling=weekly_ceiling,
    )
    patient = PatientDetails(
        name=patient_name.strip(),
        identifier=patient_id.strip(),
        birth_date=None if birth_date is None else parse_date(birth_date, "birth_date"),
    )
    return course.plan(body, regimen, day1, options, patient)

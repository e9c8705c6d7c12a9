"""Scenarios: the arms to compare and the assumptions each rests on (a YAML file).

Example (``examples/cohort/iv_vs_sc.yaml``)::

    name: IV vs SC alemtuzumab in fludarabine-refractory CLL
    follow_up_months: 60
    population:              # optional; defaults from the evidence
      p53_abnormal: 0.42
    arms:
      - id: iv
        label: IV 30 mg TIW (Keating 2002, CAM211)
        response_study: keating2002b
        cmv: pre-emptive       # none | pre-emptive | prophylaxis
      - id: sc
        label: IV escalation then SC 30 mg TIW (CLL2H)
        response_study: stilgenbauer2004
        cmv: pre-emptive
        assumptions:           # any named assumption, per arm (or at the top level: all arms)
          orr: {value: 0.40, source: my-centre, note: local audit 2024}

Every arm gets the evidence defaults of :func:`cllcds.cohort._assumptions.base_assumptions`,
its study's ORR and CR, then the scenario's overrides (top level first, then the arm's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from cllcds.domain import InputError

from ._assumptions import Assumption, apply_overrides, base_assumptions, response_assumptions

POPULATION_KEYS = ("p53_abnormal", "nodes_none", "nodes_bulky")
MAX_FOLLOW_UP_MONTHS = 240.0


class CmvStrategy(Enum):
    """How CMV is managed during alemtuzumab (O'Brien 2006 via the seed; clinical-rules §5)."""

    NONE = "none"
    """Neither surveillance nor prophylaxis: reactivations are found when symptomatic."""
    PRE_EMPTIVE = "pre-emptive"
    """Regular CMV surveillance (PCR/antigenemia) and antiviral therapy when positive."""
    PROPHYLAXIS = "prophylaxis"
    """Up-front valganciclovir prophylaxis (O'Brien 2008)."""


@dataclass(frozen=True)
class Arm:
    """One arm of a scenario with the complete set of its assumptions."""

    id: str
    label: str
    response_study: str
    cmv: CmvStrategy
    treatment_weeks: float
    assumptions: dict[str, Assumption]

    def value(self, name: str) -> float:
        """The point value of an assumption."""
        return self.assumptions[name].value


@dataclass(frozen=True)
class Scenario:
    """Arms to compare on one virtual population, followed for ``follow_up_months``."""

    name: str
    description: str
    follow_up_months: float
    population: dict[str, Assumption]
    reference_population: dict[str, Assumption]
    """The evidence defaults: response models are calibrated to them."""
    arms: tuple[Arm, ...]
    source: str = ""


def _req(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, ""):
        raise InputError(f"{where}.{key}", None, f"give {key}")
    return mapping[key]


def scenario_from_mapping(data: Any, *, source: str = "") -> Scenario:
    """Validate a parsed scenario file (see the module docstring for the format)."""
    if not isinstance(data, Mapping):
        raise InputError("scenario", type(data).__name__, "the file must be a YAML mapping")
    known = {"name", "description", "follow_up_months", "population", "assumptions", "arms"}
    for key in data:
        if key not in known:
            raise InputError(f"scenario.{key}", data[key], f"use only {', '.join(sorted(known))}")
    name = str(_req(data, "name", "scenario"))
    try:
        follow_up = float(data.get("follow_up_months", 60))
    except (TypeError, ValueError):
        raise InputError(
            "scenario.follow_up_months", data.get("follow_up_months"), "a number"
        ) from None
    if not (math.isfinite(follow_up) and 1 <= follow_up <= MAX_FOLLOW_UP_MONTHS):
        raise InputError(
            "scenario.follow_up_months", follow_up, f"give 1 to {MAX_FOLLOW_UP_MONTHS:g} months"
        )
    base = base_assumptions()
    reference = {k: base[k] for k in POPULATION_KEYS}
    pop_raw = data.get("population") or {}
    if not isinstance(pop_raw, Mapping):
        raise InputError("scenario.population", pop_raw, "give a mapping of proportions")
    for key in pop_raw:
        if key not in POPULATION_KEYS:
            raise InputError(
                f"scenario.population.{key}", pop_raw[key], f"use {', '.join(POPULATION_KEYS)}"
            )
    population = {
        k: v
        for k, v in apply_overrides(base, pop_raw, "scenario.population").items()
        if k in POPULATION_KEYS
    }
    if population["nodes_none"].value + population["nodes_bulky"].value > 1:
        raise InputError(
            "scenario.population.nodes_bulky",
            population["nodes_bulky"].value,
            "nodes_none + nodes_bulky must not exceed 1",
        )
    common = data.get("assumptions") or {}
    if not isinstance(common, Mapping):
        raise InputError("scenario.assumptions", common, "give a mapping NAME: value")
    arms_raw = _req(data, "arms", "scenario")
    if not isinstance(arms_raw, list) or not arms_raw:
        raise InputError("scenario.arms", arms_raw, "give a list of at least one arm")
    arms: list[Arm] = []
    seen: set[str] = set()
    arm_base = {k: v for k, v in base.items() if k not in POPULATION_KEYS}
    for i, raw in enumerate(arms_raw, start=1):
        where = f"arms[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError(where, raw, "each arm is a mapping with id and response_study")
        arm_id = str(_req(raw, "id", where))
        if arm_id in seen:
            raise InputError(f"{where}.id", arm_id, "arm ids must be unique")
        seen.add(arm_id)
        study = str(_req(raw, "response_study", where))
        try:
            cmv = CmvStrategy(str(raw.get("cmv", "pre-emptive")))
        except ValueError:
            raise InputError(
                f"{where}.cmv", raw.get("cmv"), "use none, pre-emptive or prophylaxis"
            ) from None
        try:
            weeks = float(raw.get("treatment_weeks", 12))
        except (TypeError, ValueError):
            raise InputError(
                f"{where}.treatment_weeks", raw.get("treatment_weeks"), "a number"
            ) from None
        if not 1 <= weeks <= 52:
            raise InputError(f"{where}.treatment_weeks", weeks, "give 1 to 52 weeks")
        a = {**arm_base, **response_assumptions(study)}
        a = apply_overrides(a, common, "scenario.assumptions")
        own = raw.get("assumptions") or {}
        if not isinstance(own, Mapping):
            raise InputError(f"{where}.assumptions", own, "give a mapping NAME: value")
        a = apply_overrides(a, own, f"{where}.assumptions")
        if a["cr"].value > a["orr"].value:
            raise InputError(f"{where}.assumptions.cr", a["cr"].value, "CR cannot exceed ORR")
        arms.append(
            Arm(
                id=arm_id,
                label=str(raw.get("label", arm_id)),
                response_study=study,
                cmv=cmv,
                treatment_weeks=weeks,
                assumptions=a,
            )
        )
    return Scenario(
        name=name,
        description=str(data.get("description", "")),
        follow_up_months=follow_up,
        population=population,
        reference_population=reference,
        arms=tuple(arms),
        source=source,
    )


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            "--scenario", str(p), f"give a readable YAML file ({exc.strerror})"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError("--scenario", str(p), f"the file is not valid YAML ({exc})") from None
    return scenario_from_mapping(data, source=str(p))

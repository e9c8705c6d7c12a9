"""Label dose-modification rules for neutropenia and thrombocytopenia, by label version.

File: ``cllcds/knowledge/data/label/dose_modification.yaml`` (from ``clinical-rules.md`` §1.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache

from cllcds.domain import Citation, KnowledgeError, LabCode, LabelRuleSet

from ._files import Record, data_root, load_yaml
from ._response import Op


@dataclass(frozen=True, slots=True)
class Threshold:
    """``lab op value``, the value in the lab's canonical unit (10^9/L for counts)."""

    lab: LabCode
    op: Op
    value: float

    def holds(self, x: float) -> bool:
        """Whether ``x`` satisfies the comparison."""
        return self.op.holds(x, self.value)

    def text(self) -> str:
        """As a clinician reads it, in cells/µL for counts (``ANC < 250/µL``)."""
        per_ul = self.value * 1000
        op = self.op.value.replace("<=", "≤").replace(">=", "≥")
        return f"{self.lab.value} {op} {per_ul:,.0f}/µL"


class Action(Enum):
    """What an occurrence of cytopenia calls for."""

    WITHHOLD = "withhold"
    DISCONTINUE = "discontinue"


@dataclass(frozen=True, slots=True)
class OccurrenceStep:
    """The action for the n-th occurrence and the dose to resume at."""

    occurrence: int
    action: Action
    resume_dose_mg: float | None
    """The dose to resume at; ``None`` with :attr:`resume_same_dose` or for discontinuation."""
    resume_same_dose: bool = False


@dataclass(frozen=True, slots=True)
class DoseModificationRules:
    """The cytopenia ladder of one label version."""

    rule_set: LabelRuleSet
    title: str
    citation: Citation
    trigger: tuple[Threshold, ...]
    baseline_low: tuple[Threshold, ...]
    baseline_low_fall_fraction: float
    baseline_low_fall_op: Op
    resume: tuple[Threshold, ...]
    occurrences: tuple[OccurrenceStep, ...]
    gap_restart_days: int
    gap_restart_ceiling_after_second_mg: float

    def step(self, occurrence: int) -> OccurrenceStep:
        """The step for the ``occurrence``-th event (the last step applies beyond the table)."""
        for s in self.occurrences:
            if s.occurrence == occurrence:
                return s
        return self.occurrences[-1]


def _thresholds(path: str, where: str, raw: object) -> tuple[Threshold, ...]:
    if not isinstance(raw, list):
        raise KnowledgeError(path, f"{where}: expected a list")
    out = []
    for i, item in enumerate(raw):
        rec = Record(path, f"{where}[{i}]", item, {"lab", "op", "value"})
        try:
            out.append(
                Threshold(
                    LabCode(rec.req("lab", str)), Op(rec.req("op", str)), rec.req("value", float)
                )
            )
        except ValueError as exc:
            raise KnowledgeError(path, f"{where}[{i}]: {exc}") from None
    return tuple(out)


@cache
def dose_modification_rules() -> Mapping[LabelRuleSet, DoseModificationRules]:
    """The cytopenia dose-modification rules of every label version."""
    path = "label/dose_modification.yaml"
    doc = Record(path, "root", load_yaml(data_root() / path), {"rule_sets"})
    out: dict[LabelRuleSet, DoseModificationRules] = {}
    keys = {
        "id",
        "title",
        "sources",
        "locator",
        "trigger",
        "baseline_low",
        "baseline_low_fall_fraction",
        "baseline_low_fall_op",
        "resume",
        "occurrences",
        "gap_restart_days",
        "gap_restart_ceiling_after_second_mg",
    }
    for i, raw in enumerate(doc.req("rule_sets", list)):
        rec = Record(path, f"rule_sets[{i}]", raw, keys)
        rs = LabelRuleSet(rec.req("id", str))
        steps = []
        for j, sraw in enumerate(rec.req("occurrences", list)):
            srec = Record(
                path,
                f"{rs.value}.occurrences[{j}]",
                sraw,
                {"occurrence", "action", "resume_dose_mg"},
            )
            dose = srec.opt("resume_dose_mg", (float, str))
            if isinstance(dose, str) and dose != "same":
                raise KnowledgeError(path, f"{srec.where}.resume_dose_mg: a dose or 'same'")
            steps.append(
                OccurrenceStep(
                    occurrence=srec.req("occurrence", int),
                    action=Action(srec.req("action", str)),
                    resume_dose_mg=dose if isinstance(dose, float) else None,
                    resume_same_dose=dose == "same",
                )
            )
        out[rs] = DoseModificationRules(
            rule_set=rs,
            title=rec.req("title", str),
            citation=Citation(
                source=", ".join(rec.req("sources", list)),
                locator=rec.req("locator", str),
                rule_set=rs.value,
            ),
            trigger=_thresholds(path, f"{rs.value}.trigger", rec.req("trigger", list)),
            baseline_low=_thresholds(
                path, f"{rs.value}.baseline_low", rec.req("baseline_low", list)
            ),
            baseline_low_fall_fraction=rec.req("baseline_low_fall_fraction", float),
            baseline_low_fall_op=Op(rec.req("baseline_low_fall_op", str)),
            resume=_thresholds(path, f"{rs.value}.resume", rec.req("resume", list)),
            occurrences=tuple(sorted(steps, key=lambda s: s.occurrence)),
            gap_restart_days=rec.req("gap_restart_days", int),
            gap_restart_ceiling_after_second_mg=rec.req(
                "gap_restart_ceiling_after_second_mg", float
            ),
        )
    missing = set(LabelRuleSet) - set(out)
    if missing:
        raise KnowledgeError(path, f"no rules for {sorted(m.value for m in missing)}")
    return out

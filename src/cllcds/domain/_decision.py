"""Decisions: what a rule decided, why, on what it rests and what it lacked.

Every part of a course state that a rule decides is a :class:`Decision` (see the design page,
"The heart: a course is an event log"): an outcome, a status, the inputs used and missing, a
one-sentence clinician-facing rationale and the citation of the rule (source id + locator +
rule-set version). Missing data is a status (:attr:`DecisionStatus.INDETERMINATE`), never an
exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from types import MappingProxyType
from typing import Generic, TypeVar

from ._errors import InputError
from ._provenance import Citation

T = TypeVar("T")


class DecisionStatus(Enum):
    """How firmly a rule decided its outcome."""

    DECIDED = "decided"
    """All inputs the rule needs were present; the outcome holds."""
    INDETERMINATE = "indeterminate"
    """An input is missing (see ``inputs_missing``); the outcome is the best the rule can say."""
    NOT_APPLICABLE = "not_applicable"
    """The rule does not apply to this case (e.g. a lab the scale does not grade)."""


@dataclass(frozen=True, slots=True)
class Decision(Generic[T]):
    """The outcome of one rule, with its reasons.

    Attributes
    ----------
    rule
        Stable name of the rule (``"grade.ctcae-5.ANC"``, ``"response.iwcll-2018"``).
    outcome
        What was decided: an enum member or a value with its unit.
    status
        Decided, indeterminate (inputs missing) or not applicable.
    rationale
        One clinician-facing sentence.
    citation
        Source id + locator + rule-set version of the rule applied.
    inputs_used
        The inputs the rule read, by name (read-only mapping).
    inputs_missing
        Names of inputs the rule needed but did not get.

    Examples
    --------
    >>> from cllcds.domain import Citation
    >>> d = Decision(
    ...     rule="demo",
    ...     outcome=3,
    ...     status=DecisionStatus.DECIDED,
    ...     rationale="Grade 3.",
    ...     citation=Citation("C1", "CTCAE v5.0"),
    ... )
    >>> d.decided
    True
    """

    rule: str
    outcome: T
    status: DecisionStatus
    rationale: str
    citation: Citation
    inputs_used: Mapping[str, object] = field(default_factory=dict)
    inputs_missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.rule.strip():
            raise InputError("decision.rule", self.rule, "name the rule that decided")
        if not self.rationale.strip():
            raise InputError("decision.rationale", self.rationale, "give a one-sentence reason")
        # Freeze the mapping so a decision cannot be edited in place.
        object.__setattr__(self, "inputs_used", MappingProxyType(dict(self.inputs_used)))
        object.__setattr__(self, "inputs_missing", tuple(self.inputs_missing))

    @property
    def decided(self) -> bool:
        """Whether the status is :attr:`DecisionStatus.DECIDED`."""
        return self.status is DecisionStatus.DECIDED


_new = object.__new__
_DECISION_FIELDS = (
    "rule",
    "outcome",
    "status",
    "rationale",
    "citation",
    "inputs_used",
    "inputs_missing",
)
if tuple(f.name for f in fields(Decision)) != _DECISION_FIELDS:
    raise TypeError("Decision's fields changed: update make_decision")  # pragma: no cover
_SETTERS = tuple(getattr(Decision, name).__set__ for name in _DECISION_FIELDS)


def make_decision(
    rule: str,
    outcome: T,
    status: DecisionStatus,
    rationale: str,
    citation: Citation,
    inputs_used: Mapping[str, object],
    inputs_missing: Iterable[str] = (),
) -> Decision[T]:
    """``Decision(rule, outcome, status, rationale, citation, inputs_used, inputs_missing)``
    with its slots set directly (what ``__init__`` and ``__post_init__`` set, at about half the
    cost; for the engine, which makes a decision for every rule of every state). A blank rule or
    rationale goes through :class:`Decision`, which refuses it."""
    if not rule.strip() or not rationale.strip():
        return Decision(
            rule, outcome, status, rationale, citation, inputs_used, tuple(inputs_missing)
        )
    d: Decision[T] = _new(Decision)
    set_rule, set_outcome, set_status, set_rationale, set_citation, set_used, set_missing = _SETTERS
    set_rule(d, rule)
    set_outcome(d, outcome)
    set_status(d, status)
    set_rationale(d, rationale)
    set_citation(d, citation)
    set_used(d, MappingProxyType(dict(inputs_used)))
    set_missing(d, tuple(inputs_missing))
    return d

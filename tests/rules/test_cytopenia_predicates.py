"""The cytopenia rules' predicates decide as their decisions do (issue 14).

The replay asks ``trigger_test`` and ``resume_test`` at every day with counts and writes the
decision (``triggered``, ``may_resume``) only for the one the state shows: each predicate must
give the outcome of its decision for every label rule set, baseline and count, including
counts on each threshold, just beside it, integers and counts not measured.
"""

from __future__ import annotations

import itertools

import pytest

from cllcds.domain import LabelRuleSet
from cllcds.rules import cytopenia

ANC = [0.0, 0.1, 0.124, 0.125, 0.126, 0.2, 0.249, 0.25, 0.251, 0.3, 0.499, 0.5, 0.501, 1, 2.0]
PLT = [0, 5.0, 10.0, 12.5, 12.6, 20.0, 24.999, 25, 25.001, 30.0, 49.9, 50, 50.1, 100, 250.0]
BASELINE_ANC = [None, 0.1, 0.2, 0.25, 0.3, 0.5, 1, 3.0]
BASELINE_PLT = [None, 10, 20.0, 25.0, 30, 50.0, 150.0]


def _counts(values: list[float | int]) -> list[cytopenia.Counts]:
    return [cytopenia.Counts(a, p) for a, p in itertools.product([None, *values], [None, *PLT])]


@pytest.mark.parametrize("rule_set", list(LabelRuleSet), ids=lambda r: r.value)
def test_predicates_give_the_outcome_of_the_decisions(rule_set: LabelRuleSet) -> None:
    rules = cytopenia.rules_for(rule_set)
    checked = 0
    for b_anc, b_plt in itertools.product(BASELINE_ANC, BASELINE_PLT):
        baseline = cytopenia.Counts(b_anc, b_plt)
        trigger = cytopenia.trigger_test(rules, baseline)
        resume = cytopenia.resume_test(rules, baseline)
        low = cytopenia.baseline_low(rules, baseline)  # as the replay gives it, read once
        trigger_low = cytopenia.trigger_test(rules, baseline, low)
        resume_low = cytopenia.resume_test(rules, baseline, low)
        for current in _counts(ANC):
            fired = cytopenia.triggered(rules, current, baseline)
            assert trigger(current) is fired.outcome, (baseline, current, fired)
            assert trigger_low(current) is fired.outcome, (baseline, current, fired)
            recovered = cytopenia.may_resume(rules, current, baseline)
            assert resume(current) is recovered.outcome, (baseline, current, recovered)
            assert resume_low(current) is recovered.outcome, (baseline, current, recovered)
            checked += 1
    assert checked > 5000


def test_threshold_comparisons_are_the_thresholds() -> None:
    """The predicates compare a count with each threshold directly (the operator looked up
    once): the same answer as the threshold's own ``holds`` for every operator, on the value,
    just beside it, and for integers."""
    from cllcds.domain import LabCode
    from cllcds.knowledge import Op, Threshold

    for op in Op:
        if op is Op.IS:
            continue
        for limit in (0.25, 0.5, 25.0, 50, 0.0):
            threshold = Threshold(LabCode.ANC, op, limit)
            compare = cytopenia._comparison(threshold)
            for x in (0, 0.0, limit, limit - 1e-9, limit + 1e-9, 1, 100.0, -0.0):
                assert compare(x) is threshold.holds(x), (op, limit, x)

"""Properties of pooled proportions that hold for any data (Hypothesis), and input errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cllcds.domain import InputError
from cllcds.evidence._meta import (
    PoolResult,
    PredictionInterval,
    StudyData,
    TauMethod,
    leave_one_out,
    pool,
    subgroups,
)
from cllcds.evidence._transforms import ContinuityCorrection, Transform

# Rounding slack for comparisons of quantities computed along different paths.
SLACK = 1e-9

# Deterministic examples (no flaky runs); the pooling is fast, so no deadline is needed.
PROPS = settings(derandomize=True, deadline=None, max_examples=150)


@st.composite
def studies(draw: st.DrawFn, min_k: int = 2, max_k: int = 12) -> list[StudyData]:
    k = draw(st.integers(min_k, max_k))
    out = []
    for i in range(k):
        n = draw(st.integers(1, 300))
        out.append(StudyData(f"S{i}", draw(st.integers(0, n)), n))
    return out


options = st.fixed_dictionaries(
    {
        "transform": st.sampled_from(Transform),
        "method": st.sampled_from(TauMethod),
        "knha": st.booleans(),
        "pi": st.sampled_from(PredictionInterval),
    }
)


def _pool(data: list[StudyData], opts: dict[str, Any]) -> PoolResult:
    return pool(data, **opts)


@PROPS
@given(studies(), options)
def test_weights_are_non_negative_and_sum_to_100(
    data: list[StudyData], opts: dict[str, Any]
) -> None:
    r = _pool(data, opts)
    weights = [s.weight_pct for s in r.studies]
    assert all(w >= 0 for w in weights)
    assert math.isclose(sum(weights), 100.0, abs_tol=1e-9)


@PROPS
@given(studies(), options)
def test_estimate_is_a_proportion_inside_its_intervals(
    data: list[StudyData], opts: dict[str, Any]
) -> None:
    r = _pool(data, opts)
    assert 0.0 <= r.estimate <= 1.0
    assert r.ci_low_t - SLACK <= r.est_t <= r.ci_high_t + SLACK
    assert r.ci_low - SLACK <= r.estimate <= r.ci_high + SLACK
    if r.pi_low_t is not None and r.pi_high_t is not None:
        # sqrt(tau^2 + SE^2) >= SE, and the PI's critical value is at least the CI's
        assert r.pi_low_t <= r.ci_low_t + SLACK
        assert r.pi_high_t >= r.ci_high_t - SLACK
    for s in r.studies:
        assert s.ci_low - SLACK <= s.estimate <= s.ci_high + SLACK
        assert 0.0 <= s.cp_low <= s.proportion <= s.cp_high <= 1.0


@PROPS
@given(studies(), options)
def test_pooled_estimate_lies_between_the_studies(
    data: list[StudyData], opts: dict[str, Any]
) -> None:
    """A weighted mean with positive weights lies between the smallest and largest y_i."""
    r = _pool(data, opts)
    yi = [s.yi for s in r.studies]
    assert min(yi) - SLACK <= r.est_t <= max(yi) + SLACK
    if r.transform is not Transform.FREEMAN_TUKEY:  # FT pools at the harmonic-mean n
        est = [s.estimate for s in r.studies]
        assert min(est) - SLACK <= r.estimate <= max(est) + SLACK


@PROPS
@given(studies(), options)
def test_heterogeneity_statistics_are_in_range(data: list[StudyData], opts: dict[str, Any]) -> None:
    r = _pool(data, opts)
    assert 0.0 <= r.i2 < 100.0
    assert r.h2 >= 1.0 - SLACK or r.method is TauMethod.FIXED
    assert r.tau2 >= 0.0
    assert math.isclose(r.tau, math.sqrt(r.tau2))
    assert r.q >= 0.0
    assert 0.0 <= r.q_p <= 1.0
    assert r.q_df == r.k - 1
    if r.tau2_ci is not None:
        assert 0.0 <= r.tau2_ci[0] <= r.tau2_ci[1]
    if r.method is TauMethod.FIXED:
        assert r.tau2 == 0.0


@PROPS
@given(studies(), options, st.randoms(use_true_random=False))
def test_invariant_to_study_order(data: list[StudyData], opts: dict[str, Any], rnd: Any) -> None:
    shuffled = list(data)
    rnd.shuffle(shuffled)
    a, b = _pool(data, opts), _pool(shuffled, opts)
    for name in ("est_t", "se_t", "tau2", "i2", "q", "estimate", "ci_low", "ci_high"):
        assert math.isclose(getattr(a, name), getattr(b, name), rel_tol=1e-7, abs_tol=1e-9), name
    wa = {s.label: s.weight_pct for s in a.studies}
    wb = {s.label: s.weight_pct for s in b.studies}
    assert all(math.isclose(wa[k], wb[k], rel_tol=1e-7, abs_tol=1e-9) for k in wa)


@PROPS
@given(st.integers(2, 10), st.integers(1, 200), st.data(), options)
def test_identical_studies_have_no_heterogeneity(
    k: int, n: int, draw: st.DataObject, opts: dict[str, Any]
) -> None:
    events = draw.draw(st.integers(0, n))
    r = _pool([StudyData(f"S{i}", events, n) for i in range(k)], opts)
    assert r.tau2 == 0.0
    assert r.i2 == 0.0
    assert r.q == pytest.approx(0.0, abs=1e-9)
    assert all(s.weight_pct == pytest.approx(100.0 / k) for s in r.studies)


@PROPS
@given(studies(min_k=3, max_k=8), st.sampled_from(Transform))
def test_leave_one_out_drops_each_study_once(data: list[StudyData], transform: Transform) -> None:
    rows = leave_one_out(data, transform=transform)
    assert [label for label, _ in rows] == [s.label for s in data]
    for label, r in rows:
        assert r.k == len(data) - 1
        assert label not in [s.label for s in r.studies] or [s.label for s in data].count(label) > 1


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "n", "field"),
    [
        (11, 10, "Rai 2002: events"),
        (-1, 10, "Rai 2002: events"),
        (3, 0, "Rai 2002: n"),
        (3, -5, "Rai 2002: n"),
        (2.5, 10, "Rai 2002: events"),
        (3, 10.0, "Rai 2002: n"),
        (True, 10, "Rai 2002: events"),
        ("3", 10, "Rai 2002: events"),
    ],
)
def test_bad_counts_name_the_study_and_field(events: Any, n: Any, field: str) -> None:
    with pytest.raises(InputError) as exc:
        StudyData("Rai 2002", events, n)
    assert exc.value.field == field
    assert exc.value.fix


def test_empty_label_is_refused() -> None:
    with pytest.raises(InputError) as exc:
        StudyData("  ", 1, 2)
    assert exc.value.field == "label"


@pytest.mark.parametrize("k", [0, 1])
def test_pool_needs_two_studies(k: int) -> None:
    with pytest.raises(InputError) as exc:
        pool([StudyData(f"S{i}", 1, 10) for i in range(k)])
    assert (exc.value.field, exc.value.value) == ("studies", k)
    assert exc.value.fix == "pool needs at least 2 studies"


def test_leave_one_out_needs_three_studies() -> None:
    with pytest.raises(InputError) as exc:
        leave_one_out([StudyData("A", 1, 10), StudyData("B", 2, 10)])
    assert exc.value.field == "studies"


def test_pool_refuses_what_is_not_a_study() -> None:
    with pytest.raises(InputError) as exc:
        pool([StudyData("A", 1, 10), (2, 10)])  # type: ignore[list-item]
    assert exc.value.field == "studies[1]"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"transform": "logit"}, "transform"),
        ({"method": "REML"}, "method"),
        ({"pi": "hts"}, "pi"),
        ({"to": "only0"}, "to"),
        ({"knha": 1}, "knha"),
        ({"level": 95}, "level"),
        ({"level": 0.0}, "level"),
        ({"level": float("nan")}, "level"),
        ({"add": -0.5}, "add"),
        ({"add": float("inf")}, "add"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as exc:
        pool([StudyData("A", 1, 10), StudyData("B", 2, 10)], **kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize("transform", [Transform.RAW, Transform.LOGIT])
def test_zero_events_without_correction_is_refused(transform: Transform) -> None:
    """With to="none", 0/n has yi = -Inf (logit) or vi = 0 (raw): metafor cannot fit it."""
    with pytest.raises(InputError) as exc:
        pool(
            [StudyData("Rai 2002", 0, 24), StudyData("B", 2, 10)],
            transform=transform,
            to=ContinuityCorrection.NONE,
        )
    assert exc.value.field == "to"
    assert "Rai 2002" in exc.value.fix


def test_freeman_tukey_needs_no_correction() -> None:
    r = pool(
        [StudyData("Rai 2002", 0, 24), StudyData("B", 10, 10)],
        transform=Transform.FREEMAN_TUKEY,
        to=ContinuityCorrection.NONE,
    )
    assert r.add == 0.0
    assert r.studies[0].estimate == 0.0
    assert r.studies[1].estimate == 1.0


def test_hts_interval_needs_three_studies() -> None:
    r = pool([StudyData("A", 3, 20), StudyData("B", 9, 20)], pi=PredictionInterval.HTS)
    assert (r.pi_low, r.pi_high) == (None, None)


@pytest.mark.parametrize(
    ("groups", "field"),
    [
        (["a", "a", "b"], "groups"),
        (["a", "a", "a", "a"], "groups"),
        (["a", "a", "a", "b"], "groups: b"),
        (["a", "a", "", "b"], "groups[2]"),
    ],
)
def test_subgroup_errors_name_the_groups(groups: list[str], field: str) -> None:
    data = [StudyData(f"S{i}", i + 1, 20) for i in range(4)]
    with pytest.raises(InputError) as exc:
        subgroups(data, groups)
    assert exc.value.field == field


def test_methods_text_reproduces_the_call() -> None:
    r = pool(
        [StudyData('O"Brien 2001', 3, 20), StudyData("B", 9, 20), StudyData("C", 5, 12)],
        transform=Transform.FREEMAN_TUKEY,
        method=TauMethod.PM,
        knha=True,
    )
    assert 'escalc(measure="PFT", xi=xi, ni=ni, data=dat, slab=study)' in r.methods
    assert 'rma(yi, vi, data=dat, method="PM", test="knha", level=95)' in r.methods
    assert "predict(res, transf=transf.ipft.hm, targs=list(ni=dat$ni))" in r.methods
    assert r'"O\"Brien 2001"' in r.methods

"""The compiled kernel (numba) gives the NumPy integrator's results, and the choice between them
fails closed.

``simulate(backend="compiled")`` and ``simulate(backend="numpy")`` run the same method, step
control and summaries (cllcds.pk._kernel); a user must get the same numbers whichever is
installed, so every per-patient summary, every population statistic, the profiles, the
interval AUCs and the work counters are compared here to 1e-12 (relative), on IV, SC,
continuous-infusion and single-dose schedules.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cllcds.domain import InputError
from cllcds.pk import (
    PkParameters,
    continuous_infusion,
    dose_table,
    individuals,
    label_iv_schedule,
    simulate,
)

pytest.importorskip("numba")

REL = 1e-12

SC_SCHEDULE = dose_table(
    [
        {"time_h": 0, "dose_mg": 3, "route": "iv", "duration_h": 2},
        {"time_h": 24, "dose_mg": 10, "route": "iv", "duration_h": 2},
    ]
    + [
        {"time_h": 48 + 24 * (7 * w + d), "dose_mg": 30, "route": "sc", "duration_h": 0}
        for w in range(3)
        for d in (0, 2, 4)
    ],
    source="IV escalation, then SC 30 mg three times a week",
)
SINGLE = dose_table([{"time_h": 0, "dose_mg": 30, "route": "iv", "duration_h": 2}])


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def assert_same_nested(a: object, b: object, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict)
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_nested(a[k], b[k], f"{where}.{k}")
    else:
        assert close(float(a), float(b)), (where, a, b)  # type: ignore[arg-type]


def assert_same_arrays(a: np.ndarray, b: np.ndarray, where: str) -> None:
    assert a.shape == b.shape, where
    assert np.array_equal(np.isnan(a), np.isnan(b)), where
    ok = ~np.isnan(a)
    scale = np.maximum(np.maximum(np.abs(a[ok]), np.abs(b[ok])), 1e-300)
    assert np.all(np.abs(a[ok] - b[ok]) <= REL * scale), (where, np.max(np.abs(a[ok] - b[ok])))


def assert_same(compiled, numpy) -> None:
    assert compiled.stats == numpy.stats  # same steps, rejections, iterations, segments
    assert compiled.times_h == numpy.times_h
    assert compiled.per_patient.keys() == numpy.per_patient.keys()
    for key in numpy.per_patient:
        assert_same_arrays(compiled.per_patient[key], numpy.per_patient[key], key)
    assert_same_nested(compiled.summary, numpy.summary, "summary")
    assert_same_nested(compiled.fractions, numpy.fractions, "fractions")
    assert len(compiled.profile) == len(numpy.profile)
    for k, (pa, pb) in enumerate(zip(compiled.profile, numpy.profile, strict=True)):
        assert_same_nested(pa, pb, f"profile[{k}]")
    assert len(compiled.weekly_troughs) == len(numpy.weekly_troughs)
    for wa, wb in zip(compiled.weekly_troughs, numpy.weekly_troughs, strict=True):
        assert (wa.week, wa.doses) == (wb.week, wb.doses)
        assert_same_nested(wa.lowest, wb.lowest, f"week {wa.week} lowest")
        assert_same_nested(wa.highest, wb.highest, f"week {wa.week} highest")
    if numpy.patient_profiles is not None:
        for a, b in zip(compiled.patient_profiles, numpy.patient_profiles, strict=True):
            assert_same_arrays(a, b, "patient_profiles")
    if numpy.interval_auc is not None:
        assert compiled.interval_auc[0] == numpy.interval_auc[0]
        assert_same_arrays(compiled.interval_auc[1], numpy.interval_auc[1], "interval_auc")


@pytest.mark.parametrize(
    ("schedule", "kwargs"),
    [
        (label_iv_schedule(), {"n": 120, "seed": 3}),
        (SC_SCHEDULE, {"n": 60, "seed": 4, "thresholds_mg_per_l": (0.5, 2.0, 13.2)}),
        (continuous_infusion(15, 5), {"n": 40, "seed": 5, "targets_mg_per_l": (0.3, 1.0)}),
        (SINGLE, {"n": 50, "seed": 6}),
        (label_iv_schedule(), {}),  # the typical patient
    ],
    ids=["label-iv", "sc", "continuous", "single-dose", "typical"],
)
def test_compiled_equals_numpy(schedule, kwargs):
    common = {"keep_profiles": True, "keep_interval_auc": True, **kwargs}
    compiled = simulate(schedule, backend="compiled", **common)
    numpy = simulate(schedule, backend="numpy", **common)
    assert_same(compiled, numpy)
    assert compiled.per_patient["auc"].min() > 0  # something was simulated


def test_compiled_equals_numpy_with_residual_error_and_wbc0():
    kwargs = {"n": 80, "seed": 9, "residual_error": True, "wbc0": 120.0, "keep_profiles": True}
    assert_same(
        simulate(label_iv_schedule(4), backend="compiled", **kwargs),
        simulate(label_iv_schedule(4), backend="numpy", **kwargs),
    )


def test_compiled_results_do_not_depend_on_chunking(monkeypatch):
    """The segments are processed in chunks bounded by memory; any chunk size gives the same
    result (here 7 patients x 3 segments per chunk)."""
    import cllcds.pk._kernel as kernel

    ind = individuals(PkParameters(), 7, rng=np.random.default_rng(21))
    kwargs = {"individuals_override": ind, "keep_profiles": True, "keep_interval_auc": True}
    whole = simulate(label_iv_schedule(3), backend="compiled", **kwargs)
    monkeypatch.setattr(kernel, "CHUNK_VALUES", 21)
    chunked = simulate(label_iv_schedule(3), backend="compiled", **kwargs)
    assert_same(chunked, whole)
    assert_same(chunked, simulate(label_iv_schedule(3), backend="numpy", **kwargs))


def test_compiled_lanes_and_blocks_give_the_numpy_numbers_bit_for_bit(monkeypatch):
    """The kernel advances _LANES patients side by side per thread, a lane taking the next
    patient of its block when one is done, in blocks over the threads; patients that share a
    lane or a block, and a chunk boundary in the middle, change nothing: every number equals the
    NumPy path's exactly (2,200 patients: several blocks, each lane serving many patients)."""
    import cllcds.pk._kernel as kernel

    n = 2200
    assert n > 2 * 16 * kernel._LANES  # more than two blocks of the smallest size
    ind = individuals(PkParameters(), n, rng=np.random.default_rng(33))
    kwargs = {
        "individuals_override": ind,
        "keep_profiles": True,
        "keep_interval_auc": True,
        "thresholds_mg_per_l": (0.5, 2.0),
        "targets_mg_per_l": (0.3, 1.0),
    }
    numpy = simulate(SC_SCHEDULE, backend="numpy", **kwargs)
    monkeypatch.setattr(kernel, "CHUNK_VALUES", 25 * n)
    compiled = simulate(SC_SCHEDULE, backend="compiled", **kwargs)
    assert compiled.stats == numpy.stats
    for key in numpy.per_patient:
        assert np.array_equal(compiled.per_patient[key], numpy.per_patient[key], equal_nan=True)
    for a, b in zip(compiled.patient_profiles, numpy.patient_profiles, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(compiled.interval_auc[1], numpy.interval_auc[1])


def test_unknown_backend_is_refused():
    with pytest.raises(InputError) as err:
        simulate(label_iv_schedule(), backend="fortran")
    assert err.value.field == "backend"
    assert "auto, compiled, numpy" in str(err.value)


def test_without_numba_auto_uses_numpy_and_compiled_names_the_extra():
    """Where numba is not installed (it is an optional extra) the NumPy path runs, and asking
    for the compiled kernel says which extra to install."""
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        class NoNumba(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "numba" or name.startswith("numba."):
                    raise ModuleNotFoundError(name)
                return None

        sys.meta_path.insert(0, NoNumba())
        from cllcds.domain import InputError
        from cllcds.pk import label_iv_schedule, simulate
        from cllcds.pk._population import compiled_available, resolve_backend

        assert not compiled_available()
        assert resolve_backend("auto") == "numpy"
        r = simulate(label_iv_schedule(1), n=5, seed=1)
        assert r.per_patient["auc"].min() > 0
        assert "numba" not in sys.modules
        try:
            simulate(label_iv_schedule(1), n=5, seed=1, backend="compiled")
        except InputError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'cllcds[pk]'" in out.stdout


def _rows_for_percentiles(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows a population statistic meets: sizes around the kernel's direct-selection limit,
    ties, sorted and reversed values, constants, non-finite entries, nothing finite, and a row
    whose fixed-stride sample is all one value (so that its brackets miss and every value
    becomes a candidate)."""
    import cllcds.pk._kernel as kernel

    rows: list[np.ndarray] = []
    for n in (1, 2, 3, 7, 100, kernel._SMALL - 1, kernel._SMALL, kernel._SMALL + 1, 9_999, 40_000):
        rows.append(rng.lognormal(size=n))
        rows.append(np.sort(rng.normal(size=n)))
        rows.append(np.sort(rng.normal(size=n))[::-1].copy())
        rows.append(rng.integers(0, 4, n).astype(float))
        rows.append(np.full(n, 3.25))
        holes = rng.normal(size=n)
        holes[rng.random(n) < 0.3] = np.nan
        holes[: min(n, 2)] = (np.inf, -np.inf)[: min(n, 2)]
        rows.append(holes)
        rows.append(np.full(n, np.nan))
    n = 8 * kernel._SAMPLE + 5  # stride 8: the sample takes every 8th value
    stride_trap = rng.uniform(1.0, 2.0, n)
    stride_trap[:: n // kernel._SAMPLE] = 0.0
    rows.append(stride_trap)
    return rows


def test_compiled_population_statistics_equal_numpy_percentile_bit_for_bit(monkeypatch):
    """The output profile, the weekly troughs and the summary are population statistics (mean
    and the 5th-95th percentiles of the finite values, numpy.percentile's "linear" method). The
    compiled path computes the percentiles itself, in parallel over rows; each number must be
    exactly NumPy's, whatever the row holds (here every row goes through the compiled kernel,
    short ones included)."""
    import cllcds.pk._kernel as kernel
    from cllcds.pk._kernel import population_stats_rows as compiled_rows
    from cllcds.pk._summaries import population_stats, population_stats_rows

    monkeypatch.setattr(kernel, "COMPILED_STATS_MIN_VALUES", 1)

    for row in _rows_for_percentiles(np.random.default_rng(77)):
        want = population_stats(row)
        (got,) = compiled_rows(row[np.newaxis, :])
        assert list(got) == list(want)
        for key, value in want.items():
            assert got[key] == value or (math.isnan(got[key]) and math.isnan(value)), (
                row.size,
                key,
                got[key],
                value,
            )
    block = np.random.default_rng(5).gamma(2.0, size=(9, 6_000))
    assert compiled_rows(block) == population_stats_rows(block)
    monkeypatch.undo()  # short rows left to NumPy: the same numbers
    short = np.random.default_rng(6).gamma(2.0, size=(4, kernel.COMPILED_STATS_MIN_VALUES - 1))
    assert compiled_rows(short) == population_stats_rows(short)


def test_population_statistics_in_batches_of_any_size(monkeypatch):
    """The Summariser computes its population statistics in batches bounded by memory; a batch
    of one row gives the same profile, weekly troughs and summary as the default."""
    import cllcds.pk._summaries as summaries

    kwargs = {"n": 40, "seed": 12}
    whole = simulate(label_iv_schedule(3), backend="compiled", **kwargs)
    monkeypatch.setattr(summaries, "PENDING_VALUES", 1)
    for backend in ("compiled", "numpy"):
        batched = simulate(label_iv_schedule(3), backend=backend, **kwargs)
        assert batched.profile == whole.profile
        assert batched.weekly_troughs == whole.weekly_troughs
        assert batched.summary == whole.summary

"""x**a from IEEE-754 basic operations (cllcds.pk._simulate._power): the Mould model's
Vmax·(W/10)^0.194 and the step-size reduction use it in both the NumPy path and the compiled
kernel, so that the two give the same numbers on every machine (NumPy's `np.power`/`np.cbrt`
use SIMD libraries on some CPUs and differ from C's `pow`/`cbrt` in the last bit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cllcds.pk._simulate import CUBE_ROOT, _power, power_table


@pytest.mark.parametrize("a", [0.194, 1.0 / 3.0, -0.5, 2.5, 0.0])
def test_power_is_accurate_to_a_few_units_in_the_last_place(a):
    x = np.exp(np.random.default_rng(1).uniform(math.log(1e-13), math.log(1e6), 20_000))
    got = _power(x, CUBE_ROOT if a == 1.0 / 3.0 else power_table(a))
    exact = np.array([math.pow(v, a) for v in x])
    assert np.max(np.abs(got / exact - 1)) <= 8 * np.finfo(float).eps


def test_power_outside_its_range_is_nan():
    got = _power(np.array([np.nan, np.inf, 0.0, -1.0, 1e-300, 1.0]), power_table(0.194))
    assert np.isnan(got[:5]).all()
    assert abs(got[5] - 1.0) <= 8 * np.finfo(float).eps


def test_compiled_power_is_bit_for_bit_the_numpy_one():
    pytest.importorskip("numba")
    from cllcds.pk._kernel import _power as compiled_power

    table = power_table(0.194)
    x = np.exp(np.random.default_rng(2).uniform(math.log(1e-13), math.log(1e4), 2_000))
    vectorised = _power(x, table)
    assert all(compiled_power(float(v), table) == r for v, r in zip(x, vectorised, strict=True))
    cube = _power(x[x < 1], CUBE_ROOT)
    assert all(
        compiled_power(float(v), CUBE_ROOT) == r for v, r in zip(x[x < 1], cube, strict=True)
    )

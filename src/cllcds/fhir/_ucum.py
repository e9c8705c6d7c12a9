"""UCUM units read with a UCUM library (``ucumvert``: the UCUM grammar onto ``pint``).

EHRs write the same quantity in many valid UCUM forms (``/nL``, ``10*3/mm3``, ``10*9/L``,
``{cells}/uL``; ``[IU]/L``; ``{copies}/mL``). The import converts any valid form to the unit the
course document uses instead of keeping a hand list. The registry is built on first use (it
compiles the UCUM grammar), so commands that never meet an unusual unit do not pay for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

SIGNIFICANT = 12
"""Conversion factors are rounded to this many significant digits (pint's float arithmetic
gives 999999999.9999999 for 10^9)."""


@cache
def _registry() -> Any:
    from ucumvert import PintUcumRegistry  # noqa: PLC0415 - deferred: compiles the grammar

    return PintUcumRegistry()


def convert(value: float, unit: str, target: str) -> float | None:
    """``value`` in ``unit`` expressed in ``target``; ``None`` when ``unit`` is not valid UCUM
    or not of the target's dimension (annotations such as ``{cells}`` count as 1)."""
    reg = _registry()
    try:
        source = reg.from_ucum(unit)
        dest = reg.from_ucum(target)
        factor = float((source / dest).to("dimensionless").magnitude)
    except Exception:
        return None
    return float(f"{value * factor:.{SIGNIFICANT}g}")


def is_international_units(unit: str) -> bool:
    """Whether a valid UCUM unit counts international units (``[IU]/mL``, ``[iU]/L``)."""
    try:
        q = _registry().from_ucum(unit)
    except Exception:
        return False
    return "international_unit" in str(q.units)

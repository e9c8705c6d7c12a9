"""The project's scripts and benchmarks as modules, for tests that use their cases.

``scripts/`` and ``benchmarks/`` are not packages; each is loaded from its file once.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def load_script(relative: str) -> ModuleType:
    """The module in ``ROOT / relative`` (e.g. ``"scripts/hostile_courses.py"``)."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

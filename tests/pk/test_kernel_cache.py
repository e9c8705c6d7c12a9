"""The compiled kernel's disk cache never serves machine code built against other constants.

numba keys its cache on ``_kernel.py`` and the kernels' bytecode; the kernels also freeze
constants of ``_simulate.py`` and other modules, so a change there alone reused stale machine
code silently (wrong step counts). ``_drop_stale_cache`` keeps a digest of those sources beside
the cache and empties every kernel's index when it differs. Each step runs in a fresh process
with its own cache folder, as a new session of a user would.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

PK = Path(__file__).resolve().parents[2] / "src" / "cllcds" / "pk"
COUNT = """
from cllcds.pk import _kernel as k
print(k._run._cache.cache_path)
print(sum(len(kernel._cache._cache_file._load_index()) for kernel in k._KERNELS))
"""
PLANT = """
from cllcds.pk import _kernel as k
k._run._cache._cache_file._save_index({"planted": "planted.nbc"})
"""


def run(code: str, cache: Path) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_cache_is_kept_while_the_constants_are_unchanged_and_emptied_when_they_change(
    tmp_path,
):
    from cllcds.pk import _kernel

    digest = hashlib.sha256()
    for name in _kernel._CONSTANT_SOURCES:
        digest.update((PK / name).read_bytes())
    folder, entries = run(COUNT, tmp_path)
    marker = Path(folder) / "_kernel.constants.sha256"
    assert marker.read_text(encoding="ascii") == digest.hexdigest()
    assert int(entries) == 0

    run(PLANT, tmp_path)  # an entry compiled against the current sources
    assert int(run(COUNT, tmp_path)[1]) == 1  # kept: same constants

    marker.write_text("0" * 64, encoding="ascii")  # the entry came from other constants
    assert int(run(COUNT, tmp_path)[1]) == 0  # forgotten: compiled again on first use
    assert marker.read_text(encoding="ascii") == digest.hexdigest()

"""Optional cross-check against R deSolve (lsoda), an independent solver in another language.

Runs ``Rscript scripts/r/pk_desolve.R`` (R 4.2, deSolve 1.34 here: Debian ``r-cran-desolve``)
on the same virtual patients and schedule, at rtol 1e-8 / atol 1e-10, and requires the same
accuracy as the SciPy reference: within 1 % plus a floor of 1e-3 µg/mL (concentration) and
0.01 × 10⁹/L (WBC). Skipped, with the reason, when R or deSolve is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cllcds.pk import PkParameters, individuals, label_iv_schedule, simulate
from cllcds.pk._reference import read_desolve_output, write_desolve_inputs

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "r" / "pk_desolve.R"
RSCRIPT = shutil.which("Rscript")


def _desolve_available() -> bool:
    if RSCRIPT is None:
        return False
    probe = subprocess.run(
        [RSCRIPT, "-e", "library(deSolve)"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _desolve_available(),
    reason="R deSolve not installed (apt-get install r-cran-desolve) - cross-check skipped",
)


def test_matches_r_desolve(tmp_path):
    ind = individuals(PkParameters(), 3, rng=np.random.default_rng(21))
    schedule = label_iv_schedule(4)
    times = np.arange(0.0, 30 * 24 + 1, 12.0)
    params, doses, grid = write_desolve_inputs(ind, schedule, times, tmp_path)
    out = tmp_path / "out.csv"
    assert RSCRIPT is not None
    proc = subprocess.run(
        [RSCRIPT, str(SCRIPT), str(params), str(doses), str(grid), str(out), "1e-8", "1e-10"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    ref_c, ref_w = read_desolve_output(out, ind.n, times)
    r = simulate(schedule, individuals_override=ind, times_h=times.tolist(), keep_profiles=True)
    sim_c, sim_w = r.patient_profiles
    assert np.all(np.abs(sim_c - ref_c) <= 0.01 * np.abs(ref_c) + 1e-3)
    assert np.all(np.abs(sim_w - ref_w) <= 0.01 * np.abs(ref_w) + 1e-2)

"""Benchmark: the vectorised PK/PD simulator against per-patient solvers.

Workload: the 12-week label IV schedule (cllcds.pk.label_iv_schedule: 38 doses, 1093 mg), from
0 to 2016 h, concentration and WBC at a daily grid (85 times) plus the streamed summaries, for
virtual patients with the full Mould 2007 inter-individual variability.

Compared side by side in one run:

* cllcds (vectorised Rosenbrock over all patients) at 10,000 and 100,000 patients, each in a
  fresh subprocess so that its peak RSS is its own;
* ``scipy.integrate.solve_ivp`` one patient at a time (LSODA with an analytic Jacobian, the
  package's reference code) at rtol 1e-6 / atol 1e-9 and at the tight reference tolerance
  rtol 1e-10 / atol 1e-12, timed on a sample and extrapolated linearly to 10,000 and 100,000;
* R deSolve ``lsoda`` one patient at a time (scripts/r/pk_desolve.R) at rtol 1e-6 / atol 1e-9,
  timed on a sample and extrapolated likewise (skipped when R/deSolve are missing).

Accuracy: the first patients of the 10,000-patient run against the tight reference.

Run: ``.venv/bin/python benchmarks/bench_pk.py [--quick]`` (about 15 minutes on 2 cores; quick:
smaller samples). Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy

from cllcds.pk import PkParameters, individuals, label_iv_schedule, reference_profiles, simulate
from cllcds.pk._reference import write_desolve_inputs

T_END = 2016.0
GRID = np.arange(0.0, T_END + 1e-9, 24.0)
SEED = 2024
ROOT = Path(__file__).resolve().parents[1]


def _vectorised(n: int) -> dict[str, float]:
    """Run in this process (called in a child): time and peak RSS for n patients."""
    ind = individuals(PkParameters(), n, rng=np.random.default_rng(SEED))
    t0 = time.perf_counter()
    r = simulate(
        label_iv_schedule(), individuals_override=ind, times_h=GRID.tolist(), t_end_h=T_END
    )
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n,
        "seconds": wall,
        "peak_rss_mb": rss_mb,
        "patient_steps": r.stats.steps,
        "iterations": r.stats.iterations,
        "median_cmax": r.summary["cmax"]["p50"],
    }


def _child(n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _solve_ivp_sample(n: int, rtol: float, atol: float) -> float:
    ind = individuals(PkParameters(), n, rng=np.random.default_rng(SEED))
    t0 = time.perf_counter()
    reference_profiles(ind, label_iv_schedule(), GRID, method="LSODA", rtol=rtol, atol=atol)
    return (time.perf_counter() - t0) / n


def _desolve_sample(n: int, rtol: float, atol: float) -> float | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    ind = individuals(PkParameters(), n, rng=np.random.default_rng(SEED))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        params, doses, grid = write_desolve_inputs(ind, label_iv_schedule(), GRID, folder)
        proc = subprocess.run(
            [
                rscript,
                str(ROOT / "scripts" / "r" / "pk_desolve.R"),
                str(params),
                str(doses),
                str(grid),
                str(folder / "out.csv"),
                str(rtol),
                str(atol),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return None
        elapsed = float(proc.stdout.split("elapsed_s=")[1].split()[0])
    return elapsed / n


def _accuracy(n: int) -> tuple[float, float]:
    ind = individuals(PkParameters(), n, rng=np.random.default_rng(SEED))
    r = simulate(
        label_iv_schedule(),
        individuals_override=ind,
        times_h=GRID.tolist(),
        t_end_h=T_END,
        keep_profiles=True,
    )
    ref_c, ref_w = reference_profiles(ind, label_iv_schedule(), GRID, rtol=1e-10, atol=1e-12)
    sim_c, sim_w = r.patient_profiles
    err_c = np.max(np.abs(sim_c - ref_c) / (np.abs(ref_c) + 0.1))  # 1 % + 1e-3 µg/mL floor
    err_w = np.max(np.abs(sim_w - ref_w) / (np.abs(ref_w) + 1.0))  # 1 % + 0.01 floor
    return float(err_c), float(err_w)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_vectorised(args.child)))
        return
    sample = 40 if args.quick else 200
    tight_sample = 20 if args.quick else 50
    sizes = (2000, 10000) if args.quick else (10_000, 100_000)
    print(
        f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}"
    )
    vec = {n: _child(n) for n in sizes}
    per_ivp = _solve_ivp_sample(sample, 1e-6, 1e-9)
    per_ivp_tight = _solve_ivp_sample(tight_sample, 1e-10, 1e-12)
    per_r = _desolve_sample(sample, 1e-6, 1e-9)
    err_c, err_w = _accuracy(tight_sample)
    print()
    print("| Method | Patients | Time (s) | Per patient (ms) | Peak RSS (MB) | cllcds speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for n, v in vec.items():
        print(
            f"| cllcds vectorised | {n:,} | {v['seconds']:.1f} | {1000 * v['seconds'] / n:.2f} "
            f"| {v['peak_rss_mb']:.0f} | 1 |"
        )
    for label, per, sampled in (
        ("solve_ivp LSODA per patient, rtol 1e-6", per_ivp, sample),
        ("solve_ivp LSODA per patient, rtol 1e-10 (reference)", per_ivp_tight, tight_sample),
        ("R deSolve lsoda per patient, rtol 1e-6", per_r, sample),
    ):
        if per is None:
            print(f"| {label} | - | not run (R/deSolve missing) | | | |")
            continue
        for n, v in vec.items():
            print(
                f"| {label} (extrapolated from {sampled}) | {n:,} | {per * n:.0f} "
                f"| {1000 * per:.1f} | - | {per * n / v['seconds']:.0f}× |"
            )
    print()
    for n, v in vec.items():
        print(
            f"cllcds {n:,}: {v['patient_steps'] / n:.0f} steps per patient, "
            f"{v['iterations']} vectorised iterations, median Cmax {v['median_cmax']:.3f} µg/mL"
        )
    print(
        f"Accuracy vs solve_ivp LSODA rtol 1e-10 ({tight_sample} patients, daily grid): max "
        f"|error|/(|ref| + floor/1%) = {100 * err_c:.3f} % (concentration), "
        f"{100 * err_w:.3f} % (WBC)"
    )


if __name__ == "__main__":
    main()

"""Generate tight per-patient reference solutions and compare the vectorised simulator with them.

For ``--n`` virtual patients (full Mould 2007 variability, ``--seed``) on a schedule (the
12-week label schedule, the IV-escalation-then-SC schedule or the 15 mg/day × 6 d continuous
infusion), each patient is solved alone with ``scipy.integrate.solve_ivp`` (LSODA and/or Radau,
rtol 1e-10, atol 1e-12, piecewise between events), and the vectorised simulator is run on the
same patients. Prints the largest relative errors (with the floors the tests use: 1e-3 µg/mL,
0.01 × 10⁹/L) and optionally writes the reference to a CSV file.

Usage::

    .venv/bin/python scripts/pk_reference.py --schedule label --n 100 --seed 1 \
        [--method LSODA|Radau] [--out reference.csv]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from cllcds.pk import (
    DoseTable,
    PkParameters,
    continuous_infusion,
    dose_table,
    individuals,
    label_iv_schedule,
    reference_profiles,
    simulate,
)


def schedules() -> dict[str, tuple[DoseTable, np.ndarray]]:
    sc = dose_table(
        [
            {"time_h": 0, "dose_mg": 3, "route": "iv", "duration_h": 2},
            {"time_h": 24, "dose_mg": 10, "route": "iv", "duration_h": 2},
        ]
        + [
            {"time_h": 48 + 24 * (7 * w + d), "dose_mg": 30, "route": "sc", "duration_h": 0}
            for w in range(12)
            for d in (0, 2, 4)
        ]
    )
    return {
        "label": (label_iv_schedule(), np.arange(1.0, 84 * 24 + 14 * 24, 7.0)),
        "sc": (sc, np.arange(1.0, 100 * 24, 7.0)),
        "continuous": (continuous_infusion(15, 6), np.arange(0.5, 14 * 24, 2.0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", choices=sorted(schedules()), default="label")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", choices=("LSODA", "Radau"), default="LSODA")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    doses, grid = schedules()[args.schedule]
    ind = individuals(PkParameters(), args.n, rng=np.random.default_rng(args.seed))
    t0 = time.perf_counter()
    ref_c, ref_w = reference_profiles(ind, doses, grid, method=args.method)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = simulate(
        doses,
        individuals_override=ind,
        times_h=grid.tolist(),
        t_end_h=float(grid.max()),
        keep_profiles=True,
    )
    t_sim = time.perf_counter() - t0
    sim_c, sim_w = r.patient_profiles
    err_c = np.abs(sim_c - ref_c) / (np.abs(ref_c) + 0.1)
    err_w = np.abs(sim_w - ref_w) / (np.abs(ref_w) + 1.0)
    print(f"schedule {args.schedule}, {args.n} patients, seed {args.seed}, {grid.size} times")
    print(f"reference {args.method} rtol 1e-10: {t_ref:.1f} s; vectorised: {t_sim:.2f} s")
    print(
        f"max error (1 % + floor units): concentration {100 * err_c.max():.3f} %, "
        f"WBC {100 * err_w.max():.3f} %; 99th percentile {100 * np.percentile(err_c, 99):.3f} % "
        f"/ {100 * np.percentile(err_w, 99):.3f} %"
    )
    if args.out:
        with args.out.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["patient", "time_h", "conc_ug_per_ml", "wbc_1e9_per_l"])
            for i in range(args.n):
                for j, t in enumerate(grid):
                    w.writerow([i, t, ref_c[i, j], ref_w[i, j]])


if __name__ == "__main__":
    main()

"""Benchmark: a million virtual patients through a scenario comparison on this machine.

Runs the built-in ``iv_vs_sc`` scenario (2 arms: every virtual patient simulated under both)
for 1,000,000 patients (100 replicates of 10,000) on the local process pool (default: one
worker per CPU), then on 1 worker, and on a local Dask cluster (2 worker processes), each in a
fresh subprocess so that wall time and peak RSS are its own. Peak RSS is that of the parent
process (it holds only the aggregate); the workers' peak is reported from a chunk-size probe
(tracemalloc over one replicate). Also checks that the three runs give identical counts.

Run: ``.venv/bin/python benchmarks/bench_cohort.py [--n N]``. Prints a Markdown table for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from cllcds.cohort import CHUNK_SIZE, load_example, plan_chunks, report, run_cohort, simulate_chunk

SCENARIO = "iv_vs_sc"
SEED = 2024


def _child(n: int, mode: str) -> dict[str, object]:
    sc = load_example(SCENARIO)
    t0 = time.perf_counter()
    if mode == "dask":
        from distributed import LocalCluster  # noqa: PLC0415 - only this mode needs Dask

        with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster:
            t0 = time.perf_counter()  # cluster start-up is not part of the run
            run = run_cohort(sc, n, SEED, scheduler=cluster.scheduler_address)
    else:
        run = run_cohort(sc, n, SEED, workers=int(mode))
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    doc = report(run, curves=False)
    t_report = time.perf_counter() - t1
    return {
        "mode": mode,
        "n": n,
        "seconds": wall,
        "report_seconds": t_report,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "backend": run.backend,
        "counts": {a: run.arms[a].counts.tolist() for a in run.arms},
        "orr_iv": doc["arms"][0]["rates"]["orr"]["rate"],
    }


def _spawn(n: int, mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--mode", mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _chunk_memory() -> float:
    spec = plan_chunks(load_example(SCENARIO), CHUNK_SIZE * 20, SEED)[0]
    tracemalloc.start()
    simulate_chunk(spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--child", type=int)
    parser.add_argument("--mode", default=str(os.cpu_count() or 1))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.mode)))
        return
    cpus = os.cpu_count() or 1
    runs = [_spawn(args.n, str(cpus)), _spawn(args.n, "1"), _spawn(args.n, "dask")]
    same = all(r["counts"] == runs[0]["counts"] for r in runs)
    print(f"# {cpus} CPUs, NumPy {np.__version__}; scenario builtin:{SCENARIO}, seed {SEED}")
    print()
    print(
        "| Backend | Virtual patients (× 2 arms) | Time (s) | Patients/s | Report (s) | "
        "Parent peak RSS (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in runs:
        secs = float(r["seconds"])  # type: ignore[arg-type]
        print(
            f"| {r['backend']} | {r['n']:,} | {secs:.1f} | {int(r['n']) / secs:,.0f} "  # type: ignore[call-overload]
            f"| {float(r['report_seconds']):.2f} | {float(r['peak_rss_mb']):.0f} |"  # type: ignore[arg-type]
        )
    print()
    print(
        f"Identical counts on every backend: {same}. "
        f"Peak traced memory of one replicate of {CHUNK_SIZE:,} patients: "
        f"{_chunk_memory():.1f} MB. ORR (IV arm): {float(runs[0]['orr_iv']):.4f}"
    )  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

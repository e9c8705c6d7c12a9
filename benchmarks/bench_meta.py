"""Pooled estimates: cllcds against R metafor on the same data, side by side.

For k = 9 (the review's Table 1), 50 and 500 studies, the script times one full analysis —
``escalc`` + ``rma`` (REML) + ``predict`` with the back-transform + ``confint`` (Q-profile
CIs of tau², I², H²) — in cllcds and in R metafor, each in a warm process, as the median of
repeated runs. R is run with ``Rscript`` when it is on the PATH (Debian: ``r-base-core``,
``r-cran-metafor``); otherwise its column says "not installed".

Run: ``.venv/bin/python benchmarks/bench_meta.py``; it prints a Markdown table for
``docs/performance.md``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import textwrap
import time

import numpy as np

from cllcds.evidence import StudyData, TauMethod, Transform, pool

TABLE_1 = [(12, 29), (8, 24), (31, 93), (9, 17), (13, 42), (10, 36), (19, 50), (49, 91), (8, 16)]


def dataset(k: int) -> list[tuple[int, int]]:
    if k == len(TABLE_1):
        return TABLE_1
    rng = np.random.default_rng(20071)
    n = rng.integers(10, 200, size=k)
    p = rng.beta(4, 6, size=k)
    x = rng.binomial(n, p)
    return list(zip(x.tolist(), n.tolist(), strict=True))


def time_python(data: list[tuple[int, int]], repeat: int) -> float:
    studies = [StudyData(f"s{i}", x, n) for i, (x, n) in enumerate(data)]
    pool(studies, transform=Transform.LOGIT, method=TauMethod.REML)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        pool(studies, transform=Transform.LOGIT, method=TauMethod.REML)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1e3


def time_r(data: list[tuple[int, int]], repeat: int) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    xi = ",".join(str(x) for x, _ in data)
    ni = ",".join(str(n) for _, n in data)
    script = textwrap.dedent(f"""
        suppressPackageStartupMessages(library(metafor))
        run <- function() {{
          dat <- escalc(measure="PLO", xi=c({xi}), ni=c({ni}))
          res <- rma(yi, vi, data=dat, method="REML")
          p <- predict(res, transf=transf.ilogit)
          ci <- confint(res)
          invisible(list(p, ci))
        }}
        run()
        t <- sapply(1:{repeat}, function(i) system.time(run())[["elapsed"]])
        cat(median(t) * 1000, "\\n")
    """)
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().split()[-1])


def main() -> None:
    print("| k studies | cllcds ms | R metafor ms | R / cllcds |")
    print("|---:|---:|---:|---:|")
    for k, repeat in ((9, 200), (50, 100), (500, 20)):
        data = dataset(k)
        py = time_python(data, repeat)
        r = time_r(data, repeat)
        ratio = "-" if r is None else f"{r / py:.1f}"
        r_text = "not installed" if r is None else f"{r:.2f}"
        print(f"| {k} | {py:.2f} | {r_text} | {ratio} |")


if __name__ == "__main__":
    main()

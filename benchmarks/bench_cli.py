"""Benchmark: start-up cost of the command line (CPU seconds per command, and what it imports).

Each command runs in a fresh interpreter (as a user runs ``cllcds``), ``--rounds`` times,
interleaved; the CPU time (user + system) of the child comes from ``getrusage`` and the number
of imported modules from ``sys.modules`` at exit. With ``--compare PATH`` the same commands run
against another source tree (e.g. a checkout of the previous commit's ``src``), side by side,
with this environment's packages.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--rounds 5] [--compare /tmp/old/src]``.
Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "courses" / "neutropenia-hold.json"
COMMANDS = (
    ("--help",),
    ("--version",),
    ("course", "assess", str(EXAMPLE)),
    ("course", "assess", "--help"),
    ("regimens", "list"),
    ("pk", "simulate", "--regimen", "label-iv", "--t-end", "200", "--format", "json"),
)
HEAVY = ("scipy", "alembic", "sqlalchemy", "fastapi", "matplotlib", "numba", "pydantic")
CHILD = """
import atexit, json, sys
def report():
    mods = sorted(sys.modules)
    heavy = [h for h in {heavy!r} if h in sys.modules]
    sys.__stderr__.write("\\nMODULES " + json.dumps([len(mods), heavy]) + "\\n")
atexit.register(report)
sys.argv = ["cllcds", *{args!r}]
from cllcds.cli import main
main()
"""


def run(args: tuple[str, ...], src: Path | None) -> tuple[float, int, list[str]]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(heavy=HEAVY, args=list(args))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")]
    if not line:
        raise SystemExit(f"cllcds {' '.join(args)} failed: {proc.stderr[-500:]}")
    import json  # noqa: PLC0415 - a benchmark script

    count, heavy = json.loads(line[-1].removeprefix("MODULES "))
    return cpu, count, heavy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another source tree to run side by side")
    args = parser.parse_args()
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.compare is not None:
        trees.insert(0, (f"{args.compare}", args.compare))
    results: dict[tuple[str, tuple[str, ...]], list[tuple[float, int, list[str]]]] = {}
    for _ in range(args.rounds):
        for cmd in COMMANDS:
            for name, src in trees:
                results.setdefault((name, cmd), []).append(run(cmd, src))
    print(f"Python {sys.version.split()[0]}, {args.rounds} interleaved rounds, CPU s (min/median)")
    print()
    print("| command | tree | CPU min s | CPU median s | modules | heavy modules imported |")
    print("|---|---|---:|---:|---:|---|")
    for cmd in COMMANDS:
        for name, _ in trees:
            rows = results[(name, cmd)]
            cpus = [r[0] for r in rows]
            short = " ".join(a if len(a) < 30 else Path(a).name for a in cmd)
            print(
                f"| `cllcds {short}` | {name} | {min(cpus):.2f} | {statistics.median(cpus):.2f} "
                f"| {rows[0][1]} | {', '.join(rows[0][2]) or '-'} |"
            )


if __name__ == "__main__":
    main()

"""``cllcds cohort`` run as a user runs it: the installed console script in a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cohort"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([CLLCDS, *args], capture_output=True, text=True, timeout=300, check=False)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_json_comparison_with_plot(tmp_path):
    plot = tmp_path / "cohort.png"
    proc = run(
        "cohort", "simulate", "--scenario", str(EXAMPLES / "iv_vs_sc.yaml"),
        "--n", "4000", "--seed", "1", "--workers", "1", "--plot", str(plot), "--format", "json",
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert [a["id"] for a in doc["arms"]] == ["iv", "sc"]
    assert doc["n"] == 4000
    iv = doc["arms"][0]
    assert iv["rates"]["orr"]["low"] <= iv["rates"]["orr"]["rate"] <= iv["rates"]["orr"]["high"]
    assert "curve" not in iv["overall_survival"]  # curves only with --curves
    sources = {a["source"] for a in iv["assumptions"]}
    assert {"keating2002b", "moreton2005", "obrien2006", "lozanski2004"} <= sources
    assert doc["limits"]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_table_with_a_builtin_scenario_and_progress():
    proc = run(
        "cohort", "simulate", "--scenario", "builtin:cmv_strategy",
        "--n", "2000", "--seed", "2", "--workers", "1", "--progress",
    )  # fmt: skip
    assert "Symptomatic CMV" in proc.stdout
    assert "prophylaxis vs none" in proc.stdout
    assert "Limits:" in proc.stdout
    assert "replicates" in proc.stderr  # the progress bar went to stderr


def test_examples_listed():
    rows = json.loads(run("cohort", "examples", "--format", "json").stdout)
    assert {r["name"] for r in rows} >= {"builtin:iv_vs_sc", "builtin:cmv_strategy"}


def test_user_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\narms:\n  - id: a\n    response_study: keating2002b\n    cmv: maybe\n")
    proc = run("cohort", "simulate", "--scenario", str(bad), "--n", "10", "--seed", "1", ok=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: arms[1].cmv: 'maybe' is invalid")
    assert "Traceback" not in proc.stderr
    proc = run(
        "cohort", "simulate", "--scenario", "builtin:iv_vs_sc", "--n", "10", "--seed", "1",
        "--scheduler", "tcp://127.0.0.1:9", ok=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--scheduler" in proc.stderr

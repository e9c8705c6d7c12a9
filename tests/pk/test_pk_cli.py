"""``cllcds pk`` run as a user runs it: the installed console script in a real process."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([CLLCDS, *args], capture_output=True, text=True, timeout=300, check=False)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_typical_table_states_limits():
    out = run("pk", "simulate", "--regimen", "label-iv", "--t-end", "2016").stdout
    assert "typical patient" in out
    assert "cmax" in out
    assert "2.68" in out  # pk-model.md §4: maximum C 2.68 µg/mL for the typical patient
    assert "Known limits:" in out
    assert "not yet checked against the primary PDF" in out


def test_population_json_from_a_dose_file(tmp_path):
    doses = tmp_path / "doses.csv"
    doses.write_text("time_h,dose_mg,route,duration_h\n0,3,iv,2\n24,10,iv,2\n48,30,sc,0\n")
    proc = run(
        "pk", "simulate", "--doses", str(doses), "--n", "40", "--seed", "3", "--format", "json"
    )
    doc = json.loads(proc.stdout)
    assert doc["patients"] == {
        "n": 40,
        "typical": False,
        "seed": 3,
        "wbc0": None,
        "residual_error": False,
    }
    assert doc["schedule"]["sc"] is True
    assert doc["approximations"]
    assert "APPROXIMATION" in doc["approximations"][0]
    assert doc["summary"]["cmax"]["unit"] == "ug/mL"
    assert {"p5", "p50", "p95", "mean"} <= set(doc["summary"]["cmax"])


def test_csv_profile_on_a_grid_with_baseline_wbc():
    proc = run(
        "pk",
        "simulate",
        "--regimen",
        "label-iv",
        "--typical",
        "--wbc0",
        "20",
        "--times",
        "0:48:12",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [float(r["time_h"]) for r in rows] == [0, 12, 24, 36, 48]
    assert float(rows[0]["wbc_1e9_per_l_value"]) == 20


def test_regimen_from_the_library_with_a_plot(tmp_path):
    plot = tmp_path / "pk.svg"
    proc = run(
        "pk",
        "simulate",
        "--regimen",
        "alemtuzumab-iv-label",
        "--start",
        "2024-01-01",
        "--plot",
        str(plot),
        "--format",
        "json",
    )
    doc = json.loads(proc.stdout)
    assert doc["schedule"]["kind"] == "regimen"
    assert doc["schedule"]["doses"][0]["dose_mg"] == 3
    assert plot.read_bytes().startswith(b"<?xml")


def test_user_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_h,dose_mg,route,duration_h\n0,3,iv,2\n24,ten,iv,2\n")
    proc = run("pk", "simulate", "--doses", str(bad), ok=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: row 2: dose_mg: 'ten' is invalid: give a number"
    proc = run("pk", "simulate", "--regimen", "label-iv", "--n", "10", ok=False)
    assert proc.returncode == 2
    assert "--seed" in proc.stderr
    proc = run("pk", "simulate", ok=False)
    assert proc.returncode == 2
    assert "--regimen" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_parameters_table():
    rows = json.loads(run("pk", "parameters", "--format", "json").stdout)
    names = {r["name"]: r for r in rows}
    assert names["vmax_mg_per_h"]["value"] == 1.02
    assert names["ka_per_h"]["source"] == "pk-model"
    assert "APPROXIMATION" in names["f_sc"]["note"]


def test_backend_option_gives_the_same_document_and_refuses_unknown_names():
    """``--backend compiled`` (numba) and ``--backend numpy`` answer the same document."""
    import pytest

    pytest.importorskip("numba")
    args = ("pk", "simulate", "--regimen", "label-iv", "--n", "40", "--seed", "2")
    args += ("--t-end", "400", "--format", "json")
    compiled = json.loads(run(*args, "--backend", "compiled").stdout)
    numpy = json.loads(run(*args, "--backend", "numpy").stdout)
    assert compiled["summary"]["cmax"]["p50"] > 0
    assert compiled["summary"].keys() == numpy["summary"].keys()
    for key, stats in numpy["summary"].items():
        for name, want in stats.items():
            got = compiled["summary"][key][name]
            if isinstance(want, float):  # numbers (NaN is written as null)
                assert got == pytest.approx(want, rel=1e-12), (key, name)
            else:
                assert got == want, (key, name)
    bad = run(*args, "--backend", "fortran", ok=False)
    assert bad.returncode == 2
    assert "fortran" in bad.stderr

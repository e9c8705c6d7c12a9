"""The ``cllcds evidence`` commands, run as a user runs them: the installed console script in a
real process."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([CLLCDS, *args], capture_output=True, text=True, timeout=120, check=False)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_table_1_json_rows_reproduce_the_printed_table():
    """Table 1 of the review, first and last rows as printed:
    "Osterborg et al 1997 30 mg TIW × 12W 29 42/4 iv" and
    "Cortelezzi et al 2005 10 mg TIW × 18W 16 8/4 sc"."""
    rows = json.loads(run("evidence", "table", "1", "--format", "json").stdout)
    assert len(rows) == 9
    first, last = rows[0], rows[-1]
    assert (first["reference"], first["n_evaluable"], first["or_pct"], first["cr_pct"]) == (
        "Osterborg et al 1997",
        29,
        42,
        4,
    )
    assert first["route"] == "iv"
    assert first["schedule"] == "30 mg TIW × 12W"
    assert (last["reference"], last["n_evaluable"], last["or_pct"], last["cr_pct"]) == (
        "Cortelezzi et al 2005",
        16,
        8,
        4,
    )
    assert last["route"] == "sc"


def test_table_2_csv_has_the_seven_combination_studies():
    """Table 2 lists Kennedy 2002 (6, 83/17) ... Wierda 2006 (74, 65/24)."""
    out = run("evidence", "table", "2", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["reference"] == "Kennedy et al 2002"
    assert len(rows) == 7
    wierda = rows[-1]
    assert (wierda["n_evaluable"], wierda["or_pct"], wierda["cr_pct"]) == ("74", "65", "24")


def test_table_as_text_shows_the_printed_cells():
    out = run("evidence", "table", "1").stdout
    assert "Moreton et al 2005" in out
    assert "35/54" in out


def test_recomputed_table_flags_rows_that_disagree_with_the_text():
    rows = json.loads(run("evidence", "table", "1", "--recomputed", "--format", "json").stdout)
    by_ref = {r["reference"]: r for r in rows}
    # Keating 2002b: table 33/2 of 93; text 31/93 (33%) and 2/93 (2%): agrees.
    assert by_ref["Keating et al 2002"]["agrees"] is True
    # Moreton 2005: table 35/54; text CR 35%, ORR 35% + 19% = 54%: columns swapped.
    assert by_ref["Moreton et al 2005"]["agrees"] is False


def test_discrepancies_json_items_carry_study_field_and_values():
    items = json.loads(run("evidence", "discrepancies", "--format", "json").stdout)
    assert items
    for item in items:
        assert {"study_id", "field", "table_value", "text_value", "recomputed"} <= set(item)
        assert item["likely_reading"]


def test_unknown_table_number_is_one_line_on_stderr_with_exit_2():
    proc = run("evidence", "table", "3", ok=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "table" in lines[0]
    assert "Table 1" in lines[0]


def test_unknown_study_names_the_valid_ids():
    proc = run("evidence", "show", "nosuch2000", ok=False)
    assert proc.returncode == 2
    assert "keating2002b" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_show_lists_every_value_with_its_quote():
    detail = json.loads(run("evidence", "show", "keating2002b", "--format", "json").stdout)
    orr = [o for o in detail["outcomes"] if o["measure"] == "orr" and o["primary"]]
    assert orr[0]["count"] == 31
    assert orr[0]["denominator"] == 93
    assert "31/93" in orr[0]["quote"]


def test_report_covers_every_study(tmp_path: Path):
    rep = json.loads(run("evidence", "report", "--format", "json").stdout)
    ids = {s["id"] for s in rep["studies"]}
    table_ids = {r["study_id"] for n in ("1", "2") for r in rep["tables"][n]}
    assert table_ids <= ids
    text = run("evidence", "report").stdout
    for sid in table_ids:
        assert f"({sid})" in text


@pytest.mark.usefixtures("seed_path")
def test_verify_quotes_passes_on_the_review(seed_path: Path):
    proc = run("evidence", "verify-quotes", "--review", str(seed_path))
    assert " 0 not found" in proc.stdout


def test_verify_quotes_fails_on_another_text(tmp_path: Path):
    other = tmp_path / "other.txt"
    other.write_text("A different review about something else entirely.", encoding="utf-8")
    proc = run("evidence", "verify-quotes", "--review", str(other), ok=False)
    assert proc.returncode == 1


def test_verify_quotes_on_a_missing_file_is_an_input_error(tmp_path: Path):
    proc = run("evidence", "verify-quotes", "--review", str(tmp_path / "nope.txt"), ok=False)
    assert proc.returncode == 2
    assert "review text" in proc.stderr


# ------------------------------------------------------------------------------------------
# Pooled estimates


def test_pool_json_carries_the_estimate_intervals_and_the_r_calls():
    out = json.loads(
        run(
            "evidence",
            "pool",
            "--outcome",
            "orr",
            "--subset",
            "monotherapy",
            "--transform",
            "logit",
            "--method",
            "REML",
            "--format",
            "json",
        ).stdout
    )
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "q", "k"):
        assert key in out
    assert out["k"] == 9
    assert out["ci_low"] < out["estimate"] < out["ci_high"]
    assert "rma(yi, vi" in out["methods"]
    assert "counts recomputed from the review's text" in out["data"]
    keating = next(i for i in out["inputs"] if i["study_id"] == "keating2002b")
    assert keating["basis"] == "text: 31/93"


def test_pool_printed_basis_uses_the_tables_as_printed():
    """Table 1 prints Moreton's OR as 35% of 91 (the register finds it swapped): 32 events."""
    out = json.loads(run("evidence", "pool", "--basis", "printed", "--format", "json").stdout)
    moreton = next(s for s in out["studies"] if s["study"] == "Moreton et al 2005")
    assert (moreton["events"], moreton["n"]) == (32, 91)
    assert "as printed" in out["data"]


def test_pool_subgroups_by_route(tmp_path: Path):
    out = json.loads(run("evidence", "pool", "--by", "route", "--format", "json").stdout)
    assert set(out["subgroups"]) == {"iv", "sc"}
    assert out["test_of_subgroup_differences"]["qm_df1"] == 1


def test_pool_leave_one_out_lists_each_study():
    out = json.loads(run("evidence", "pool", "--leave-one-out", "--format", "json").stdout)
    assert len(out["leave_one_out"]) == 9


def test_pool_writes_a_forest_plot(tmp_path: Path):
    svg = tmp_path / "forest.svg"
    png = tmp_path / "forest.png"
    run("evidence", "pool", "--plot", str(svg))
    run("evidence", "pool", "--subset", "combination", "--plot", str(png))
    assert svg.read_bytes().startswith(b"<?xml")
    assert b"Keating et al 2002" in svg.read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pool_user_data(tmp_path: Path):
    f = tmp_path / "mine.csv"
    f.write_text("study,events,n\nA,12,29\nB,8,24\nC,31,93\n", encoding="utf-8")
    out = json.loads(run("evidence", "pool", "--data", str(f), "--format", "json").stdout)
    assert out["k"] == 3
    assert "mine.csv" in out["data"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("study,events,n\nA,30,29\nB,8,24\n", "row 2: events"),
        ("study,events,n\nA,-1,29\nB,8,24\n", "row 2: events"),
        ("study,events\nA,1\nB,2\n", "column(s) n"),
        ("study,events,n\nA,3,29\n", "at least 2 studies"),
        ("study,events,n\nA,3,29\nB,x,24\n", "row 3: events"),
    ],
)
def test_pool_bad_user_data_is_one_line_naming_the_row(tmp_path: Path, content, needle):
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    proc = run("evidence", "pool", "--data", str(f), ok=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]

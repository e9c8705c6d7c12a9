"""``cllcds regimens`` and ``cllcds plan`` as a user runs them: every format, every bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cllcds.cli import main

PLAN = ["plan", "--regimen", "alemtuzumab-iv-label", "--start", "2024-01-01",
        "--height-cm", "170", "--weight-kg", "70", "--patient-name", "Jane Example"]  # fmt: skip


def run(capsysbinary, *args: str) -> tuple[int, bytes, str]:
    """Run the CLI in-process: (exit status, stdout bytes, stderr text)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsysbinary.readouterr()
    code = exc.value.code
    return (0 if code is None else int(code)), out, err.decode("utf-8")


def test_regimens_list_json(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, "regimens", "list", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    by_id = {r["id"]: r for r in rows}
    assert by_id["alemtuzumab-iv-label"]["status"] == "label"
    assert by_id["alemtuzumab-sc-30-tiw"]["studies"] == ["stilgenbauer2004"]
    assert len(rows) == 14


def test_regimens_list_table(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, "regimens", "list")
    assert code == 0
    assert b"alemtuzumab-iv-label" in out
    assert b"historical" in out


def test_regimens_show(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, "regimens", "show", "fcc", "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["run_in_days"] == 2
    assert [r["dose"] for r in d["run_in"]] == [3, 10]
    assert any("Table 2" in c for c in d["conflicts"])
    code, out, _ = run(capsysbinary, "regimens", "show", "cfar")
    assert code == 0
    text = out.decode()
    assert "375-500 mg/m2" in text
    assert "Sources:" in text


def test_regimens_show_unknown(capsysbinary) -> None:
    code, _out, err = run(capsysbinary, "regimens", "show", "nope")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: regimen: 'nope'")


def test_plan_table(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN)
    text = out.decode()
    assert code == 0
    assert "2024-01-01" in text
    assert "first dose" in text
    assert "PCP prophylaxis" in text
    assert "2024-05-22" in text


def test_plan_json(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN, "--format", "json")
    assert code == 0
    adm = json.loads(out)["administrations"]
    assert [(a["date"], a["drug"], a["dose_mg"], a["route"]) for a in adm[:3]] == [
        ("2024-01-01", "alemtuzumab", 3.0, "iv"),
        ("2024-01-02", "alemtuzumab", 10.0, "iv"),
        ("2024-01-03", "alemtuzumab", 30.0, "iv"),
    ]
    assert adm[-1]["date"] == "2024-03-22"


def test_plan_csv(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert (
        sum(r["kind"] == "administration" for r in rows) == 37
    )  # 12 weeks of the label schedule, none skipped (treatment-week ceiling)


def test_plan_ics_to_stdout_keeps_crlf(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN, "--format", "ics")
    assert code == 0
    assert out.startswith(b"BEGIN:VCALENDAR\r\n")
    assert out.endswith(b"END:VCALENDAR\r\n")


def test_plan_html_and_pdf_to_files(capsysbinary, tmp_path: Path) -> None:
    html, pdf = tmp_path / "sheet.html", tmp_path / "sheet.pdf"
    code, out, _ = run(capsysbinary, *PLAN, "--format", "html", "--out", str(html))
    assert code == 0
    assert b"wrote" in out
    assert "Jane Example" in html.read_text(encoding="utf-8")
    code, _, _ = run(capsysbinary, *PLAN, "--format", "pdf", "--out", str(pdf))
    assert code == 0
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_plan_pdf_to_stdout(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN, "--format", "pdf")
    assert code == 0
    assert out.startswith(b"%PDF-")


def test_rule_set_option(capsysbinary) -> None:
    code, out, _ = run(capsysbinary, *PLAN, "--format", "json", "--rule-set", "label=eu-smpc")
    assert code == 0
    doc = json.loads(out)
    assert doc["rule_sets"] == {"label": "eu-smpc"}
    names = [d["name"] for d in doc["administrations"][0]["premedication"]["drugs"]]
    assert names[0] == "corticosteroid"


def _with(option: str, value: str) -> list[str]:
    args = list(PLAN)
    args[args.index(option) + 1] = value
    return args


@pytest.mark.parametrize(
    ("args", "flag", "fix"),
    [
        (_with("--regimen", "campath-forever"), "--regimen", "use one of"),
        (_with("--height-cm", "1800"), "--height-cm", "centimetres"),
        (_with("--height-cm", "tall"), "--height-cm", "centimetres"),
        (_with("--weight-kg", "0"), "--weight-kg", "kilograms"),
        (_with("--start", "2024-13-45"), "--start", "YYYY-MM-DD"),
        (_with("--start", "next monday"), "--start", "YYYY-MM-DD"),
        ([*PLAN, "--rule-set", "label=uk-2020"], "--rule-set", "us-2001, us-2007, eu-smpc"),
        ([*PLAN, "--override", "alemtuzumab=40"], "--override", "limited to 30 mg a dose"),
        ([*PLAN, "--override", "rituximab=375"], "--override", "alemtuzumab"),
        ([*PLAN, "--cycles", "2"], "--cycles", "at most 1"),
        ([*PLAN, "--tiw-days", "mon,tue,fri"], "--tiw-days", "a day between"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsysbinary, args, flag, fix) -> None:
    code, out, err = run(capsysbinary, *args)
    assert code == 2
    assert out == b""
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {flag}")
    assert fix in err
    assert "Traceback" not in err


def test_console_script_in_a_real_process(tmp_path: Path) -> None:
    exe = shutil.which("cllcds", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = tmp_path / "plan.ics"
    proc = subprocess.run(
        [exe, *PLAN, "--format", "ics", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().count(b"BEGIN:VEVENT") > 36
    bad = subprocess.run(
        [exe, *_with("--weight-kg", "0")], capture_output=True, text=True, timeout=120, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: --weight-kg: 0.0 is invalid")

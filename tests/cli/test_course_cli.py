"""``cllcds course`` and ``cllcds response``, run as a user runs them (a real process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

CLLCDS = shutil.which("cllcds", path=str(Path(sys.executable).parent)) or "cllcds"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "courses"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLLCDS, *args], capture_output=True, text=True, timeout=120, check=False)


def test_assess_json_answers_the_state_document():
    proc = run("course", "assess", str(EXAMPLES / "neutropenia-hold.json"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout)
    assert state["format"] == "cllcds.state/1"
    assert state["status"] == "on_hold"
    assert state["next_dose"] is None


def test_assess_table_is_what_a_clinician_reads_at_the_bedside():
    proc = run("course", "assess", str(EXAMPLES / "escalating.json"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ACTIVE" in out
    assert "Next dose: 2007-01-09  alemtuzumab 10 mg IV" in out
    assert "premedication" in out
    assert "Due actions" in out


def test_as_of_moves_the_evaluation_date():
    proc = run(
        "course",
        "assess",
        str(EXAMPLES / "escalating.json"),
        "--as-of",
        "2007-01-20",
        "--format",
        "json",
    )
    state = json.loads(proc.stdout)
    assert state["as_of"] == "2007-01-20"
    assert state["next_dose"]["phase"] == "re-escalation"  # 12 days after the 3 mg dose


def test_invalid_document_exits_2_with_one_line_per_problem(tmp_path: Path):
    doc = json.loads((EXAMPLES / "reference-document.json").read_text(encoding="utf-8"))
    doc["events"][3]["value"] = 150000
    doc["events"][3]["code"] = "PLT"
    doc["events"][0]["route"] = "oral"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    proc = run("course", "assess", str(bad))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2, proc.stderr
    assert any("events[0].route" in ln for ln in lines)
    assert any("events[3]" in ln and "/uL" in ln for ln in lines)
    assert "Traceback" not in proc.stderr


def test_malformed_json_names_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "cllcds.course/1",\n "patient": }', encoding="utf-8")
    proc = run("course", "assess", str(bad))
    assert proc.returncode == 2
    assert "line 2" in proc.stderr


def test_schema_is_json_schema():
    proc = run("course", "schema")
    schema = json.loads(proc.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "events" in schema["properties"]


def test_response_assess_with_chosen_criteria():
    path = str(EXAMPLES / "completed-partial-response.json")
    for criteria in ("nci-wg-1996", "iwcll-2008", "iwcll-2018"):
        proc = run("response", "assess", path, "--criteria", criteria, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["criteria"] == criteria
        assert result["category"] == "PR"
    proc = run("response", "assess", path, "--criteria", "nci-wg-1996")
    assert "provisional" in proc.stdout


def test_unknown_criteria_is_refused():
    proc = run("response", "assess", str(EXAMPLES / "escalating.json"), "--criteria", "who")
    assert proc.returncode == 2

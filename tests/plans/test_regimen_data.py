"""The regimen library as data: every file loads, every quote is in the review, every regimen
links to its studies in the evidence base, and bad files are refused with the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cllcds import knowledge
from cllcds.domain import KnowledgeError, LabelRuleSet, NotFoundError, RegimenStatus
from cllcds.evidence import ReviewText
from cllcds.knowledge import _regimens

REGISTER = Path(__file__).resolve().parents[3] / "shared" / "reference" / "clinical-rules.md"

EXPECTED_IDS = {
    "alemtuzumab-iv-label",
    "alemtuzumab-iv-12w",
    "alemtuzumab-iv-16w",
    "alemtuzumab-sc-30-tiw",
    "alemtuzumab-sc-10-tiw-18w",
    "ukcll02-sc",
    "flucam",
    "fcc",
    "fcc-table2",
    "cfar",
    "alemtuzumab-rituximab-faderl2003",
    "alemtuzumab-rituximab-nabhan2004",
    "alemtuzumab-civ-sc-rituximab-faderl2006",
    "fludarabine-alemtuzumab-kennedy2002",
}


def all_citations():
    for reg in knowledge.regimens().values():
        yield f"{reg.id} provenance", reg.provenance
        yield f"{reg.id} cycles", (reg.cycles.citation,)
        yield f"{reg.id} rules", tuple(r.citation for r in (*reg.run_in, *reg.components))
        yield f"{reg.id} assessments", tuple(a.citation for a in reg.assessments)
    for rs in knowledge.supportive_care().values():
        yield f"{rs.rule_set.value} premedication", (rs.premedication.citation,)
        yield (
            f"{rs.rule_set.value} prophylaxis",
            (
                rs.start_citation,
                rs.stop_citation,
                *(p.citation for p in rs.prophylaxis),
            ),
        )
    m = knowledge.monitoring_rules()
    yield "monitoring", (
        m.blood_count_citation, m.cmv_citation, m.cd4_citation, m.response_citation,
    )  # fmt: skip
    prod = knowledge.alemtuzumab_product()
    yield "product", (prod.citation, *(r.citation for r in prod.routes))


def test_every_regimen_of_the_review_is_in_the_library() -> None:
    assert set(knowledge.regimens()) == EXPECTED_IDS
    assert knowledge.regimen("alemtuzumab-iv-label").status is RegimenStatus.LABEL
    assert {r.status for r in knowledge.regimens().values()} == set(RegimenStatus)


def test_unknown_regimen_lists_the_valid_ids() -> None:
    with pytest.raises(NotFoundError) as exc:
        knowledge.regimen("campath-forever")
    assert exc.value.field == "regimen"
    assert "alemtuzumab-iv-label" in exc.value.fix


def test_every_seed_quote_is_in_the_review(review: ReviewText) -> None:
    missing = [
        (where, c.quote)
        for where, cites in all_citations()
        for c in cites
        if c.source == "seed" and not review.contains(c.quote)
    ]
    assert missing == []


def test_every_seed_citation_has_a_quote_and_every_other_a_register_id() -> None:
    register = set(re.findall(r"^\| ([LEGSCPD]\d{1,2}) \|", REGISTER.read_text(), re.M))
    assert {"L1", "E1", "P1", "L9", "E2"} <= register
    for where, cites in all_citations():
        for c in cites:
            if c.source == "seed":
                assert c.quote, where
            else:
                assert c.source in register, (where, c.source)
                assert c.quote or c.note, where


def test_regimens_link_to_their_studies_both_ways() -> None:
    studies = knowledge.studies()
    regimens = knowledge.regimens()
    for reg in regimens.values():
        assert reg.studies, reg.id
        for sid in reg.studies:
            assert sid in studies, (reg.id, sid)
    for st in studies.values():
        for rid in st.regimen_ids:
            assert rid in regimens, (st.id, rid)
            assert st.id in regimens[rid].studies, (st.id, rid)


def test_supportive_care_covers_every_label_rule_set() -> None:
    rules = knowledge.supportive_care()
    assert set(rules) == set(LabelRuleSet)
    for rs in rules.values():
        assert rs.premedication.citation.rule_set == rs.rule_set.value


def test_text_and_table_conflicts_are_documented() -> None:
    """Where the review's text and Table 2 disagree, the regimen says so (and which it models)."""
    for rid, needle in [
        ("fcc", "Table 2"),
        ("fcc-table2", "text"),
        ("flucam", "sqm2"),
        ("alemtuzumab-rituximab-faderl2003", "weeks 2-4"),
        ("cfar", "Table 2 only"),
    ]:
        assert any(needle in c for c in knowledge.regimen(rid).conflicts), rid
    assert knowledge.regimen("fcc-table2").variant_of == "fcc"


def _write(tmp_path: Path, doc: dict) -> None:
    (tmp_path / "regimens").mkdir(exist_ok=True)
    (tmp_path / "regimens" / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc))


def _good() -> dict:
    return {
        "id": "x",
        "name": "X",
        "status": "trial",
        "summary": "x",
        "studies": ["keating2002b"],
        "provenance": [{"source": "seed", "locator": "here", "quote": "q"}],
        "cycles": {"length_days": 28, "count": 1, "cite": {"source": "seed", "locator": "l"}},
        "components": [
            {"drug": "alemtuzumab", "route": "iv", "dose": 30, "days": [1],
             "cite": {"source": "L1", "locator": "l", "note": "n"}}
        ],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(status="approved"), "is not one of"),
        (lambda d: d["components"][0].update(dose=40), "limited to 30 mg"),
        (lambda d: d["components"][0].update(drug="ibrutinib"), "is not one of"),
        (lambda d: d["components"][0].update(dosis=3), "unknown key"),
        (lambda d: d["components"][0].update(days=[3, 1]), "increasing order"),
        (lambda d: d["provenance"][0].update(source="wikipedia"), "register id"),
        (lambda d: d["components"][0].update(tiw={"from_day": 1, "to_day": 5}), "exactly one"),
    ],
)
def test_bad_regimen_files_are_refused(tmp_path: Path, monkeypatch, change, message) -> None:
    doc = _good()
    change(doc)
    _write(tmp_path, doc)
    monkeypatch.setattr(_regimens, "iter_yaml", _iter_from(tmp_path))
    _regimens.regimens.cache_clear()
    try:
        with pytest.raises(KnowledgeError, match=message):
            _regimens.regimens()
    finally:
        _regimens.regimens.cache_clear()


def test_the_good_file_loads(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, _good())
    monkeypatch.setattr(_regimens, "iter_yaml", _iter_from(tmp_path))
    _regimens.regimens.cache_clear()
    try:
        assert list(_regimens.regimens()) == ["x"]
    finally:
        _regimens.regimens.cache_clear()


def _iter_from(root: Path):
    def iter_yaml(folder: str):
        for p in sorted((root / folder).glob("*.yaml")):
            yield f"{folder}/{p.name}", yaml.safe_load(p.read_text())

    return iter_yaml

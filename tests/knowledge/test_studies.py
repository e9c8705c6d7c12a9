"""The studies load, carry the values the review prints, and the loader refuses bad data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cllcds import knowledge
from cllcds.domain import KnowledgeError, Measure, Reported, Study, Unit
from cllcds.knowledge._evidence import _study
from cllcds.knowledge._files import data_root

TABLE_STUDIES = {
    "osterborg1997", "rai2002", "keating2002b", "mccune2002", "ferrajoli2003", "lozanski2004",
    "stilgenbauer2004", "moreton2005", "cortelezzi2005", "kennedy2002", "faderl2003",
    "nabhan2004", "montillo2007", "elter2005", "faderl2006", "wierda2006",
}  # fmt: skip
OTHER_STUDIES = {
    "sayala2006", "lundin2002", "nguyen2002", "wendtner2004", "hale2004", "obrien2006",
    "stilgenbauer2002",
}  # fmt: skip
# Table rows whose study has no CR figure anywhere in the text (the table's CR % has no source
# in the text, so no primary CR is recorded).
NO_CR_IN_TEXT = {"osterborg1997", "rai2002", "lozanski2004", "faderl2003"}


def _primary(study_id: str, measure: Measure) -> Reported:
    r = knowledge.study(study_id).primary(measure)
    assert r is not None, f"{study_id} has no primary {measure.value}"
    return r


def test_all_studies_load() -> None:
    assert set(knowledge.studies()) == TABLE_STUDIES | OTHER_STUDIES


def test_every_table_row_has_a_primary_orr_and_cr_where_printed() -> None:
    for row in knowledge.review_tables():
        st = knowledge.study(row.study_id)
        assert st.primary(Measure.ORR) is not None, row.study_id
        has_cr = st.primary(Measure.CR) is not None
        assert has_cr is (row.study_id not in NO_CR_IN_TEXT), row.study_id


def test_table_rows_match_the_analysis_population() -> None:
    """Each row's "No. pts evaluable" is the study's analysis population and the denominator
    of its primary ORR (a pooled estimate must weight the same patients the table shows)."""
    for row in knowledge.review_tables():
        st = knowledge.study(row.study_id)
        assert st.population.n_evaluable == row.n_evaluable, row.study_id
        assert st.primary(Measure.ORR).denominator == row.n_evaluable, row.study_id  # type: ignore[union-attr]


def test_derived_values_explain_themselves() -> None:
    for st in knowledge.studies().values():
        for r in st.outcomes:
            if r.derived:
                assert len(r.citation.note) > 30, (st.id, r.measure)
                assert not r.citation.quote, (st.id, r.measure)


def test_keating_pivotal_orr() -> None:
    """ "The overall response rate (ORR) was 33% (31/93), with CR achieved in 2% (2/93)." """
    orr = _primary("keating2002b", Measure.ORR)
    assert (orr.count, orr.denominator, orr.percent) == (31, 93, 33)
    cr = _primary("keating2002b", Measure.CR)
    assert (cr.count, cr.denominator, cr.percent) == (2, 93, 2)


def test_moreton_cr_and_derived_orr() -> None:
    """ "After a median 9 weeks of treatment, 32 patients (35%) achieved CR and 17 patients
    (19%) reached PR" — no ORR printed, so the primary ORR is the derived 49/91."""
    cr = _primary("moreton2005", Measure.CR)
    assert (cr.count, cr.denominator, cr.percent) == (32, 91, 35)
    orr = _primary("moreton2005", Measure.ORR)
    assert orr.derived
    assert (orr.count, orr.denominator) == (49, 91)


def test_faderl_2006_response() -> None:
    """ "Sixteen patients (50%) responded: 8 CR (25%), 1 PRn (3%), 7 PR (23%) following
    1 course." — 45 enrolled, 32 evaluable."""
    st = knowledge.study("faderl2006")
    assert (st.population.n_enrolled, st.population.n_evaluable) == (45, 32)
    orr = _primary("faderl2006", Measure.ORR)
    assert (orr.count, orr.denominator, orr.percent) == (16, 32, 50)
    pr = _primary("faderl2006", Measure.PR)
    assert (pr.count, pr.percent) == (7, 23)  # as printed, though 7/32 is 21.9%


def test_montillo_kept_as_printed() -> None:
    """ "Among the 18 evaluable patients, ORR was 79%, with 7 (37%) patients achieving CR" —
    the percentages fit 19 patients, but the denominator stays the printed 18."""
    orr = _primary("montillo2007", Measure.ORR)
    assert (orr.count, orr.denominator, orr.percent) == (None, 18, 79)
    cr = _primary("montillo2007", Measure.CR)
    assert (cr.count, cr.denominator, cr.percent) == (7, 18, 37)


def test_impossible_printed_values_are_kept_with_a_note() -> None:
    """Faderl 2003: "26 (5%) were refractory to FAMP"; Elter: "305 grade 3–4
    thrombocytopenia" (recorded as 30% of 140 cycles, with a note)."""
    (refr,) = knowledge.study("faderl2003").reported(Measure.FLUDARABINE_REFRACTORY)
    assert (refr.count, refr.denominator, refr.percent) == (26, 48, 5)
    (plt,) = knowledge.study("elter2005").reported(Measure.THROMBOCYTOPENIA_GRADE_3_4)
    assert plt.percent == 30
    assert "305" in plt.citation.quote
    assert "305" in plt.citation.note


def test_subgroup_sums_are_derived_primary_orr() -> None:
    """Osterborg: "Among the 8 relapsed patients, 3 (38%) showed a response while 9 of 21
    (43%) with refractory disease"; Lozanski: "6 of 15 ... versus 4 of 21"."""
    for sid, expected in (("osterborg1997", (12, 29)), ("lozanski2004", (10, 36))):
        orr = _primary(sid, Measure.ORR)
        assert orr.derived
        assert (orr.count, orr.denominator) == expected
        parts = [r for r in knowledge.study(sid).reported(Measure.ORR) if not r.primary]
        assert sum(r.count or 0 for r in parts) == expected[0]
        assert sum(r.denominator or 0 for r in parts) == expected[1]


def test_ukcll02_whole_cohort() -> None:
    """ "the overall response rate for the whole cohort was 24/49 (49%)"; 53 enrolled."""
    st = knowledge.study("sayala2006")
    assert (st.population.n_enrolled, st.population.n_evaluable) == (53, 49)
    orr = _primary("sayala2006", Measure.ORR)
    assert (orr.count, orr.denominator, orr.percent) == (24, 49, 49)
    cr = _primary("sayala2006", Measure.CR)
    assert cr.derived
    assert (cr.count, cr.denominator) == (8, 49)


def test_hale_half_life() -> None:
    """ "The estimated half-life of alemtuzumab was 9 days for both modes of administration." """
    (hl,) = knowledge.study("hale2004").reported(Measure.HALF_LIFE)
    assert (hl.value, hl.unit) == (9, Unit.DAY)


# --- the loader refuses bad data ------------------------------------------------------------


def _model_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(
        (data_root() / "studies" / "mccune2002.yaml").read_text("utf-8")
    )
    return doc


def _load(tmp_path: Path, doc: dict[str, Any]) -> Study:
    path = tmp_path / "mccune2002.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return _study(str(path), yaml.safe_load(path.read_text("utf-8")), knowledge.bibliography())


def test_model_doc_loads_through_the_private_loader(tmp_path: Path) -> None:
    assert _load(tmp_path, _model_doc()) == knowledge.study("mccune2002")


def test_loader_refuses_an_unknown_key(tmp_path: Path) -> None:
    doc = _model_doc()
    doc["outcomes"][0]["percentage"] = 53
    with pytest.raises(KnowledgeError, match="percentage"):
        _load(tmp_path, doc)


def test_loader_refuses_a_printed_value_without_quote(tmp_path: Path) -> None:
    doc = _model_doc()
    del doc["outcomes"][1]["quote"]
    with pytest.raises(KnowledgeError, match="verbatim quote"):
        _load(tmp_path, doc)


def test_loader_refuses_two_primary_values(tmp_path: Path) -> None:
    doc = _model_doc()
    doc["outcomes"].append(dict(doc["outcomes"][1], population="copy"))
    with pytest.raises(KnowledgeError, match="two primary"):
        _load(tmp_path, doc)

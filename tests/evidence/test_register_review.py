"""What the consistency register finds in the review.

Each case below was found by reading the review against its own tables and counts; the test
asserts that the register, which knows nothing of these cases, finds each one and reads it the
way a careful reader would. The review's words are quoted in each test.
"""

from __future__ import annotations

import pytest

from cllcds.evidence import Kind, Severity, register


@pytest.fixture(scope="module")
def found() -> dict[tuple[str, str, str], object]:
    return {(d.study_id, d.field, d.kind.value): d for d in register()}


def one(found, study: str, field_start: str, kind: Kind):
    hits = [
        d
        for (s, f, k), d in found.items()
        if s == study and f.startswith(field_start) and k == kind.value
    ]
    assert hits, f"the register missed {study} {field_start} {kind.value}"
    return hits[0]


def test_moreton_table_row_has_or_and_cr_swapped(found):
    """Table 1: "Moreton et al 2005 30 mg TIW × 16W 91 35/54 iv"; text: "32 patients (35%)
    achieved CR and 17 patients (19%) reached PR"."""
    d = one(found, "moreton2005", "cr_pct", Kind.CR_ABOVE_OR)
    assert "swapped" in d.likely_reading
    d = one(found, "moreton2005", "or_pct", Kind.TABLE_VS_TEXT)
    assert d.table_value == 35
    assert d.recomputed == pytest.approx(100 * 49 / 91)
    assert "swapped" in d.likely_reading


def test_cortelezzi_table_row_prints_counts_for_percentages(found):
    """Table 1: "Cortelezzi et al 2005 10 mg TIW × 18W 16 8/4 sc"; text: "The OR rate, according
    to NCI-WG criteria was 50%, including 25% CR" of "Sixteen patients"."""
    d = one(found, "cortelezzi2005", "or_pct", Kind.TABLE_VS_TEXT)
    assert (d.table_value, d.text_value) == (8, 50)
    assert "count (8 of 16 patients)" in d.likely_reading
    d = one(found, "cortelezzi2005", "cr_pct", Kind.TABLE_VS_TEXT)
    assert "count (4 of 16 patients)" in d.likely_reading


def test_lozanski_table_or_does_not_follow_from_the_text_counts(found):
    """Table 1 prints 31% for Lozanski 2004; the text: "Clinical responses were noted in 6 of 15
    patients (40%) with P53 mutations and/or deletions, versus 4 of 21 patients (19%)", i.e.
    10/36 = 27.8%."""
    d = one(found, "lozanski2004", "or_pct", Kind.TABLE_VS_TEXT)
    assert d.severity is Severity.CONTRADICTION
    assert d.recomputed == pytest.approx(100 * 10 / 36)


def test_osterborg_table_or_is_rounded_wrongly(found):
    """Table 1 prints 42% for Osterborg 1997; the text gives 3 of 8 relapsed and 9 of 21
    refractory responders: 12/29 = 41.4%."""
    d = one(found, "osterborg1997", "or_pct", Kind.TABLE_VS_TEXT)
    assert d.severity is Severity.ROUNDING
    assert d.recomputed == pytest.approx(100 * 12 / 29)


def test_montillo_percentages_are_of_19_patients_not_18(found):
    """ "Among the 18 evaluable patients, ORR was 79%, with 7 (37%) patients achieving CR, 7 (37%)
    PR, while 1 (5%) patient a PRn. Three patients had stable disease, while 1 showed
    progressive disease." 7 + 7 + 1 + 3 + 1 = 19."""
    d = one(found, "montillo2007", "cr (", Kind.PERCENT_VS_COUNT)
    assert "over 19 patients" in d.likely_reading
    d = one(found, "montillo2007", "response categories", Kind.CATEGORIES_EXCEED_N)
    assert d.recomputed == 19
    d = one(found, "montillo2007", "orr (", Kind.PERCENT_UNATTAINABLE)
    assert "19" in d.likely_reading


def test_montillo_table_cr_differs_from_the_text(found):
    """Table 2: "Montillo et al 2007 ... 18 79/34"; text: "7 (37%) patients achieving CR"."""
    d = one(found, "montillo2007", "cr_pct", Kind.TABLE_VS_TEXT)
    assert (d.table_value, d.text_value) == (34, 37)


def test_faderl2003_lost_digit(found):
    """ "26 (5%) were refractory to FAMP" of 48 patients enrolled: 26/48 = 54%."""
    d = one(found, "faderl2003", "fludarabine-refractory", Kind.PERCENT_VS_COUNT)
    assert "a digit lost in print: 54%" in d.likely_reading


def test_faderl2003_stage_percentage(found):
    """ "39 (79%) had Rai stage [≥]3 disease" of 48 patients: 39/48 = 81%."""
    d = one(found, "faderl2003", "advanced-stage", Kind.PERCENT_VS_COUNT)
    assert d.recomputed == pytest.approx(100 * 39 / 48)


def test_faderl2006_pr_percentage(found):
    """ "8 CR (25%), 1 PRn (3%), 7 PR (23%)" of 32 evaluable: 7/32 = 21.9%."""
    d = one(found, "faderl2006", "pr (", Kind.PERCENT_VS_COUNT)
    assert d.severity is Severity.CONTRADICTION


def test_elter_impossible_percentage(found):
    """ "44% grade 3–4 leukopenia, 26% grade 3–4 neutropenia and 305 grade 3–4
    thrombocytopenia"."""
    d = one(found, "elter2005", "thrombocytopenia", Kind.IMPOSSIBLE_VALUE)
    assert "'305'" in d.description


def test_moreton_toxicity_percentages_use_another_denominator(found):
    """ "Neutropenia below 1.0 × 109/L occurred in 43 (48%) patients" and "Thrombocytopenia
    occurred in 65 (73%)", of 91 patients."""
    d = one(found, "moreton2005", "thrombocytopenia (", Kind.PERCENT_VS_COUNT)
    assert "89" in d.likely_reading


def test_stilgenbauer_percentages_are_not_whole_patients_of_50(found):
    """ "In an interim analysis of the first 50 patients enrolled, there were 4% CR, 33% PR"."""
    one(found, "stilgenbauer2004", "pr (", Kind.PERCENT_UNATTAINABLE)


def test_keating_table_citation_label(found):
    """Table 1 cites "Keating et al 2002"; the text cites "Keating et al 2002b"."""
    d = one(found, "keating2002b", "reference", Kind.CITATION_LABEL)
    assert d.severity is Severity.LABEL


def test_consistent_studies_have_no_entries(found):
    """Keating 2002b ("33% (31/93)", "2% (2/93)"), Rai 2002 ("8 of 24 patients (33%)") and
    Kennedy 2002 ("Five of the 6 patients responded, including 1 CR"; Table 2 83/17) agree with
    themselves in every number."""
    numeric = {s for (s, _f, k) in found if k != Kind.CITATION_LABEL.value}
    assert {"keating2002b", "rai2002", "kennedy2002"}.isdisjoint(numeric)


def test_every_entry_names_its_values_and_a_reading(found):
    for d in found.values():
        assert d.likely_reading, d
        assert d.citations, d
        assert d.description, d


def test_elter_table_doses_alemtuzumab_per_square_metre(found):
    """Table 2: "Campath 30 iv sqm2 × 3 d"; text: "alemtuzumab at 30 mg given over 2 hours for 3
    doses on days 1–3"."""
    d = one(found, "elter2005", "schedule", Kind.SCHEDULE_VS_TEXT)
    assert "per m²" in d.description
    assert "ceiling" in d.likely_reading


def test_montillo_table_dose_differs_from_the_text(found):
    """Table 2: "Campath 10 mg sc × 3 cd"; text: "alemtuzumab 20 mg SC (Days 1–3)"."""
    d = one(found, "montillo2007", "schedule", Kind.SCHEDULE_VS_TEXT)
    assert (d.table_value, d.text_value) == (10, 20)


def test_nabhan_table_zero_step(found):
    """Table 2: "Campath 3-0-30 mg iv"; text: "3 mg (first cohort), 10 mg (second cohort), and
    eventually 30 mg (third cohort)"."""
    d = one(found, "nabhan2004", "schedule", Kind.IMPOSSIBLE_VALUE)
    assert "3-10-30" in d.likely_reading


def test_cll2h_table_route_simplifies_the_iv_escalation(found):
    """Table 1 gives "sc" for Stilgenbauer 2004; the text: "An intravenous dose-escalation
    schedule of 3, 10, and 30 mg was used and patients were then switched to the subcutaneous
    route"."""
    d = one(found, "stilgenbauer2004", "route", Kind.SCHEDULE_VS_TEXT)
    assert d.severity is Severity.SIMPLIFICATION

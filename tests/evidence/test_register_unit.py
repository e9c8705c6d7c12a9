"""The consistency register's arithmetic, on small made-up studies.

These tests pin down how the register decides that two numbers disagree and how it works out
the most likely reading; ``test_register_review.py`` checks what it finds in the review.
"""

from __future__ import annotations

import pytest

from cllcds.domain import (
    Citation,
    Design,
    DiseaseStatus,
    Measure,
    Population,
    Reported,
    Route,
    Setting,
    Study,
    TableRow,
)
from cllcds.evidence import Kind, Severity, register
from cllcds.evidence._register import agrees, attainable, explain_percent

CITE = Citation("seed", "made-up paragraph", quote="made up")


def rep(
    measure: Measure,
    *,
    count: int | None = None,
    n: int | None = None,
    pct: float | None = None,
    population: str = "all",
    primary: bool = True,
    printed: str = "",
    note: str = "",
) -> Reported:
    cite = Citation("seed", "made-up paragraph", quote="made up", note=note)
    return Reported(
        measure,
        population,
        cite,
        count=count,
        denominator=n,
        percent=pct,
        primary=primary,
        printed=printed,
    )


def make_study(*outcomes: Reported, n: int = 20, sid: str = "made2000") -> Study:
    return Study(
        id=sid,
        reference_id=sid,
        cited_as="Made et al 2000",
        title="t",
        design=Design.PHASE_2,
        setting=Setting.MONOTHERAPY,
        route=Route.IV,
        disease_status=DiseaseStatus.FLUDARABINE_REFRACTORY,
        regimen_summary="r",
        population=Population(None, n, "d", CITE),
        outcomes=tuple(outcomes),
    )


def row(
    or_pct: float,
    cr_pct: float,
    n: int = 20,
    sid: str = "made2000",
    reference: str = "Made et al 2000",
) -> TableRow:
    return TableRow(1, 1, reference, "30 mg TIW × 12W", n, or_pct, cr_pct, "iv", sid)


@pytest.mark.parametrize(
    ("printed", "exact", "ok"),
    [(33, 33.33, True), (33, 33.5, True), (34, 33.5, True), (35, 34.4, False), (30, 30.56, False)],
)
def test_a_printed_percent_agrees_only_when_it_is_the_exact_value_rounded(printed, exact, ok):
    assert agrees(printed, exact) is ok


def test_attainable_lists_every_count_that_rounds_to_the_percent():
    # 37% of 50 patients: 18/50 = 36%, 19/50 = 38%: no whole number of patients gives 37%.
    assert attainable(37, 50) == []
    assert attainable(36, 50) == [18]
    assert attainable(33, 24) == [8]


def test_reading_a_lost_digit():
    # Faderl 2003 prints "26 (5%) were refractory to FAMP" of 48 patients: 26/48 = 54%.
    assert "a digit lost in print: 54%" in explain_percent(5, 26, 48)


def test_reading_truncation():
    # Elter 2005: 11 of 36 = 30.6%, printed as 30%.
    assert "truncated instead of rounded" in explain_percent(30, 11, 36)


def test_reading_another_denominator():
    # Montillo 2007: 15 responders "among the 18 evaluable", ORR printed 79% = 15/19.
    assert "computed over 19 patients (15/19 = 79%)" in explain_percent(79, 15, 18)


def test_a_percent_that_disagrees_with_its_count_is_registered_with_both_values():
    st = make_study(rep(Measure.PR, count=7, n=32, pct=23))
    (d,) = register([st], rows=[])
    assert d.kind is Kind.PERCENT_VS_COUNT
    assert d.text_value == 23
    assert d.recomputed == pytest.approx(21.875)
    assert d.severity is Severity.CONTRADICTION


def test_consistent_counts_and_percents_register_nothing():
    st = make_study(
        rep(Measure.ORR, count=10, n=20, pct=50),
        rep(Measure.CR, count=3, n=20, pct=15),
        rep(Measure.PR, count=7, n=20, pct=35),
    )
    assert register([st], rows=[row(50, 15)]) == ()


def test_swapped_table_columns_are_recognised():
    # Moreton 2005: Table 1 prints "35/54"; the text gives CR 35% and PR 19% (ORR 54%).
    st = make_study(
        rep(Measure.ORR, count=49, n=91, pct=None), rep(Measure.CR, count=32, n=91, pct=35), n=91
    )
    found = {d.kind: d for d in register([st], rows=[row(35, 54, n=91)])}
    assert Kind.CR_ABOVE_OR in found
    table_or = [d for d in register([st], rows=[row(35, 54, n=91)]) if d.field == "or_pct"]
    assert "columns swapped" in table_or[0].likely_reading


def test_counts_printed_in_place_of_percentages_are_recognised():
    # Cortelezzi 2005: Table 1 prints 8/4; the text gives ORR 50% and CR 25% of 16 patients.
    st = make_study(
        rep(Measure.ORR, count=8, n=16, pct=50), rep(Measure.CR, count=4, n=16, pct=25), n=16
    )
    items = register([st], rows=[row(8, 4, n=16)])
    by_field = {d.field: d for d in items}
    assert "count (8 patients) in place of the percentage (50%)" in (
        by_field["or_pct"].likely_reading
    )
    assert by_field["cr_pct"].table_value == 4


def test_categories_summing_past_the_evaluable_patients_are_registered():
    st = make_study(
        rep(Measure.CR, count=7, n=18, pct=37),
        rep(Measure.PR, count=7, n=18, pct=37),
        rep(Measure.NPR, count=1, n=18, pct=5),
        rep(Measure.SD, count=3, n=18),
        rep(Measure.PD, count=1, n=18),
        n=18,
    )
    kinds = {d.kind for d in register([st], rows=[])}
    assert Kind.CATEGORIES_EXCEED_N in kinds


def test_orr_printed_apart_from_its_parts_is_registered():
    st = make_study(
        rep(Measure.ORR, count=None, n=18, pct=79),
        rep(Measure.CR, count=7, n=18),
        rep(Measure.PR, count=7, n=18),
        rep(Measure.NPR, count=1, n=18),
        n=18,
    )
    (d,) = [d for d in register([st], rows=[]) if d.kind is Kind.CATEGORY_SUM]
    assert d.recomputed == pytest.approx(100 * 15 / 18)
    assert "19" in d.likely_reading


def test_an_impossible_printed_value_is_registered_with_its_reading():
    st = make_study(
        rep(
            Measure.THROMBOCYTOPENIA_GRADE_3_4,
            pct=30,
            printed="305",
            note="'305' is evidently 30%",
        ),
    )
    (d,) = register([st], rows=[])
    assert d.kind is Kind.IMPOSSIBLE_VALUE
    assert "'305'" in d.description


def test_a_table_label_differing_from_the_text_citation_is_a_label_item():
    st = make_study(rep(Measure.ORR, count=10, n=20, pct=50))
    items = register([st], rows=[row(50, 0, reference="Made et al 2000b")])
    labels = [d for d in items if d.kind is Kind.CITATION_LABEL]
    assert labels
    assert labels[0].severity is Severity.LABEL


@pytest.mark.parametrize(
    ("schedule", "steps", "per_m2"),
    [
        ("30 mg TIW × 12W", [(30.0,)], False),
        (
            "Rituximab 375 mg/m2/W W 1-3-4-5 Campath 3-0-30 mg iv × TIW W 2-5",
            [(3.0, 0.0, 30.0)],
            False,
        ),
        ("Campath 30 iv sqm2 × 3 d FAMP 30 mg/m2 × 3 d every 28 d × 6 courses", [(30.0,)], True),
        (
            "FAMP 40 os mg/m2/d × 3 cd CTX 250 os mg/m2/d × 3 cd Campath 10 mg sc × 3 cd",
            [(10.0,)],
            False,
        ),
        (
            "Campath 15 mg civ 24 h × 6 cd 30 mg sc × 2 d/W × 3 W Rituximab 375 mg/m2 d 1",
            [(15.0,), (30.0,)],
            False,
        ),
    ],
)
def test_table_alemtuzumab_doses_are_read_from_the_schedule(schedule, steps, per_m2):
    from cllcds.evidence._register import table_alemtuzumab_doses

    doses = table_alemtuzumab_doses(schedule)
    assert [d.steps for d in doses] == steps
    assert any(d.per_m2 for d in doses) is per_m2

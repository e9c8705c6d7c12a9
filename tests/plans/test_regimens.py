"""Row by row: each regimen's doses and days, quoting the review (or the label) they come from.

Each test quotes its source, checks that the quote is in the review where it is the review's,
and checks the plan built from a Monday start (1 January 2024) against it.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from cllcds.domain import (
    AdministrationRoute,
    DoseOverride,
    DosePhase,
    Drug,
    Plan,
    PlanOptions,
)
from cllcds.evidence import ReviewText

from .conftest import MONDAY, make

A, F, C, R = Drug.ALEMTUZUMAB, Drug.FLUDARABINE, Drug.CYCLOPHOSPHAMIDE, Drug.RITUXIMAB
IV, SC, PO, CIV = (
    AdministrationRoute.IV,
    AdministrationRoute.SC,
    AdministrationRoute.PO,
    AdministrationRoute.CIV,
)


def rows(p: Plan, drug: Drug, cycle: int | None = None) -> list[tuple[int, float, str]]:
    """(cycle day, ordered mg, route) of one drug, optionally in one cycle."""
    return [
        (a.cycle_day, a.dose_mg, a.route.value)
        for a in p.administrations
        if a.drug is drug and (cycle is None or a.cycle == cycle)
    ]


def cycle_days(p: Plan, drug: Drug, cycle: int) -> list[int]:
    return [d for d, _, _ in rows(p, drug, cycle)]


def quoted(review: ReviewText, *quotes: str) -> None:
    for q in quotes:
        assert review.contains(q), q


def test_label_iv(review: ReviewText) -> None:
    """US label (L1): 3 mg, then 10 mg, then "30 mg/day three times a week on alternate days
    (e.g. Mon-Wed-Fri)", "12 weeks including the escalation"; EU (E3): 3 mg day 1, 10 mg day 2,
    30 mg day 3. Review: "target dose of 30 mg TIW for up to 12 weeks" (Keating 2002b)."""
    quoted(review, "with intravenous alemtuzumab at a target dose of 30 mg TIW for up to 12 weeks")
    p = make("alemtuzumab-iv-label")
    r = rows(p, A)
    assert r[:3] == [(1, 3.0, "iv"), (2, 10.0, "iv"), (3, 30.0, "iv")]
    assert all(mg == 30.0 and route == "iv" for _, mg, route in r[3:])
    assert [a.phase for a in p.administrations[:3]] == [DosePhase.ESCALATION] * 3
    assert all(a.infusion == "over 2 hours" for a in p.administrations)
    assert p.end <= MONDAY + timedelta(weeks=12, days=-1)
    assert all(a.date.weekday() in (0, 2, 4) for a in p.administrations[3:])


def test_iv_12_week_trial_schedule(review: ReviewText) -> None:
    """Osterborg 1997: "30 mg intravenously over 2 hours 3 times per week (TIW) for a maximum of
    12 weeks"; Table 1: "30 mg TIW × 12W" (Osterborg, Keating, McCune, Ferrajoli, Lozanski)."""
    quoted(
        review,
        "30 mg intravenously over 2 hours 3 times per week (TIW) for a maximum of 12 weeks",
        "Lozanski et al 2004 30 mg TIW × 12W 36 31/6 iv",
    )
    p = make("alemtuzumab-iv-12w")
    assert {mg for _, mg, _ in rows(p, A)[3:]} == {30.0}
    assert p.end <= MONDAY + timedelta(weeks=12, days=-1)
    assert p.end > MONDAY + timedelta(weeks=11)


def test_iv_16_week_trial_schedule(review: ReviewText) -> None:
    """Rai 2002: "a target dose of 30 mg TIW for up to 16 weeks"; Table 1 "30 mg TIW × 16W"."""
    quoted(
        review, "a target dose of 30 mg TIW for up to 16 weeks", "Rai et al 2002 30 mg TIW × 16W"
    )
    p = make("alemtuzumab-iv-16w")
    assert rows(p, A)[:3] == [(1, 3.0, "iv"), (2, 10.0, "iv"), (3, 30.0, "iv")]
    assert MONDAY + timedelta(weeks=15) < p.end <= MONDAY + timedelta(weeks=16, days=-1)
    # 3 escalation doses and Friday in week 1, then 15 treatment weeks of three doses: none
    # skipped, the 90 mg ceiling is per treatment week (L1; docs/rules.md, issue 10).
    assert len(rows(p, A)) == 3 + 1 + 15 * 3


def test_cll2h_iv_escalation_then_sc(review: ReviewText) -> None:
    """CLL2H: "An intravenous dose-escalation schedule of 3, 10, and 30 mg was used and patients
    were then switched to the subcutaneous route"; "30 mg TIW for a maximum of 12 weeks"."""
    quoted(
        review,
        "An intravenous dose-escalation schedule of 3, 10, and 30 mg was used and patients were "
        "then switched to the subcutaneous route of administration.",
        "alemtuzumab 30 mg TIW for a maximum of 12 weeks",
    )
    p = make("alemtuzumab-sc-30-tiw")
    r = rows(p, A)
    assert r[:3] == [(1, 3.0, "iv"), (2, 10.0, "iv"), (3, 30.0, "iv")]
    assert {(mg, route) for _, mg, route in r[3:]} == {(30.0, "sc")}
    assert p.end <= MONDAY + timedelta(weeks=12, days=-1)


def test_cortelezzi_sc_10_mg_18_weeks(review: ReviewText) -> None:
    """ "A reduced dose of 10 mg subcutaneous alemtuzumab"; "completed all 18 weeks";
    Table 1 "10 mg TIW × 18W ... sc"."""
    quoted(
        review,
        "A reduced dose of 10 mg subcutaneous alemtuzumab",
        "completed all 18 weeks of treatment",
        "Cortelezzi et al 2005 10 mg TIW × 18W 16 8/4 sc",
    )
    p = make("alemtuzumab-sc-10-tiw-18w")
    r = rows(p, A)
    assert {(mg, route) for _, mg, route in r} == {(10.0, "sc")}
    assert len(r) == 18 * 3
    assert p.end == MONDAY + timedelta(weeks=17, days=4)  # Friday of week 18
    assert any("without escalation" in n.text for n in p.notes)


def test_ukcll02(review: ReviewText) -> None:
    """ "30 mg TIW for up to 24 weeks depending on 6-weekly marrow assessments"; "oral FAMP (40
    mg/m2/day for 3 days every 4 weeks) combined with SC alemtuzumab" for non-responders."""
    quoted(
        review,
        "Subcutaneous alemtuzumab was given at a dose of 30 mg TIW for up to 24 weeks depending "
        "on 6-weekly marrow assessments.",
        "oral FAMP (40 mg/m2/day for 3 days every 4 weeks) combined with SC alemtuzumab",
    )
    p = make("ukcll02-sc")
    assert {route for _, _, route in rows(p, A)} == {"sc"}
    assert p.end <= MONDAY + timedelta(weeks=24, days=-1)
    assert rows(p, F) == []  # optional fludarabine is not planned by default
    marrow = [m.date for m in p.monitoring if m.kind.value == "marrow"]
    assert marrow == [MONDAY + timedelta(days=d - 1) for d in (42, 84, 126, 168)] or all(
        m.weekday() == 0 for m in marrow
    )
    with_flu = make("ukcll02-sc", options=PlanOptions(include_optional=True))
    flu = rows(with_flu, F)
    assert {(mg, route) for _, mg, route in flu} == {(73.0, "po")}  # 40 × 1.818 = 72.7
    days = [d for d, _, _ in flu]
    assert days[:3] == [43, 44, 45]
    assert days[3] - days[0] == 28


def test_flucam(review: ReviewText) -> None:
    """ "FAMP was given at 30 mg/m2 intravenously daily on days 1–3, which was immediately
    followed by alemtuzumab at 30 mg given over 2 hours for 3 doses on days 1–3 as well (FluCam
    regimen). Courses were repeated every 4 weeks for a total of 6 rounds.\""""
    quoted(
        review,
        "FAMP was given at 30 mg/m2 intravenously daily on days 1–3, which was immediately "
        "followed by alemtuzumab at 30 mg given over 2 hours for 3 doses on days 1–3 as well "
        "(FluCam regimen). Courses were repeated every 4 weeks for a total of 6 rounds.",
    )
    p = make("flucam")
    assert p.cycles == 6
    for c in range(1, 7):
        assert rows(p, F, c) == [(d, 55.0, "iv") for d in (1, 2, 3)]  # 30 × 1.818 = 54.5
        assert rows(p, A, c) == [(d, 30.0, "iv") for d in (1, 2, 3)]
    starts = sorted({a.date for a in p.administrations if a.cycle_day == 1})
    assert [(b - a).days for a, b in itertools.pairwise(starts)] == [28] * 5
    # Fludarabine first, then alemtuzumab, on each day ("immediately followed by").
    day1 = [a.drug for a in p.administrations if a.date == MONDAY]
    assert day1 == [F, A]
    assert any("re-escalation" in n.text for n in p.notes)


def test_fcc_text_version(review: ReviewText) -> None:
    """ "dose escalation, from 3 mg to 10 mg to 20 mg on consecutive days. The FCC regimen
    consisted of FAMP 40 mg/m2/day PO (PO is OK) (Days 1–3), CTX 250 mg/m2/day PO (Days 1–3),
    followed by alemtuzumab 20 mg SC (Days 1–3). This combination was repeated on day 29 for up
    to 6 cycles.\""""
    quoted(
        review,
        "from 3 mg to 10 mg to 20 mg on consecutive days",
        "The FCC regimen consisted of FAMP 40 mg/m2/day PO (PO is OK) (Days 1–3), CTX 250 "
        "mg/m2/day PO (Days 1–3), followed by alemtuzumab 20 mg SC (Days 1–3). This combination "
        "was repeated on day 29 for up to 6 cycles.",
    )
    p = make("fcc")
    alem = [(a.day, a.dose_mg) for a in p.administrations if a.drug is A][:5]
    assert alem == [(1, 3.0), (2, 10.0), (3, 20.0), (4, 20.0), (5, 20.0)]
    for c in range(1, 7):
        assert rows(p, F, c) == [(d, 73.0, "po") for d in (1, 2, 3)]
        assert rows(p, C, c) == [(d, 455.0, "po") for d in (1, 2, 3)]  # 250 × 1.818 = 454.5
        assert rows(p, A, c) == [(d, 20.0, "sc") for d in (1, 2, 3)]
    c2 = next(a for a in p.administrations if a.cycle == 2)
    c1 = next(a for a in p.administrations if a.cycle == 1)
    assert (c2.date - c1.date).days == 28  # "repeated on day 29"


def test_fcc_table_2_version(review: ReviewText) -> None:
    """Table 2: "FAMP 40 os mg/m2/d × 3 cd CTX 250 os mg/m2/d × 3 cd Campath 10 mg sc × 3 cd
    every 28 d × 6 courses"."""
    quoted(
        review,
        "Montillo et al 2007 FAMP 40 os mg/m2/d × 3 cd CTX 250 os mg/m2/d × 3 cd Campath 10 mg sc "
        "× 3 cd every 28 d × 6 courses",
    )
    p = make("fcc-table2")
    assert rows(p, A, 1) == [(d, 10.0, "sc") for d in (1, 2, 3)]
    assert p.total_mg(A) == 6 * 3 * 10


def test_cfar(review: ReviewText) -> None:
    """ "CTX 250 mg/m2 days 3–5, FAMP 25 mg/m2 days 3–5, alemtuzumab 30 mg days 1/3/5, and
    rituximab 375–500 mg/m2 day 2"; Table 2 "× 6 courses"."""
    quoted(
        review,
        "CTX 250 mg/m2 days 3–5, FAMP 25 mg/m2 days 3–5, alemtuzumab 30 mg days 1/3/5, and "
        "rituximab 375–500 mg/m2 day 2",
        "Rituximab 375–500 mg/m2 day 2 × 6 courses",
    )
    p = make("cfar")
    assert p.cycles == 6
    for c in range(1, 7):
        assert rows(p, A, c) == [(1, 30.0, "iv"), (3, 30.0, "iv"), (5, 30.0, "iv")]
        assert rows(p, R, c) == [(2, 682.0, "iv")]  # 375 × 1.818 = 681.8
        assert rows(p, C, c) == [(d, 455.0, "iv") for d in (3, 4, 5)]
        assert rows(p, F, c) == [(d, 45.0, "iv") for d in (3, 4, 5)]  # 25 × 1.818 = 45.45
    # A prescriber may choose 500 mg/m2 from course 2: the per-cycle override.
    o = make("cfar", options=PlanOptions(overrides=(DoseOverride(R, 500, (2, 3, 4, 5, 6)),)))
    assert [mg for _, mg, _ in rows(o, R)] == [682.0] + [909.0] * 5


def test_faderl_2003(review: ReviewText) -> None:
    """ "Rituximab was given at 375 mg/m2 weekly for 4 weeks with alemtuzumab at 30 mg
    intravenously twice weekly during weeks 2–4, preceded by a dose escalation of 3, 10, and 30
    mg on 3 consecutive days during week 1"; Table 2 "x 2 courses"."""
    quoted(
        review,
        "Rituximab was given at 375 mg/m2 weekly for 4 weeks with alemtuzumab at 30 mg "
        "intravenously twice weekly during weeks 2–4, preceded by a dose escalation of 3, 10, and "
        "30 mg on 3 consecutive days during week 1.",
        "× 2W x 2 courses",
    )
    p = make("alemtuzumab-rituximab-faderl2003")
    assert p.cycles == 2
    for c in (1, 2):
        assert cycle_days(p, R, c) == [1, 8, 15, 22]
        a = rows(p, A, c)
        assert [mg for _, mg, _ in a[:3]] == [3.0, 10.0, 30.0]
        esc = [d for d, _, _ in a[:3]]
        assert esc[1] - esc[0] == 1
        assert esc[2] - esc[1] == 1
        assert esc[2] <= 7
        twice = [d for d, _, _ in a[3:]]
        assert len(twice) == 6
        assert all(8 <= d <= 28 for d in twice)
        for week in (2, 3, 4):
            assert sum(1 for d in twice if 7 * (week - 1) < d <= 7 * week) == 2


def test_nabhan_2004(review: ReviewText) -> None:
    """ "Rituximab ... 375 mg/m2 on weeks 1, 3, 4, and 5 and alemtuzumab at 3 mg (first cohort),
    10 mg (second cohort), and eventually 30 mg (third cohort) 3 times weekly during weeks
    2–5.\""""
    quoted(
        review,
        "375 mg/m2 on weeks 1, 3, 4, and 5 and alemtuzumab at 3 mg (first cohort), 10 mg (second "
        "cohort), and eventually 30 mg (third cohort) 3 times weekly during weeks 2–5.",
    )
    p = make("alemtuzumab-rituximab-nabhan2004")
    assert [(d - 1) // 7 + 1 for d in cycle_days(p, R, 1)] == [1, 3, 4, 5]
    a = cycle_days(p, A, 1)
    assert [sum(1 for d in a if (d - 1) // 7 + 1 == w) for w in (1, 2, 3, 4, 5)] == [0, 3, 3, 3, 3]
    assert {mg for _, mg, _ in rows(p, A)} == {30.0}
    low = make(
        "alemtuzumab-rituximab-nabhan2004", options=PlanOptions(overrides=(DoseOverride(A, 3),))
    )
    assert {mg for _, mg, _ in rows(low, A)} == {3.0}  # the first cohort


def test_faderl_2006(review: ReviewText) -> None:
    """ "rituximab was given at 375 mg/m2 intravenously IV on day 1 followed by 500 mg/m2 on days
    8, 15, and 22, and alemtuzumab at 15 mg by continuous intravenous infusion daily for 6 days
    (days 2–7) followed by 30 mg SC twice weekly on day 3 and 5 of weeks 2–4"; "Maximum duration
    of therapy was 3 courses.\""""
    quoted(
        review,
        "rituximab was given at 375 mg/m2 intravenously IV on day 1 followed by 500 mg/m2 on days "
        "8, 15, and 22, and alemtuzumab at 15 mg by continuous intravenous infusion daily for 6 "
        "days (days 2–7) followed by 30 mg SC twice weekly on day 3 and 5 of weeks 2–4.",
        "Maximum duration of therapy was 3 courses.",
    )
    p = make("alemtuzumab-civ-sc-rituximab-faderl2006")
    assert p.cycles == 3
    for c in (1, 2, 3):
        assert rows(p, R, c) == [(1, 682.0, "iv"), (8, 909.0, "iv"), (15, 909.0, "iv"),
                                 (22, 909.0, "iv")]  # fmt: skip
        assert rows(p, A, c) == [(d, 15.0, "civ") for d in range(2, 8)] + [
            (d, 30.0, "sc") for d in (10, 12, 17, 19, 24, 26)
        ]
    assert p.max_window_mg() == 90.0  # days 2-8 hold exactly 6 × 15 mg


def test_kennedy_2002(review: ReviewText) -> None:
    """Table 2: "FAMP 25 mg/m2 × 3 d Campath 30 iv mg × 3 d/W every 28 d"."""
    quoted(review, "Kennedy et al 2002 FAMP 25 mg/m2 × 3 d Campath 30 iv mg × 3 d/W every 28 d")
    p = make("fludarabine-alemtuzumab-kennedy2002")
    assert rows(p, F, 1) == [(d, 45.0, "iv") for d in (1, 2, 3)]
    a = cycle_days(p, A, 1)
    assert [sum(1 for d in a if (d - 1) // 7 == w) for w in range(4)] == [3, 3, 3, 3]
    two = make("fludarabine-alemtuzumab-kennedy2002", options=PlanOptions(cycles=2))
    assert cycle_days(two, F, 2) == [1, 2, 3]


@pytest.mark.parametrize(
    "start",
    [date(2024, 1, 1) + timedelta(days=k) for k in range(7)],
    ids=lambda d: d.strftime("%a"),
)
def test_every_regimen_plans_from_any_weekday(start: date) -> None:
    from cllcds import knowledge

    for rid in knowledge.regimens():
        p = make(rid, start=start)
        assert p.administrations[0].date == start
        assert p.max_window_mg() <= 90
        assert max(a.dose_mg for a in p.alemtuzumab()) <= 30

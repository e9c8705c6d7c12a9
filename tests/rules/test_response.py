"""Response assessment under NCI-WG 1996, iwCLL 2008 (ASH and PMC tables) and iwCLL 2018.

Cases sit on each threshold, on both sides, and quote the criterion they test (test ids and
docstrings). Sources: shared/reference/clinical-rules.md §2 (NCI-WG: S1, S2, S3), §3.1 (iwCLL
2008 ASH-site Table 4, G2; footnotes S4; PD detail S6; CRi S5), §3.6 (PMC Table 4, G3), §3.3
(iwCLL 2018 Table 4, G5), §3.4 (MRD: P13, P14).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from cllcds.domain import (
    Assessment,
    Cellularity,
    DecisionStatus,
    InputError,
    LymphNode,
    Marrow,
    Mrd,
    MrdSample,
    ResponseCategory,
    ResponseCriteria,
    Transformation,
)
from cllcds.knowledge import Compartment, response_rules
from cllcds.rules.response import (
    CompartmentResponse,
    CriterionOutcome,
    assess_response,
    assess_series,
    mrd_status,
)

NCI = ResponseCriteria.NCI_WG_1996
ASH = ResponseCriteria.IWCLL_2008
PMC = ResponseCriteria.IWCLL_2008_PMC
IW18 = ResponseCriteria.IWCLL_2018
ALL = list(ResponseCriteria)

CR = ResponseCategory.CR
CRI = ResponseCategory.CRI
NPR = ResponseCategory.NPR
PR = ResponseCategory.PR
SD = ResponseCategory.SD
PD = ResponseCategory.PD
NE = ResponseCategory.NOT_EVALUABLE

D0 = dt.date(2007, 1, 5)
D1 = dt.date(2007, 6, 1)

# Pre-treatment: two nodes (SPD 35×22 + 28×20 = 1330 mm²), spleen 6 cm, lymphocytosis,
# anaemia, thrombocytopenia, infiltrated marrow with nodules, B symptoms.
BASE = Assessment(
    date=D0,
    nodes=(LymphNode(35, 22, "left cervical"), LymphNode(28, 20, "right axillary")),
    liver_cm=0,
    spleen_cm=6,
    spleen_length_cm=18,
    marrow=Marrow(80, True, Cellularity.HYPERCELLULAR, 75),
    constitutional_symptoms=True,
    alc_10e9_per_l=80.0,
    anc_10e9_per_l=2.1,
    plt_10e9_per_l=98,
    hgb_g_per_dl=10.4,
    clonal_b_10e9_per_l=78.0,
    transfused=False,
    erythropoietin=False,
    growth_factor=False,
)

# Meets every CR criterion of every rule set.
CR_NOW = Assessment(
    date=D1,
    nodes=(),
    liver_cm=0,
    spleen_cm=0,
    spleen_length_cm=11,
    marrow=Marrow(15, False, Cellularity.NORMOCELLULAR, 0),
    constitutional_symptoms=False,
    alc_10e9_per_l=1.5,
    anc_10e9_per_l=2.0,
    plt_10e9_per_l=150,
    hgb_g_per_dl=12.5,
    clonal_b_10e9_per_l=0.0,
    transfused=False,
    erythropoietin=False,
    growth_factor=False,
)

# Nodes halved (SPD 35×11 + 28×10 = 665 mm², -50 %), lymphocytes cleared, spleen gone.
PR_NODES = (LymphNode(35, 11, "left cervical"), LymphNode(28, 10, "right axillary"))
WITH_NEW_NODE = (*PR_NODES, LymphNode(20, 15, "left inguinal"))
PR_NOW = dataclasses.replace(
    CR_NOW,
    nodes=PR_NODES,
    marrow=Marrow(20, False, Cellularity.NORMOCELLULAR, 10),
    alc_10e9_per_l=2.0,
    anc_10e9_per_l=1.8,
    plt_10e9_per_l=120,
    hgb_g_per_dl=11.5,
    clonal_b_10e9_per_l=1.9,
)


def at(**changes: Any) -> Assessment:
    """CR_NOW with some fields changed."""
    return dataclasses.replace(CR_NOW, **changes)


def marrow(**changes: Any) -> Marrow:
    assert CR_NOW.marrow is not None
    return dataclasses.replace(CR_NOW.marrow, **changes)


def months_before(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 - months, 12)
    return dt.date(d.year + y, m + 1, d.day)


# --------------------------------------------------------------------------------------------
# CR under every rule set; NCI-WG needs 2 months
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criteria", ALL)
def test_complete_remission_under_every_rule_set(criteria: ResponseCriteria) -> None:
    result = assess_response(BASE, CR_NOW, criteria)
    assert result.category is CR
    assert result.criteria is criteria
    assert result.citation.rule_set == criteria.value
    assert result.rationale.startswith(criteria.label)
    assert all(
        r.outcome
        in (CriterionOutcome.MET, CriterionOutcome.NOT_MET, CriterionOutcome.NOT_APPLICABLE)
        for r in result.criteria_results
    )


def test_nci_cr_is_provisional_until_sustained_two_months() -> None:
    """S1: CR '(8) duration of response >= 2 months'."""
    first = assess_response(BASE, CR_NOW, NCI)
    assert first.provisional
    assert first.status is DecisionStatus.INDETERMINATE
    assert first.confirm_on_or_after == dt.date(2007, 8, 1)
    assert first.inputs_missing == ("assessment on or after 2007-08-01",)
    assert "provisional" in first.rationale

    later = at(date=dt.date(2007, 8, 1))
    confirmed = assess_response(BASE, later, NCI, previous=[CR_NOW])
    assert confirmed.category is CR
    assert not confirmed.provisional
    assert confirmed.status is DecisionStatus.DECIDED
    assert confirmed.confirmed_category is CR

    one_day_short = at(date=dt.date(2007, 7, 31))
    still = assess_response(BASE, one_day_short, NCI, previous=[CR_NOW])
    assert still.provisional


def test_nci_pr_confirmed_while_cr_still_provisional() -> None:
    """A PR sustained 2 months that has just become a CR: PR confirmed, CR provisional."""
    pr_then = dataclasses.replace(PR_NOW, date=dt.date(2007, 3, 1))
    cr_now = at(date=dt.date(2007, 5, 10))
    result = assess_response(BASE, cr_now, NCI, previous=[pr_then])
    assert result.category is CR
    assert result.provisional
    assert result.confirmed_category is PR
    assert result.confirm_on_or_after == dt.date(2007, 7, 10)


def test_a_response_lost_in_between_restarts_the_clock() -> None:
    pr_then = dataclasses.replace(PR_NOW, date=dt.date(2007, 2, 1))
    lost = dataclasses.replace(BASE, date=dt.date(2007, 3, 1), constitutional_symptoms=False)
    pr_now = dataclasses.replace(PR_NOW, date=dt.date(2007, 4, 15))
    result = assess_response(BASE, pr_now, NCI, previous=[pr_then, lost])
    assert result.category is PR
    assert result.provisional
    assert result.confirm_on_or_after == dt.date(2007, 6, 15)


@pytest.mark.parametrize("criteria", [ASH, PMC, IW18])
def test_iwcll_has_no_duration_requirement_in_the_retrieved_tables(
    criteria: ResponseCriteria,
) -> None:
    result = assess_response(BASE, CR_NOW, criteria)
    assert not result.provisional
    assert result.status is DecisionStatus.DECIDED


# --------------------------------------------------------------------------------------------
# CR thresholds, both sides: (criteria, change, expected "is CR"), id quotes the criterion
# --------------------------------------------------------------------------------------------

CR_BOUNDARIES: list[Any] = [
    # NCI-WG 1996, S1
    pytest.param(
        NCI, {"alc_10e9_per_l": 4.0}, True, id="NCI CR 'lymphocyte count <= 4,000 per µL' (4.0)"
    ),
    pytest.param(
        NCI, {"alc_10e9_per_l": 4.01}, False, id="NCI CR 'lymphocyte count <= 4,000 per µL' (4.01)"
    ),
    pytest.param(
        NCI, {"anc_10e9_per_l": 1.5}, True, id="NCI CR 'neutrophil count >= 1,500 per µL' (1.5)"
    ),
    pytest.param(
        NCI, {"anc_10e9_per_l": 1.49}, False, id="NCI CR 'neutrophil count >= 1,500 per µL' (1.49)"
    ),
    pytest.param(
        NCI, {"plt_10e9_per_l": 100}, False, id="NCI CR 'platelet count > 100,000 per µL' (100)"
    ),
    pytest.param(
        NCI, {"plt_10e9_per_l": 101}, True, id="NCI CR 'platelet count > 100,000 per µL' (101)"
    ),
    pytest.param(
        NCI, {"hgb_g_per_dl": 11.0}, False, id="NCI CR 'hemoglobin (untransfused) > 11 g/dL' (11.0)"
    ),
    pytest.param(
        NCI, {"hgb_g_per_dl": 11.1}, True, id="NCI CR 'hemoglobin (untransfused) > 11 g/dL' (11.1)"
    ),
    pytest.param(
        NCI, {"transfused": True}, False, id="NCI CR 'hemoglobin (untransfused)' (transfused)"
    ),
    pytest.param(
        NCI,
        {"marrow": Marrow(30, False, Cellularity.NORMOCELLULAR)},
        False,
        id="NCI CR 'marrow < 30% lymphocytes' (30)",
    ),
    pytest.param(
        NCI,
        {"marrow": Marrow(29.9, False, Cellularity.NORMOCELLULAR)},
        True,
        id="NCI CR 'marrow < 30% lymphocytes' (29.9)",
    ),
    pytest.param(
        NCI,
        {"nodes": (LymphNode(15, 10),)},
        True,
        id="NCI CR 'no lymphadenopathy' (15 mm, named default > 1.5 cm)",
    ),
    pytest.param(
        NCI, {"nodes": (LymphNode(16, 10),)}, False, id="NCI CR 'no lymphadenopathy' (16 mm)"
    ),
    pytest.param(
        NCI, {"spleen_cm": 1}, False, id="NCI CR 'spleen and liver not palpable' (spleen 1 cm)"
    ),
    pytest.param(
        NCI, {"constitutional_symptoms": True}, False, id="NCI CR 'constitutional symptoms: none'"
    ),
    # iwCLL 2008, ASH-site Table 4 (G2)
    pytest.param(
        ASH, {"alc_10e9_per_l": 4.0}, False, id="iwCLL 2008 CR 'Blood lymphocytes < 4000/μL' (4.0)"
    ),
    pytest.param(
        ASH, {"alc_10e9_per_l": 3.99}, True, id="iwCLL 2008 CR 'Blood lymphocytes < 4000/μL' (3.99)"
    ),
    pytest.param(
        ASH, {"plt_10e9_per_l": 100}, False, id="iwCLL 2008 CR 'Platelet count > 100 000/μL' (100)"
    ),
    pytest.param(
        ASH,
        {"plt_10e9_per_l": 100.5},
        True,
        id="iwCLL 2008 CR 'Platelet count > 100 000/μL' (100.5)",
    ),
    pytest.param(
        ASH, {"hgb_g_per_dl": 11.0}, False, id="iwCLL 2008 CR 'Hemoglobin > 11.0 g/dL' (11.0)"
    ),
    pytest.param(
        ASH, {"hgb_g_per_dl": 11.05}, True, id="iwCLL 2008 CR 'Hemoglobin > 11.0 g/dL' (11.05)"
    ),
    pytest.param(
        ASH, {"anc_10e9_per_l": 1.5}, False, id="iwCLL 2008 CR 'Neutrophils > 1500/μL' (1.5)"
    ),
    pytest.param(
        ASH, {"anc_10e9_per_l": 1.51}, True, id="iwCLL 2008 CR 'Neutrophils > 1500/μL' (1.51)"
    ),
    pytest.param(
        ASH,
        {"nodes": (LymphNode(15, 10),)},
        True,
        id="iwCLL 2008 CR 'Lymphadenopathy None > 1.5 cm' (15 mm)",
    ),
    pytest.param(
        ASH,
        {"nodes": (LymphNode(15.1, 10),)},
        False,
        id="iwCLL 2008 CR 'Lymphadenopathy None > 1.5 cm' (15.1 mm)",
    ),
    pytest.param(ASH, {"spleen_cm": 1}, False, id="iwCLL 2008 CR 'Splenomegaly None' (1 cm)"),
    pytest.param(
        ASH,
        {"marrow": marrow(lymphocytes_pct=30)},
        False,
        id="iwCLL 2008 CR 'Marrow < 30% lymphocytes' (30)",
    ),
    # iwCLL 2008, PMC Table 4 (G3)
    pytest.param(
        PMC,
        {"clonal_b_10e9_per_l": 0.01},
        False,
        id="iwCLL 2008 PMC CR 'Circulating clonal B lymphocytes None' (0.01)",
    ),
    pytest.param(
        PMC,
        {"erythropoietin": True},
        False,
        id="iwCLL 2008 PMC CR 'Hb >11.0 g/dL (untransfused and without erythropoietin)'",
    ),
    pytest.param(
        PMC,
        {"anc_10e9_per_l": 1.5},
        False,
        id="iwCLL 2008 PMC CR 'Polymorphonuclear leukocytes >1500/μL' (1.5)",
    ),
    # iwCLL 2018, Table 4 (G5)
    pytest.param(
        IW18, {"plt_10e9_per_l": 100}, True, id="iwCLL 2018 CR 'Platelet count ≥100 × 10^9/L' (100)"
    ),
    pytest.param(
        IW18,
        {"plt_10e9_per_l": 99.5},
        False,
        id="iwCLL 2018 CR 'Platelet count ≥100 × 10^9/L' (99.5)",
    ),
    pytest.param(
        IW18, {"hgb_g_per_dl": 11.0}, True, id="iwCLL 2018 CR 'Hemoglobin ≥11.0 g/dL' (11.0)"
    ),
    pytest.param(
        IW18, {"hgb_g_per_dl": 10.9}, False, id="iwCLL 2018 CR 'Hemoglobin ≥11.0 g/dL' (10.9)"
    ),
    pytest.param(
        IW18,
        {"erythropoietin": True},
        False,
        id="iwCLL 2018 CR 'Hb (untransfused and without erythropoietin)'",
    ),
    pytest.param(
        IW18,
        {"nodes": (LymphNode(14.9, 10),)},
        True,
        id="iwCLL 2018 CR 'Lymph nodes None ≥1.5 cm' (14.9 mm)",
    ),
    pytest.param(
        IW18,
        {"nodes": (LymphNode(15, 10),)},
        False,
        id="iwCLL 2018 CR 'Lymph nodes None ≥1.5 cm' (15 mm)",
    ),
    pytest.param(
        IW18, {"spleen_length_cm": 12.9}, True, id="iwCLL 2018 CR 'Spleen size <13 cm' (12.9)"
    ),
    pytest.param(
        IW18, {"spleen_length_cm": 13.0}, False, id="iwCLL 2018 CR 'Spleen size <13 cm' (13.0)"
    ),
    pytest.param(
        IW18,
        {"alc_10e9_per_l": 4.0},
        False,
        id="iwCLL 2018 CR 'Circulating lymphocyte count Normal' (4.0; named default < 4)",
    ),
    pytest.param(
        IW18,
        {"marrow": marrow(cll_cells_pct=1)},
        False,
        id="iwCLL 2018 CR 'Marrow ... no CLL cells' (1 %)",
    ),
]


@pytest.mark.parametrize(("criteria", "change", "is_cr"), CR_BOUNDARIES)
def test_cr_thresholds(criteria: ResponseCriteria, change: dict[str, Any], is_cr: bool) -> None:
    result = assess_response(BASE, at(**change), criteria)
    assert (result.category is CR) is is_cr, result.rationale
    assert result.category is not PD


# --------------------------------------------------------------------------------------------
# CR vs nPR, CRi
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criteria", ALL)
def test_cr_with_marrow_nodules_is_npr(criteria: ResponseCriteria) -> None:
    """S3: 'nPR = same as CR with presence of lymphoid aggregates in bone marrow biopsy'; iwCLL
    marrow PR cell '... or B-lymphoid nodules'."""
    result = assess_response(BASE, at(marrow=marrow(nodules=True)), criteria)
    assert result.category is NPR
    assert "nodules" in result.rationale


@pytest.mark.parametrize("criteria", [ASH, PMC, IW18])
def test_hypocellular_marrow_defines_cri(criteria: ResponseCriteria) -> None:
    """G2/G3: 'Hypocellular marrow defines CRi'."""
    result = assess_response(
        BASE, at(marrow=marrow(cellularity=Cellularity.HYPOCELLULAR)), criteria
    )
    assert result.category is CRI


@pytest.mark.parametrize("criteria", [ASH, IW18])
def test_cri_when_counts_not_recovered_for_a_reason_other_than_cll(
    criteria: ResponseCriteria,
) -> None:
    """S5: CR criteria met but blood counts not normal, the cytopenia unrelated to CLL."""
    low = at(plt_10e9_per_l=80, cytopenia_due_to_cll=False)
    assert assess_response(BASE, low, criteria).category is CRI
    due_to_cll = at(plt_10e9_per_l=80, cytopenia_due_to_cll=True)
    assert assess_response(BASE, due_to_cll, criteria).category is PR
    unknown = assess_response(BASE, at(plt_10e9_per_l=80), criteria)
    assert unknown.category is PR
    assert unknown.status is DecisionStatus.INDETERMINATE
    assert "current.cytopenia_due_to_cll" in unknown.inputs_missing


def test_nci_hypocellular_marrow_means_repeat_the_marrow() -> None:
    """S1: '(7) ... if marrow hypocellular repeat in 2 weeks': CR cannot be confirmed yet."""
    result = assess_response(BASE, at(marrow=marrow(cellularity=Cellularity.HYPOCELLULAR)), NCI)
    assert result.category is PR
    assert result.status is DecisionStatus.INDETERMINATE
    assert any("repeat marrow" in m for m in result.inputs_missing)


# --------------------------------------------------------------------------------------------
# Missing inputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criteria", ALL)
def test_missing_marrow_leaves_cr_not_confirmable(criteria: ResponseCriteria) -> None:
    """Every rule set's CR needs the marrow: without it the result is PR, indeterminate, and
    names the marrow as the missing input."""
    result = assess_response(BASE, at(marrow=None), criteria)
    assert result.category is PR
    assert result.status is DecisionStatus.INDETERMINATE
    assert "current.marrow" in result.inputs_missing
    assert result.category_outcomes[CR] is CriterionOutcome.UNKNOWN
    assert result.by_compartment[Compartment.MARROW] is CompartmentResponse.NOT_EVALUABLE


def test_iwcll_2018_cr_needs_the_imaged_spleen_length() -> None:
    result = assess_response(BASE, at(spleen_length_cm=None), IW18)
    assert result.category is PR
    assert "current.spleen_length_cm" in result.inputs_missing


@pytest.mark.parametrize("criteria", ALL)
def test_unexamined_nodes_leave_pd_open(criteria: ResponseCriteria) -> None:
    """Without a node examination progression cannot be excluded: not evaluable, never a guess."""
    result = assess_response(BASE, dataclasses.replace(PR_NOW, nodes=None), criteria)
    assert result.category is NE
    assert result.status is DecisionStatus.INDETERMINATE
    assert "current.nodes" in result.inputs_missing


def test_platelet_fall_without_attribution_is_not_evaluable() -> None:
    """G2 PD: 'Decrease of ≥ 50% from baseline secondary to CLL' needs the attribution."""
    fall = dataclasses.replace(PR_NOW, plt_10e9_per_l=49)
    result = assess_response(BASE, fall, ASH)
    assert result.category is NE
    assert result.inputs_missing == ("current.cytopenia_due_to_cll",)


# --------------------------------------------------------------------------------------------
# PR combination rules
# --------------------------------------------------------------------------------------------

# Baseline without organomegaly, for a patient whose only tumour response is in the nodes.
BASE_NODES_ONLY = dataclasses.replace(BASE, spleen_cm=0)
ONE_A_ONE_B = dataclasses.replace(
    PR_NOW,
    alc_10e9_per_l=70.0,  # -12.5 %: not a group A criterion
    clonal_b_10e9_per_l=70.0,  # -10 %: not a group A criterion (PMC)
    marrow=Marrow(70, True, Cellularity.HYPERCELLULAR, 65),  # -12.5 % infiltrate
    anc_10e9_per_l=1.2,  # not > 1.5 nor > 50 % improvement
    plt_10e9_per_l=120,  # group B: > 100
    hgb_g_per_dl=10.5,
    constitutional_symptoms=True,
)


def test_ash_and_pmc_2008_differ_on_one_a_plus_one_b() -> None:
    """G2/S4 footnote: 'PR: >= 2 group A criteria + >= 1 group B criterion'; G3 footnote: 'at
    least one of the criteria of group A and one of the criteria of group B'. Nodes -50 % (1 A)
    and platelets 120 (1 B)."""
    ash = assess_response(BASE_NODES_ONLY, ONE_A_ONE_B, ASH)
    pmc = assess_response(BASE_NODES_ONLY, ONE_A_ONE_B, PMC)
    assert ash.category is SD
    assert ash.status is DecisionStatus.DECIDED
    assert "1 of 5 group A met, 2 needed" in ash.rationale
    assert pmc.category is PR
    assert pmc.status is DecisionStatus.DECIDED


def test_iwcll_2018_pr_needs_two_group_a_when_several_were_abnormal() -> None:
    """G5 Table 4 PR footnote (issue 10): '>= 2 group A + >= 1 group B, if previously
    abnormal'. Nodes, spleen (18 cm imaged) and lymphocytes were abnormal: nodes alone do not
    make a PR."""
    result = assess_response(BASE_NODES_ONLY, ONE_A_ONE_B, IW18)
    assert result.category is SD
    assert "1 of 3 group A met, 2 needed" in result.rationale


# Only the nodes (group A) and only the platelets (group B) abnormal before therapy.
BASE_ONE_EACH = dataclasses.replace(
    BASE, spleen_cm=0, spleen_length_cm=11, liver_cm=0, alc_10e9_per_l=3.5, hgb_g_per_dl=12.0,
    plt_10e9_per_l=80, constitutional_symptoms=False,
)  # fmt: skip
ONE_EACH_NOW = dataclasses.replace(
    ONE_A_ONE_B, alc_10e9_per_l=3.4, plt_10e9_per_l=100, hgb_g_per_dl=12.0, spleen_length_cm=11
)


def test_iwcll_2018_pr_footnote_only_one_of_each_needs_to_improve() -> None:
    """G5 Table 4 PR footnote (issue 10): 'If only one parameter of group A and one of group B
    was abnormal before therapy, only one of each needs to improve.' Nodes -50 % and platelets
    80 -> 100 x 10^9/L: PR."""
    result = assess_response(BASE_ONE_EACH, ONE_EACH_NOW, IW18)
    assert result.category is PR
    assert "only one parameter of each group was abnormal" in result.rationale
    assert result.citation.quote.startswith("If only one parameter of group A")
    # The one abnormal parameter must itself improve: platelets 80 -> 99 is not enough.
    worse = dataclasses.replace(ONE_EACH_NOW, plt_10e9_per_l=99)
    assert assess_response(BASE_ONE_EACH, worse, IW18).category is SD


def test_iwcll_2018_pr_footnote_needs_every_baseline_status_known() -> None:
    """With a second group B parameter abnormal (Hb 10.4 < 11 g/dL) the exception does not
    apply: 2 group A criteria are needed again. With the baseline lymphocyte count unknown the
    stricter rule stands too (fail closed)."""
    two_b = dataclasses.replace(BASE_ONE_EACH, hgb_g_per_dl=10.4)
    assert assess_response(two_b, ONE_EACH_NOW, IW18).category is SD
    unknown = dataclasses.replace(BASE_ONE_EACH, alc_10e9_per_l=None)
    assert assess_response(unknown, ONE_EACH_NOW, IW18).category is not PR


def test_iwcll_2008_has_no_single_abnormal_exception() -> None:
    """The exception is the 2018 footnote's; the 2008 ASH rule (S4) stays >= 2 A + >= 1 B."""
    assert response_rules(ASH).pr.single_abnormal is None
    assert assess_response(BASE_ONE_EACH, ONE_EACH_NOW, ASH).category is SD


def test_nci_pr_needs_lymphocytes_organs_and_one_blood_count() -> None:
    """S1 PR: (1) lymph nodes, liver and/or spleen >= 50% decrease (if abnormal prior to
    treatment); (2) lymphocyte count >= 50% decrease; (3) one or more of neutrophils >= 1,500,
    platelets > 100,000, Hb (untransfused) > 11, Hb >= 50% improvement."""
    assert assess_response(BASE, ONE_A_ONE_B, NCI).category is SD  # (2) not met
    ok = dataclasses.replace(ONE_A_ONE_B, alc_10e9_per_l=40.0)  # exactly -50 %
    assert assess_response(BASE_NODES_ONLY, ok, NCI).category is PR
    short = dataclasses.replace(ONE_A_ONE_B, alc_10e9_per_l=40.1)
    assert assess_response(BASE_NODES_ONLY, short, NCI).category is SD
    no_counts = dataclasses.replace(ok, plt_10e9_per_l=99, anc_10e9_per_l=1.49, hgb_g_per_dl=11.0)
    assert assess_response(BASE_NODES_ONLY, no_counts, NCI).category is SD
    hb_half_better = dataclasses.replace(no_counts, hgb_g_per_dl=15.6)  # 10.4 → 15.6: +50 %
    assert assess_response(BASE_NODES_ONLY, hb_half_better, NCI).category is PR


PR_BOUNDARIES: list[Any] = [
    pytest.param(
        ASH, {"plt_10e9_per_l": 100}, False, id="iwCLL 2008 PR 'Platelet count > 100 000/μL' (100)"
    ),
    pytest.param(
        ASH,
        {"plt_10e9_per_l": 147},
        True,
        id="iwCLL 2008 PR 'increase ≥ 50% over baseline' (98 → 147)",
    ),
    pytest.param(
        ASH,
        {"hgb_g_per_dl": 15.6},
        True,
        id="iwCLL 2008 PR 'Hemoglobin increase ≥ 50%' (10.4 → 15.6)",
    ),
    pytest.param(
        ASH, {"anc_10e9_per_l": 1.5}, False, id="iwCLL 2008 PR 'Neutrophils > 1500/μL' (1.5)"
    ),
    pytest.param(
        ASH, {"anc_10e9_per_l": 1.51}, True, id="iwCLL 2008 PR 'Neutrophils > 1500/μL' (1.51)"
    ),
    pytest.param(
        IW18, {"plt_10e9_per_l": 100}, True, id="iwCLL 2018 PR 'Platelet count ≥100 × 10^9/L' (100)"
    ),
    pytest.param(
        IW18, {"plt_10e9_per_l": 99}, False, id="iwCLL 2018 PR 'Platelet count ≥100 × 10^9/L' (99)"
    ),
    pytest.param(
        IW18, {"hgb_g_per_dl": 11.0}, True, id="iwCLL 2018 PR 'Hemoglobin ≥11 g/dL' (11.0)"
    ),
]


@pytest.mark.parametrize(("criteria", "change", "is_pr"), PR_BOUNDARIES)
def test_group_b_pr_thresholds(
    criteria: ResponseCriteria, change: dict[str, Any], is_pr: bool
) -> None:
    """Two group A criteria met (nodes -50 %, lymphocytes -97 %); group B depends on the value."""
    two_a = dataclasses.replace(
        ONE_A_ONE_B, alc_10e9_per_l=2.0, plt_10e9_per_l=90, hgb_g_per_dl=10.5, anc_10e9_per_l=1.2
    )
    current = dataclasses.replace(two_a, **change)
    result = assess_response(BASE_NODES_ONLY, current, criteria)
    assert (result.category is PR) is is_pr, result.rationale


@pytest.mark.parametrize(
    ("anc", "is_pr"),
    [
        pytest.param(
            1.2, False, id="iwCLL 2008 PR 'Neutrophils > 50% improvement' (0.8 → 1.2: 50 %)"
        ),
        pytest.param(1.21, True, id="iwCLL 2008 PR 'Neutrophils > 50% improvement' (0.8 → 1.21)"),
    ],
)
def test_neutrophil_improvement_must_exceed_50_percent(anc: float, is_pr: bool) -> None:
    base = dataclasses.replace(BASE_NODES_ONLY, anc_10e9_per_l=0.8)
    current = dataclasses.replace(
        ONE_A_ONE_B, alc_10e9_per_l=2.0, plt_10e9_per_l=90, hgb_g_per_dl=10.5, anc_10e9_per_l=anc
    )
    assert (assess_response(base, current, ASH).category is PR) is is_pr


# --------------------------------------------------------------------------------------------
# 2008 vs 2018: boundary changes
# --------------------------------------------------------------------------------------------


def test_2008_and_2018_differ_on_platelets_exactly_100() -> None:
    """G2 CR 'Platelet count > 100 000/μL' vs G5 CR 'Platelet count ≥100 × 10^9/L'."""
    current = at(plt_10e9_per_l=100)
    assert assess_response(BASE, current, ASH).category is not CR
    assert assess_response(BASE, current, IW18).category is CR


def test_2008_and_2018_differ_on_hb_fall_of_exactly_2() -> None:
    """G2 PD 'Decrease of > 2 g/dL from baseline secondary to CLL' vs G5 'Decrease of ≥2 g/dL'."""
    base = dataclasses.replace(BASE, hgb_g_per_dl=12.3)
    exactly_2 = dataclasses.replace(PR_NOW, hgb_g_per_dl=10.3, cytopenia_due_to_cll=True)
    assert assess_response(base, exactly_2, ASH).category is not PD
    assert assess_response(base, exactly_2, IW18).category is PD
    more = dataclasses.replace(exactly_2, hgb_g_per_dl=10.2)
    assert assess_response(base, more, ASH).category is PD


# --------------------------------------------------------------------------------------------
# PD triggers, each one, both sides where the source gives a threshold
# --------------------------------------------------------------------------------------------

BIG_NODES = (LymphNode(40, 25, "left cervical"), LymphNode(33.2, 30, "right axillary"))  # 1996
ALMOST = (LymphNode(40, 25, "left cervical"), LymphNode(33.1, 30, "right axillary"))  # 1993


PD_TRIGGERS: list[Any] = [
    # (criteria, change to PR_NOW, expected PD row)
    pytest.param(
        NCI,
        {"alc_10e9_per_l": 120.0},
        "pd.lymphocytes",
        id="NCI PD 'circulating lymphocytes >= 50% increase' (80 → 120)",
    ),
    pytest.param(
        NCI, {"spleen_cm": 9}, "pd.spleen", id="NCI PD 'spleen >= 50% increase' (6 → 9 cm)"
    ),
    pytest.param(NCI, {"liver_cm": 2}, "pd.liver", id="NCI PD 'liver ... OR new' (0 → 2 cm)"),
    pytest.param(
        NCI,
        {"nodes": WITH_NEW_NODE},
        "pd.new_nodes",
        id="NCI PD 'lymph nodes ... OR new' (new site)",
    ),
    pytest.param(
        NCI,
        {"transformation": Transformation.RICHTER},
        "pd.transformation",
        id="NCI PD 'development of Richter's syndrome'",
    ),
    pytest.param(
        NCI,
        {"transformation": Transformation.PROLYMPHOCYTIC},
        "pd.transformation",
        id="NCI PD 'prolymphocytic leukemia with > 55% prolymphocytes'",
    ),
    pytest.param(
        ASH,
        {"nodes": BIG_NODES},
        "pd.nodes",
        id="iwCLL 2008 PD 'Lymphadenopathy Increase ≥ 50%' (1330 → 1996 mm²)",
    ),
    pytest.param(
        ASH,
        {"alc_10e9_per_l": 120.0},
        "pd.lymphocytes",
        id="iwCLL 2008 PD 'Blood lymphocytes Increase ≥ 50% over baseline'",
    ),
    pytest.param(
        ASH, {"spleen_cm": 9}, "pd.spleen", id="iwCLL 2008 PD 'Splenomegaly Increase ≥ 50%'"
    ),
    pytest.param(
        ASH, {"liver_cm": 2}, "pd.liver", id="iwCLL 2008 PD 'Hepatomegaly Increase ≥ 50%' (new)"
    ),
    pytest.param(
        ASH,
        {"plt_10e9_per_l": 49, "cytopenia_due_to_cll": True},
        "pd.platelets",
        id="iwCLL 2008 PD 'Platelets decrease of ≥ 50% ... secondary to CLL' (98 → 49)",
    ),
    pytest.param(
        ASH,
        {"nodes": WITH_NEW_NODE},
        "pd.new_nodes",
        id="iwCLL 2008 PD (S6) 'or new nodes'",
    ),
    pytest.param(
        ASH,
        {"transformation": Transformation.RICHTER},
        "pd.transformation",
        id="iwCLL 2008 PD (S6) 'transformation'",
    ),
    pytest.param(
        PMC,
        {"clonal_b_10e9_per_l": 117.0},
        "pd.clonal_b",
        id="iwCLL 2008 PMC PD 'Circulating clonal B lymphocytes Increase ≥ 50%'",
    ),
    pytest.param(
        PMC,
        {"spleen_cm": 9},
        "pd.liver_spleen",
        id="iwCLL 2008 PMC PD 'Liver and/or spleen size Increase ≥ 50%'",
    ),
    pytest.param(
        IW18,
        {"nodes": BIG_NODES},
        "pd.nodes",
        id="iwCLL 2018 PD 'Lymph nodes Increase ≥50% from baseline'",
    ),
    pytest.param(
        IW18,
        {"alc_10e9_per_l": 120.0},
        "pd.lymphocytes",
        id="iwCLL 2018 PD 'Circulating lymphocyte count Increase ≥50% over baseline'",
    ),
    pytest.param(
        IW18,
        {"spleen_cm": 9},
        "pd.liver_spleen",
        id="iwCLL 2018 PD 'Liver and/or spleen size Increase ≥50%'",
    ),
    pytest.param(
        IW18,
        {"plt_10e9_per_l": 49, "cytopenia_due_to_cll": True},
        "pd.platelets",
        id="iwCLL 2018 PD 'Platelets decrease of ≥50% ... secondary to CLL'",
    ),
]


@pytest.mark.parametrize(("criteria", "change", "row"), PD_TRIGGERS)
def test_each_pd_trigger(criteria: ResponseCriteria, change: dict[str, Any], row: str) -> None:
    result = assess_response(BASE, dataclasses.replace(PR_NOW, **change), criteria)
    assert result.category is PD, result.rationale
    assert result.criterion(row).outcome is CriterionOutcome.MET
    assert result.citation == result.criterion(row).citation


PD_BELOW: list[Any] = [
    pytest.param(NCI, {"alc_10e9_per_l": 119.9}, id="NCI PD lymphocytes +49.9 %"),
    pytest.param(ASH, {"nodes": ALMOST}, id="iwCLL 2008 PD nodes +49.9 %"),
    pytest.param(
        ASH,
        {"plt_10e9_per_l": 49.5, "cytopenia_due_to_cll": True},
        id="iwCLL 2008 PD platelets -49.5 %",
    ),
    pytest.param(
        ASH,
        {"plt_10e9_per_l": 49, "cytopenia_due_to_cll": False},
        id="iwCLL 2008 PD platelets -50 % not due to CLL",
    ),
    pytest.param(IW18, {"spleen_cm": 8.9}, id="iwCLL 2018 PD spleen +48 %"),
]


@pytest.mark.parametrize(("criteria", "change"), PD_BELOW)
def test_just_below_each_pd_threshold_is_not_pd(
    criteria: ResponseCriteria, change: dict[str, Any]
) -> None:
    result = assess_response(BASE, dataclasses.replace(PR_NOW, **change), criteria)
    assert result.category not in (PD, NE), result.rationale


def test_nci_node_progression_needs_two_exams_two_weeks_apart() -> None:
    """S2: '≥ 50 % increase in the sum of products of ≥ 2 lymph nodes on 2 consecutive exams 2
    weeks apart'."""
    first = dataclasses.replace(PR_NOW, date=dt.date(2007, 5, 1), nodes=BIG_NODES)
    alone = assess_response(BASE, first, NCI)
    assert alone.category is PD
    assert alone.provisional
    assert alone.status is DecisionStatus.INDETERMINATE
    assert alone.confirm_on_or_after == dt.date(2007, 5, 15)
    too_soon = dataclasses.replace(first, date=dt.date(2007, 5, 14))
    assert assess_response(BASE, too_soon, NCI, previous=[first]).provisional
    second = dataclasses.replace(first, date=dt.date(2007, 5, 15))
    confirmed = assess_response(BASE, second, NCI, previous=[first])
    assert confirmed.category is PD
    assert not confirmed.provisional
    assert confirmed.status is DecisionStatus.DECIDED


def test_iwcll_2018_progression_from_response() -> None:
    """G5 PD: 'Increase ≥50% from baseline or from response'. Nadir SPD 100 mm² at a PR; now
    150 mm² (+50 % from the nadir, still -89 % from baseline)."""
    nadir_visit = dataclasses.replace(PR_NOW, date=dt.date(2007, 3, 1), nodes=(LymphNode(10, 10),))
    grown = dataclasses.replace(PR_NOW, date=dt.date(2007, 9, 1), nodes=(LymphNode(15, 10),))
    result = assess_response(BASE, grown, IW18, previous=[nadir_visit])
    assert result.category is PD
    assert "from response" in result.criterion("pd.nodes").citation.quote
    almost = dataclasses.replace(grown, nodes=(LymphNode(14.9, 10),))
    assert assess_response(BASE, almost, IW18, previous=[nadir_visit]).category is PR
    # Without earlier assessments only the baseline comparison is made.
    assert assess_response(BASE, grown, IW18).category is PR
    # An explicit nadir is used as given.
    explicit = assess_response(BASE, grown, IW18, nadir=nadir_visit)
    assert explicit.category is PD


def test_iwcll_2018_marrow_progression_on_successive_biopsies() -> None:
    """G5 PD: 'Increase of CLL cells by ≥50% on successive biopsies'."""
    earlier = dataclasses.replace(PR_NOW, date=dt.date(2007, 3, 1), marrow=marrow(cll_cells_pct=10))
    later = dataclasses.replace(PR_NOW, marrow=marrow(cll_cells_pct=15))
    assert assess_response(BASE, later, IW18, previous=[earlier]).category is PD
    later_ok = dataclasses.replace(PR_NOW, marrow=marrow(cll_cells_pct=14))
    assert assess_response(BASE, later_ok, IW18, previous=[earlier]).category is PR


@pytest.mark.parametrize("criteria", ALL)
def test_stable_disease_otherwise(criteria: ResponseCriteria) -> None:
    """S1 'Stable disease: all others'; S4 'SD = neither PD nor PR'."""
    stable = dataclasses.replace(
        BASE,
        date=D1,
        alc_10e9_per_l=70.0,
        clonal_b_10e9_per_l=70.0,
        spleen_cm=5,
        plt_10e9_per_l=95,
        hgb_g_per_dl=10.2,
        anc_10e9_per_l=1.4,
        marrow=None,
    )
    result = assess_response(BASE, stable, criteria)
    assert result.category is SD, result.rationale
    assert result.citation.quote == response_rules(criteria).sd.quote


# --------------------------------------------------------------------------------------------
# MRD
# --------------------------------------------------------------------------------------------


def test_mrd_negative_below_one_in_ten_thousand() -> None:
    """P13/P14: MRD-negative < 10^-4 (fewer than 1 CLL cell per 10,000 leukocytes)."""
    assert mrd_status(Mrd(MrdSample.MARROW, 9.9e-5)).outcome is True
    assert mrd_status(Mrd(MrdSample.MARROW, 1e-4)).outcome is False
    none = mrd_status(None)
    assert none.outcome is None
    assert none.status is DecisionStatus.NOT_APPLICABLE
    assert mrd_status(Mrd(MrdSample.BLOOD, 0)).citation.source == "P13"


def test_mrd_is_reported_beside_the_category() -> None:
    result = assess_response(BASE, at(mrd=Mrd(MrdSample.MARROW, 5e-5)), ASH)
    assert result.category is CR
    assert result.mrd_negative is True


def test_mrd_level_must_be_a_fraction() -> None:
    with pytest.raises(InputError, match="fraction"):
        Mrd(MrdSample.BLOOD, 5.0)


# --------------------------------------------------------------------------------------------
# A realistic case and the series API
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criteria", ALL)
def test_keating_like_case(criteria: ResponseCriteria) -> None:
    """ALC 80 → 2 × 10^9/L, nodes halved (SPD 1330 → 665 mm²), spleen 6 → 0 cm, Hb 10.4 →
    11.5 g/dL, marrow 20 % lymphocytes without nodules: a PR under every rule set (the nodes
    still measure 35 and 28 mm, so not CR); NCI-WG PR is provisional until 2 months."""
    result = assess_response(BASE, PR_NOW, criteria)
    assert result.category is PR, result.rationale
    assert result.provisional is (criteria is NCI)
    assert result.by_compartment[Compartment.NODES] is CompartmentResponse.PARTIAL
    # The PMC table's blood row counts clonal B cells ("None" for CR): 78 → 1.9 is partial.
    blood = CompartmentResponse.PARTIAL if criteria is PMC else CompartmentResponse.COMPLETE
    assert result.by_compartment[Compartment.BLOOD] is blood
    spleen = Compartment.SPLEEN if criteria in (NCI, ASH) else Compartment.LIVER_SPLEEN
    assert result.by_compartment[spleen] in (
        CompartmentResponse.COMPLETE,
        CompartmentResponse.PARTIAL,
    )


def test_series_confirms_the_nci_response() -> None:
    visits = [
        dataclasses.replace(PR_NOW, date=dt.date(2007, 3, 1)),
        dataclasses.replace(PR_NOW, date=dt.date(2007, 5, 1)),
    ]
    first, second = assess_series(BASE, visits, NCI)
    assert first.provisional
    assert second.category is PR
    assert not second.provisional
    assert second.status is DecisionStatus.DECIDED


def test_compartments_report_resolution_and_non_involvement() -> None:
    result = assess_response(BASE, CR_NOW, ASH)
    assert result.by_compartment[Compartment.LIVER] is CompartmentResponse.NOT_INVOLVED
    assert result.by_compartment[Compartment.SPLEEN] is CompartmentResponse.COMPLETE
    assert result.by_compartment[Compartment.MARROW] is CompartmentResponse.COMPLETE
    pd = assess_response(BASE, dataclasses.replace(PR_NOW, spleen_cm=9), ASH)
    assert pd.by_compartment[Compartment.SPLEEN] is CompartmentResponse.PROGRESSION


def test_out_of_order_assessments_are_refused() -> None:
    with pytest.raises(InputError, match="baseline"):
        assess_response(BASE, dataclasses.replace(CR_NOW, date=dt.date(2006, 1, 1)), ASH)
    with pytest.raises(InputError, match="previous"):
        assess_response(BASE, CR_NOW, ASH, previous=[at(date=dt.date(2007, 7, 1))])


def test_unknown_criteria_list_the_valid_ones() -> None:
    with pytest.raises(InputError, match="iwcll-2018"):
        assess_response(BASE, CR_NOW, "iwcll-2020")


# --------------------------------------------------------------------------------------------
# The data files: every row cited with the sources of its rule set
# --------------------------------------------------------------------------------------------

SOURCES = {
    NCI: {"G1", "S1", "S2", "S3"},  # G1: Cheson 1996 itself (PR 50 % improvement rows)
    ASH: {"G2", "S4", "S5", "S6", "G4"},
    PMC: {"G3", "S6"},
    IW18: {"G5", "S1"},
}


@pytest.mark.parametrize("criteria", ALL)
def test_every_row_is_cited_from_its_rule_sets_sources(criteria: ResponseCriteria) -> None:
    rules = response_rules(criteria)
    for row in rules.rows:
        assert row.citation.source in SOURCES[criteria], row.id
        assert row.citation.rule_set == criteria.value
        assert row.citation.quote == row.criterion
        assert row.citation.locator
    for citation in (rules.cr, rules.pr.citation, rules.pd, rules.sd):
        assert citation.source in SOURCES[criteria]


def test_decision_carries_inputs_used() -> None:
    result = assess_response(BASE, PR_NOW, ASH)
    assert result.decision.inputs_used["current.plt_10e9_per_l"] == 120
    assert result.decision.rule == "response.iwcll-2008"


# --------------------------------------------------------------------------------------------
# Issue 10 part B: Hb untransfused and without erythropoietin, NCI-WG 50 % improvement, MRD
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("criteria", ALL)
def test_hb_on_an_esa_never_makes_a_cr(criteria: ResponseCriteria) -> None:
    """G5 CR 'Hemoglobin ≥11.0 g/dL (untransfused and without erythropoietin)'; G3 the same;
    G2 via the named default; NCI-WG S1 'untransfused' read as also without an ESA."""
    assert assess_response(BASE, at(erythropoietin=True), criteria).category is not CR
    assert assess_response(BASE, at(transfused=True), criteria).category is not CR


@pytest.mark.parametrize("criteria", [ASH, PMC, IW18])
def test_a_pr_resting_on_the_hb_needs_it_untransfused_and_without_esa(
    criteria: ResponseCriteria,
) -> None:
    """iwCLL 2008 §5.2 (issue 10 reading): the PR Hb '> 11 g/dL or 50 % improvement' counts
    only without transfusions or erythropoietin. Two group A criteria met, Hb 12.0 the only
    group B one: a PR untransfused, not with an ESA."""
    only_hb = dataclasses.replace(
        ONE_A_ONE_B, alc_10e9_per_l=2.0, plt_10e9_per_l=90, anc_10e9_per_l=1.2, hgb_g_per_dl=12.0
    )
    assert assess_response(BASE, only_hb, criteria).category is PR
    with_esa = dataclasses.replace(only_hb, erythropoietin=True)
    assert assess_response(BASE, with_esa, criteria).category is SD


@pytest.mark.parametrize(
    ("change", "is_pr"),
    [
        pytest.param({"anc_10e9_per_l": 1.05}, True, id="neutrophils 0.7 -> 1.05: +50 %"),
        pytest.param({"anc_10e9_per_l": 1.04}, False, id="neutrophils 0.7 -> 1.04: +49 %"),
        pytest.param({"plt_10e9_per_l": 90}, True, id="platelets 60 -> 90: +50 %"),
        pytest.param({"plt_10e9_per_l": 89}, False, id="platelets 60 -> 89: +48 %"),
    ],
)
def test_nci_wg_pr_fifty_percent_improvement_of_neutrophils_and_platelets(
    change: dict[str, Any], is_pr: bool
) -> None:
    """Cheson 1996 (G1, as issue 10 reads it; S6 prints the same): PR needs one or more of
    'neutrophils ≥ 1.5 × 10⁹/L or 50 % improvement over baseline', 'platelets > 100 × 10⁹/L or
    50 % improvement over baseline', 'Hb > 11 g/dL or 50 % improvement over baseline'."""
    base = dataclasses.replace(BASE_NODES_ONLY, anc_10e9_per_l=0.7, plt_10e9_per_l=60)
    now = dataclasses.replace(
        ONE_A_ONE_B, alc_10e9_per_l=40.0, anc_10e9_per_l=0.7, plt_10e9_per_l=60, hgb_g_per_dl=10.5
    )
    assert assess_response(base, now, NCI).category is SD
    got = assess_response(base, dataclasses.replace(now, **change), NCI).category
    assert (got is PR) is is_pr


def test_marrow_mrd_decides_no_cll_cells_under_iwcll_2018() -> None:
    """P13: MRD-negative < 10⁻⁴, the most sensitive evidence. A marrow MRD of 9.9 × 10⁻⁵
    establishes G5's 'no CLL cells' without a count; a marrow MRD of 10⁻⁴ refutes it even with
    0 % CLL cells by morphology; a blood MRD says nothing about the marrow."""
    no_count = at(marrow=marrow(cll_cells_pct=None))
    assert assess_response(BASE, no_count, IW18).category is not CR
    neg = dataclasses.replace(no_count, mrd=Mrd(MrdSample.MARROW, 9.9e-5))
    assert assess_response(BASE, neg, IW18).category is CR
    pos = at(mrd=Mrd(MrdSample.MARROW, 1e-4))
    assert assess_response(BASE, pos, IW18).criterion("cr.marrow_cll_cells").outcome is (
        CriterionOutcome.NOT_MET
    )
    blood = dataclasses.replace(no_count, mrd=Mrd(MrdSample.BLOOD, 1e-6))
    assert assess_response(BASE, blood, IW18).category is not CR


@pytest.mark.parametrize("criteria", [ResponseCriteria.IWCLL_2008, ResponseCriteria.IWCLL_2008_PMC])
def test_iwcll_2008_neutrophils_count_only_without_growth_factors(
    criteria: ResponseCriteria,
) -> None:
    """iwCLL 2008 (named default, docs/rules.md): neutrophils > 1500/uL "without need for
    exogenous growth factors": under G-CSF the CR neutrophil row fails, so CR is not reached;
    growth factor not recorded at all is a missing input (fail closed), not a pass."""
    assert assess_response(BASE, CR_NOW, criteria).category is CR
    with_gcsf = dataclasses.replace(CR_NOW, growth_factor=True)
    assert assess_response(BASE, with_gcsf, criteria).category is not CR
    unknown = dataclasses.replace(CR_NOW, growth_factor=None)
    result = assess_response(BASE, unknown, criteria)
    assert result.category is not CR

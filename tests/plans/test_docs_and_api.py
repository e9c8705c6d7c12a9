"""The examples in the planning modules' docstrings run, and the public names are exported."""

from __future__ import annotations

import doctest
import importlib

import pytest

import cllcds.course
import cllcds.domain
import cllcds.knowledge
import cllcds.rules
import cllcds.services


@pytest.mark.parametrize(
    "module", ["cllcds.rules.dosing", "cllcds.rules.supportive", "cllcds.course._plan"]
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("package", "names"),
    [
        (cllcds.domain, ["Regimen", "Plan", "Dose", "Administration", "BsaFormula",
                         "LabelRuleSet", "CeilingError", "PlanOptions", "DoseOverride",
                         "ALEMTUZUMAB_MAX_SINGLE_DOSE_MG", "ALEMTUZUMAB_MAX_WEEKLY_MG"]),
        (cllcds.knowledge, ["regimen", "regimens", "supportive_care", "monitoring_rules",
                            "alemtuzumab_product"]),
        (cllcds.rules, ["dosing", "supportive", "bsa_m2", "calculate_dose", "check_ceilings"]),
        (cllcds.course, ["plan"]),
        (cllcds.services, ["make_plan", "regimen_list", "regimen_detail", "plan_json",
                           "plan_csv", "plan_ics", "plan_html", "plan_pdf", "plan_items"]),
    ],
)  # fmt: skip
def test_public_names(package, names: list[str]) -> None:
    for name in names:
        assert name in package.__all__, name
        assert getattr(package, name) is not None

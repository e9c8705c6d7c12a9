"""Scenario files: the shipped examples and validation errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cllcds.cohort import EXAMPLES, CmvStrategy, load_example, load_scenario, scenario_from_mapping
from cllcds.domain import InputError, NotFoundError

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "cohort"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_files_match_the_builtin_examples(name):
    data = yaml.safe_load((EXAMPLES_DIR / f"{name}.yaml").read_text())
    assert data == EXAMPLES[name]
    sc = load_scenario(EXAMPLES_DIR / f"{name}.yaml")
    assert [a.id for a in sc.arms] == [a["id"] for a in EXAMPLES[name]["arms"]]


def test_arm_gets_its_study_response_and_overrides():
    sc = scenario_from_mapping(
        {
            "name": "t",
            "assumptions": {"cmv_symptomatic.none": 0.2},
            "arms": [
                {"id": "a", "response_study": "keating2002b", "cmv": "none"},
                {
                    "id": "b",
                    "response_study": "keating2002b",
                    "cmv": "prophylaxis",
                    "assumptions": {"orr": 0.5, "cmv_symptomatic.none": 0.1},
                },
            ],
        }
    )
    a, b = sc.arms
    assert a.cmv is CmvStrategy.NONE
    assert a.value("orr") == pytest.approx(31 / 93)
    assert a.value("cmv_symptomatic.none") == 0.2
    assert b.value("orr") == 0.5
    assert b.value("cmv_symptomatic.none") == 0.1  # the arm's own override wins
    assert sc.follow_up_months == 60


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "t"}, "scenario.arms"),
        ({"name": "t", "arms": []}, "scenario.arms"),
        ({"name": "t", "colour": 1, "arms": []}, "scenario.colour"),
        ({"name": "t", "follow_up_months": 0, "arms": []}, "scenario.follow_up_months"),
        ({"name": "t", "arms": [{"id": "a"}]}, "arms[1].response_study"),
        (
            {"name": "t", "arms": [{"id": "a", "response_study": "keating2002b", "cmv": "x"}]},
            "arms[1].cmv",
        ),
        (
            {
                "name": "t",
                "arms": [
                    {"id": "a", "response_study": "keating2002b"},
                    {"id": "a", "response_study": "keating2002b"},
                ],
            },
            "arms[2].id",
        ),
        (
            {
                "name": "t",
                "arms": [{"id": "a", "response_study": "keating2002b", "assumptions": {"cr": 0.9}}],
            },
            "arms[1].assumptions.cr",
        ),
        (
            {
                "name": "t",
                "population": {"nodes_none": 0.9, "nodes_bulky": 0.2},
                "arms": [{"id": "a", "response_study": "keating2002b"}],
            },
            "scenario.population.nodes_bulky",
        ),
    ],
)
def test_invalid_scenarios_name_the_field(data, field):
    with pytest.raises(InputError) as err:
        scenario_from_mapping(data)
    assert err.value.field == field


def test_unknown_study_and_example(tmp_path):
    with pytest.raises(NotFoundError):
        scenario_from_mapping({"name": "t", "arms": [{"id": "a", "response_study": "zz"}]})
    with pytest.raises(NotFoundError):
        load_example("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_scenario(bad)
    with pytest.raises(InputError):
        load_scenario(tmp_path / "missing.yaml")

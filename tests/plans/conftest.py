"""Fixtures of the plan tests: the review's text, a standard patient, plan builders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cllcds import knowledge
from cllcds.course import plan
from cllcds.domain import BodyMeasures, PatientDetails, Plan, PlanOptions
from cllcds.evidence import ReviewText

MONDAY = date(2024, 1, 1)
"""A Monday: 1 January 2024."""


@pytest.fixture(scope="session")
def review(seed_path: Path) -> ReviewText:
    """The review's text, for checking quotes (whitespace and PDF line breaks ignored)."""
    return ReviewText.from_file(seed_path)


@pytest.fixture(scope="session")
def body() -> BodyMeasures:
    """170 cm, 70 kg: Mosteller BSA sqrt(170 × 70 / 3600) = 1.8181 m²."""
    return BodyMeasures(170, 70)


def make(
    regimen_id: str,
    start: date = MONDAY,
    body: BodyMeasures | None = None,
    options: PlanOptions | None = None,
    name: str = "",
) -> Plan:
    """Plan a regimen of the library (170 cm / 70 kg unless given)."""
    return plan(
        body or BodyMeasures(170, 70),
        knowledge.regimen(regimen_id),
        start,
        options,
        PatientDetails(name=name),
    )

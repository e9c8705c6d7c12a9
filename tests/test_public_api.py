"""The public API of each package is its curated ``__all__``, guarded here.

``tests/public_api.txt`` lists every exported name; a change to a package's ``__all__`` must
change that file too, so additions and removals are deliberate and reviewed.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PACKAGES = (
    "cllcds",
    "cllcds.domain",
    "cllcds.knowledge",
    "cllcds.rules",
    "cllcds.course",
    "cllcds.evidence",
    "cllcds.pk",
    "cllcds.cohort",
    "cllcds.services",
    "cllcds.store",
    "cllcds.api",
    "cllcds.fhir",
    "cllcds.web",
    "cllcds.cli",
)
SNAPSHOT = Path(__file__).with_name("public_api.txt")


def exported() -> list[str]:
    lines = []
    for name in PACKAGES:
        mod = importlib.import_module(name)
        lines += [f"{name}.{attr}" for attr in mod.__all__]
    return lines


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    mod = importlib.import_module(name)
    assert len(set(mod.__all__)) == len(mod.__all__), "duplicate names in __all__"
    for attr in mod.__all__:
        assert not attr.startswith("_") or attr == "__version__", attr
        assert hasattr(mod, attr), f"{name}.__all__ names {attr!r}, which does not exist"


def test_public_api_matches_the_reviewed_list() -> None:
    expected = SNAPSHOT.read_text(encoding="utf-8").split()
    assert exported() == expected, (
        "the public API changed: review the difference, then update tests/public_api.txt"
    )

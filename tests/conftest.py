"""Shared fixtures: the review text (shipped beside the repository in ../shared/seed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SEED = Path(
    os.environ.get("CLLCDS_SEED", REPO.parent / "shared" / "seed" / "000_56971d7eaf23c097.txt")
)


@pytest.fixture(scope="session")
def seed_path() -> Path:
    """Path of the review text; the quote tests need it and fail (not skip) without it."""
    assert SEED.is_file(), f"the review text is missing at {SEED}; set CLLCDS_SEED"
    return SEED

"""Every quote of the evidence base, and every table row, is found verbatim in the review."""

from __future__ import annotations

from pathlib import Path

import pytest

from cllcds import knowledge
from cllcds.evidence import QuoteCheck, ReviewText, check_quotes


@pytest.fixture(scope="module")
def checks(seed_path: Path) -> list[QuoteCheck]:
    return check_quotes(ReviewText.from_file(seed_path))


def test_every_quote_is_in_the_review(checks: list[QuoteCheck]) -> None:
    """A clinician following a citation must find the quoted words in the review."""
    missing = [c for c in checks if not c.found]
    report = "\n".join(f"  {c.where}: {c.quote!r}" for c in missing)
    assert not missing, f"{len(missing)} quote(s) not found in the review:\n{report}"


def test_every_table_row_is_checked_as_printed(checks: list[QuoteCheck]) -> None:
    """Tables 1 and 2 hold 9 and 7 rows; each row, cell by cell, is part of the check."""
    rows = [c for c in checks if c.where.startswith("table ")]
    assert len(rows) == len(knowledge.review_tables()) == 16
    assert all(c.found for c in rows), [c.where for c in rows if not c.found]


def test_every_printed_value_is_checked(checks: list[QuoteCheck]) -> None:
    """Each non-derived outcome and each population contributes its quote to the check."""
    quoted = sum(
        (0 if r.derived else 1) for st in knowledge.studies().values() for r in st.outcomes
    ) + sum(1 for st in knowledge.studies().values() if st.population.citation.quote)
    assert len(checks) == quoted + len(knowledge.review_tables())


def test_the_matcher_rejects_an_altered_number(seed_path: Path) -> None:
    """A quote with a changed number must not pass: the check would otherwise be toothless."""
    review = ReviewText.from_file(seed_path)
    assert review.contains("The overall response rate (ORR) was 33% (31/93)")
    assert not review.contains("The overall response rate (ORR) was 35% (31/93)")
    # PDF artefacts: a split ligature and a line-end hyphen both match the clean word.
    assert review.contains("refractory to fludarabine, including those")
    assert review.contains("Alemtuzumab was given at 30 mg TIW intravenously")

"""Checking the evidence base's verbatim quotes against a copy of the review.

The review's text was extracted from a PDF: words are broken across lines, ligatures split
("signifi cant", "fl udarabine") and hyphenated words split ("Alem-\\n\\ntuzumab"). A quote
matches when it occurs in the text once all white space is removed, either with line-end
hyphens kept or with them joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cllcds import knowledge
from cllcds.domain import Citation, InputError

_WS = re.compile(r"\s+")
_LINE_HYPHEN = re.compile(r"-\s*\n\s*")


def squeeze(text: str) -> str:
    """Remove all white space (the comparison form of quotes and of the review)."""
    return _WS.sub("", text)


@dataclass(frozen=True, slots=True)
class ReviewText:
    """The review's text in its two comparison forms."""

    kept: str
    joined: str

    @classmethod
    def from_text(cls, text: str) -> ReviewText:
        return cls(kept=squeeze(text), joined=squeeze(_LINE_HYPHEN.sub("", text)))

    @classmethod
    def from_file(cls, path: Path) -> ReviewText:
        try:
            return cls.from_text(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(
                "review text", str(path), f"give a readable copy of the review ({exc.strerror})"
            ) from None

    def contains(self, quote: str) -> bool:
        q = squeeze(quote)
        return bool(q) and (q in self.kept or q in self.joined)


@dataclass(frozen=True, slots=True)
class QuoteCheck:
    """One quote of the evidence base and whether the review contains it."""

    where: str
    quote: str
    found: bool


def all_citations() -> list[tuple[str, Citation]]:
    """Every quoted citation in the evidence base, with a label saying where it is used."""
    out: list[tuple[str, Citation]] = []
    for st in knowledge.studies().values():
        out.append((f"{st.id}: population", st.population.citation))
        for i, r in enumerate(st.outcomes):
            out.append((f"{st.id}: outcomes[{i}] {r.measure.value}", r.citation))
    return out


def table_row_texts() -> list[tuple[str, str]]:
    """Each table row as it would be printed in the review (cells joined by spaces)."""
    out = []
    for row in knowledge.review_tables():
        n = row.n_evaluable
        or_cr = f"{row.or_pct:g}/{row.cr_pct:g}"
        route = f" {row.route}" if row.route else ""
        out.append(
            (
                f"table {row.table} row {row.row}",
                f"{row.reference} {row.schedule} {n} {or_cr}{route}",
            )
        )
    return out


def check_quotes(review: ReviewText) -> list[QuoteCheck]:
    """Check every quote and every table row of the evidence base against the review."""
    checks = [
        QuoteCheck(where, c.quote, review.contains(c.quote))
        for where, c in all_citations()
        if c.quote
    ]
    checks += [QuoteCheck(where, text, review.contains(text)) for where, text in table_row_texts()]
    return checks

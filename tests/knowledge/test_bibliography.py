"""The bibliography holds every reference the review cites, exactly as the review cites it."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from cllcds import knowledge
from cllcds.domain import KnowledgeError
from cllcds.evidence import ReviewText
from cllcds.knowledge._evidence import _study
from cllcds.knowledge._files import data_root

# A surname: capital first (Ö, Döhner's umlaut and O’Brien's curly apostrophe included).
_NAME = r"[A-ZÀ-Þ][\w’']*"
# "Name et al 2002b", "Name and Name 2002", "Name 2001", with the year optionally in brackets:
# "(Name et al 2004)" and "Name et al (2004)" both end up as "Name et al 2004".
_CITATION = re.compile(rf"\b({_NAME})(?: (et al)\.?| and ({_NAME}))? \(?((?:19|20)\d\d[ab]?)\)?")
_LINE_HYPHEN = re.compile(r"-\s*\n\s*")
_WS = re.compile(r"\s+")


def _squeeze(text: str) -> str:
    return _WS.sub("", text)


def scan_citations(text: str) -> set[str]:
    """Every author-year citation in ``text``, normalised to "Name et al 2002b" form."""
    flat = _WS.sub(" ", _LINE_HYPHEN.sub("", text))
    out = set()
    for m in _CITATION.finditer(flat):
        first, et_al, second, year = m.groups()
        if et_al:
            out.add(f"{first} et al {year}")
        elif second:
            out.add(f"{first} and {second} {year}")
        else:
            out.add(f"{first} {year}")
    return out


@pytest.fixture(scope="module")
def seed_text(seed_path: Path) -> str:
    return seed_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def citations(seed_text: str) -> set[str]:
    return scan_citations(seed_text)


def _known_forms() -> dict[str, str]:
    """Squeezed citation form -> reference id: each entry's cited_as, plus each table row's
    reference cell (Table 1 prints "Keating et al 2002" for Keating et al 2002b)."""
    forms = {_squeeze(ref.cited_as): ref.id for ref in knowledge.bibliography().values()}
    for row in knowledge.review_tables():
        forms.setdefault(_squeeze(row.reference), knowledge.study(row.study_id).reference_id)
    return forms


def test_scan_finds_the_awkward_forms(citations: set[str]) -> None:
    """The scanner itself works: curly apostrophe, umlaut, typo, single author, "and", brackets."""
    for form in (
        "O’Brien et al 2006",
        "O’Brien et al 1994",
        "Döhner et al 1995",
        "Catowsky et al 2007",
        "Kipps 2001",
        "Stilgenbauer and Dohner 2002",
        "McCune et al 2002",  # printed "McCune et al (2002)" in the text
        "Keating et al 2002a",
        "Keating et al 2002b",
        "Rai et al 2000",  # split across lines: "(Rai \n\net al 2000)"
    ):
        assert form in citations, form
    assert len(citations) >= 55


def test_every_citation_in_the_review_is_in_the_bibliography(citations: set[str]) -> None:
    forms = _known_forms()
    unmatched = sorted(c for c in citations if _squeeze(c) not in forms)
    assert not unmatched, f"cited in the review but not in bibliography.yaml: {unmatched}"


def test_every_bibliography_entry_is_cited_in_the_review(citations: set[str]) -> None:
    """No orphan entries: each cited_as is one of the citations the scan finds."""
    scanned = {_squeeze(c) for c in citations}
    orphans = [
        ref.id for ref in knowledge.bibliography().values() if _squeeze(ref.cited_as) not in scanned
    ]
    assert not orphans


def test_cited_as_occurs_verbatim_in_the_review(seed_path: Path) -> None:
    review = ReviewText.from_file(seed_path)
    absent = [
        (ref.id, ref.cited_as)
        for ref in knowledge.bibliography().values()
        if not review.contains(ref.cited_as)
    ]
    assert not absent


def test_table_1_keating_row_resolves_to_the_pivotal_trial() -> None:
    """Table 1 prints "Keating et al 2002"; the text's 2002a and 2002b are different papers."""
    assert _known_forms()[_squeeze("Keating et al 2002")] == "keating2002b"
    assert "Table 1" in knowledge.bibliography()["keating2002b"].note


def test_ids_follow_the_convention() -> None:
    """id = first author's surname in lower-case ASCII + year (+ the review's a/b suffix)."""
    for ref in knowledge.bibliography().values():
        ascii_name = unicodedata.normalize("NFKD", ref.first_author).encode("ascii", "ignore")
        stem = re.sub(r"[^a-z]", "", ascii_name.decode().lower())
        suffix = ref.cited_as[-1] if ref.cited_as[-1] in "ab" else ""
        assert ref.id == f"{stem}{ref.year}{suffix}", ref
        assert str(ref.year) in ref.cited_as


def test_details_only_with_a_register_source() -> None:
    """Titles and journals are never invented: each one names its source-register entry."""
    for ref in knowledge.bibliography().values():
        if ref.title or ref.journal:
            assert re.fullmatch(r"[A-Z]\d+", ref.source), ref.id


def test_every_study_cites_a_bibliography_entry() -> None:
    refs = knowledge.bibliography()
    for st in knowledge.studies().values():
        assert st.reference_id in refs, st.id
        assert st.cited_as == refs[st.reference_id].cited_as


def test_loader_refuses_a_study_with_an_unknown_reference(tmp_path: Path) -> None:
    doc = yaml.safe_load((data_root() / "studies" / "mccune2002.yaml").read_text("utf-8"))
    doc["reference"] = "nobody1999"
    bad = tmp_path / "mccune2002.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="nobody1999"):
        _study(str(bad), yaml.safe_load(bad.read_text("utf-8")), knowledge.bibliography())

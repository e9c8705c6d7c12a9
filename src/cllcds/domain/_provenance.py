"""Provenance: where a fact came from."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InputError


@dataclass(frozen=True, slots=True)
class Citation:
    """A pointer to the source of a fact or a rule.

    Attributes
    ----------
    source
        Source id: a bibliography id (``keating2002b``), ``seed`` for the review itself, or an
        id of the shared reference register (``L3``, ``G4``, ...).
    locator
        Where in the source: section, table and row, paragraph.
    quote
        A short verbatim quote that carries the fact (empty when the fact is derived; then
        ``note`` says how).
    note
        How a derived value was obtained, or a caveat.
    rule_set
        Version of the rule set the citation belongs to, when it is a rule's citation.
    """

    source: str
    locator: str
    quote: str = ""
    note: str = ""
    rule_set: str = ""

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise InputError("citation.source", self.source, "give a source id such as 'seed'")
        if not self.locator.strip():
            raise InputError("citation.locator", self.locator, "say where in the source")

    def short(self) -> str:
        """One-line form: ``source, locator``."""
        return f"{self.source}, {self.locator}"

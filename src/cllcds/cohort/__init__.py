"""cllcds.cohort (see docs/design.md)."""

__all__: list[str] = []

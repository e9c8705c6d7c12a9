"""cllcds.store (see docs/design.md)."""

__all__: list[str] = []

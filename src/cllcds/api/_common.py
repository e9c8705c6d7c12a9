"""Shared request/response helpers: pagination, ETags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from cllcds.services import Page

from ._problems import ApiError

MAX_LIMIT = 200

#: No control characters (NUL cannot be stored; the rest are never part of an identifier).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Ident = Annotated[str, Path(min_length=1, max_length=128, pattern=PRINTABLE)]
QueryIdent = Annotated[str | None, Query(min_length=1, max_length=128, pattern=PRINTABLE)]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip.")]


def page_body(page: Page, limit: int, offset: int) -> dict[str, Any]:
    """A page as JSON: items, total and where the next page starts."""
    return {
        "items": page.items,
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "next_offset": page.next_offset,
    }


def etag(version: int) -> str:
    """The strong ETag of a course at ``version``."""
    return f'"{version}"'


def if_match_version(header: str | None) -> int | None:
    """The course version an ``If-Match`` header names (``None`` for ``*``); 428 when absent."""
    if header is None or not header.strip():
        raise ApiError(
            428,
            "Precondition Required",
            "writes to a course must say which version they were made against",
            field="If-Match",
            fix='send If-Match with the course ETag, e.g. If-Match: "3" (GET the course first)',
        )
    value = header.strip()
    if value == "*":
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit() or len(value) > 12:
        raise ApiError(
            412,
            "Precondition Failed",
            f"If-Match {header!r} names no version of this course",
            field="If-Match",
            fix='send the course ETag, e.g. If-Match: "3"',
        )
    return int(value)

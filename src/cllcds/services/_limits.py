"""Input limits, named once, and the one check every incoming value goes through.

Every route, the CLI and the web forms hand what a user sent to :func:`check_tree` (the API does
it for every JSON body before routing, the services again before anything is stored), so what
is stored is exactly what can be given back: no lone UTF-16 surrogate (JSON allows ``"\\ud800"``
but no UTF-8 response can carry it), no NUL (PostgreSQL cannot store it), no other control
character outside tab, line feed and carriage return, no string, key, nesting or integer beyond
the limits below. The database columns take their sizes from the same constants, and the store
checks every string against its column before a flush, so SQLite (which does not enforce
``VARCHAR(n)``) and PostgreSQL accept and refuse exactly the same values.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cllcds.domain import InputError

# ----------------------------------------------------------------------- sizes (named once)

#: A patient id, an event id, a ``supersedes`` reference, a regimen id.
ID_CHARS = 128
#: A stored course's id (32 hex characters today; room for other schemes).
COURSE_ID_CHARS = 64
USERNAME_CHARS = 64
PASSWORD_CHARS = 1024
#: A date or date-time as the course document writes it (``YYYY-MM-DDThh:mm:ss.ffffff+hh:mm``).
DATE_CHARS = 32
EVENT_TYPE_CHARS = 64
ROLE_CHARS = 16
IDEMPOTENCY_KEY_CHARS = 200
REQUEST_ID_CHARS = 64
AUDIT_ACTION_CHARS = 64
AUDIT_ENTITY_CHARS = 32
#: An audit entry's entity id: up to ``course id/event id``.
AUDIT_ENTITY_ID_CHARS = COURSE_ID_CHARS + 1 + ID_CHARS
TEAM_CHARS = 64
#: The longest string value in a JSON body (a note, a free-text field).
TEXT_CHARS = 20_000
#: The longest key of a JSON object.
KEY_CHARS = 128
#: The deepest nesting of a JSON body (a course document needs 5; a FHIR bundle about 12).
JSON_DEPTH = 64
#: The most digits of a JSON integer (beyond 15 digits not every client reads it exactly).
INT_DIGITS = 15
#: The default request body limit (``Settings.max_body_bytes``): 1 MiB.
BODY_BYTES = 1024 * 1024

# ------------------------------------------------------------------------ dates (named once)

#: Named default, no source: how far in the future an event may be dated (clock skew, a
#: result reported for tomorrow's morning draw). Beyond it the date is taken for a typo.
FUTURE_HORIZON_DAYS = 1
#: Named default, no source: how long before the course start an event may lie (baseline
#: labs, prior CMV serology).
BEFORE_START_DAYS = 366
#: Named default, no source: how long after the course start an event may lie (follow-up
#: assessments for up to five years).
AFTER_START_DAYS = 5 * 366
#: Named default, no source: a course start date earlier than this is taken for a typo
#: (alemtuzumab was first approved in 2001).
EARLIEST_START = dt.date(1990, 1, 1)
#: Named default, no source: how far ahead a course may be registered to start.
START_AHEAD_DAYS = 366

#: Tab, line feed and carriage return are text; every other C0, DEL and C1 character is not.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMES = {"\x00": "NUL", "\x7f": "DEL"}


def _shown(value: str) -> str:
    """The value as it can be shown back: forbidden characters escaped, long values cut."""
    cut = value[:80] + ("..." if len(value) > 80 else "")
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", cut)


def check_text(value: str, where: str, *, max_chars: int = TEXT_CHARS) -> str:
    """``value`` if it can be stored and given back; else :class:`InputError` naming it."""
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        ch = bad.group()
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            what = f"a lone UTF-16 surrogate (\\u{code:04x})"
            fix = "send text as valid Unicode: a surrogate must be part of a pair"
        else:
            what = f"the control character {_NAMES.get(ch, f'U+{code:04X}')}"
            fix = "remove control characters (tab, line feed and carriage return are fine)"
        raise InputError(where, _shown(value), f"{what} at position {bad.start()}: {fix}")
    if len(value) > max_chars:
        raise InputError(where, _shown(value), f"{len(value)} characters: use at most {max_chars}")
    return value


def _check_number(value: int | float, where: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) >= 10**INT_DIGITS:
            raise InputError(
                where, f"{str(value)[:20]}...", f"use an integer of at most {INT_DIGITS} digits"
            )
    elif not math.isfinite(value):
        raise InputError(where, str(value), "give a finite number")


def check_tree(value: Any, where: str = "body") -> None:
    """Check every string, key and number of a JSON-like value, and its depth (iteratively)."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, place)
        elif isinstance(item, int | float):
            _check_number(item, place)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= JSON_DEPTH:
                raise InputError(
                    place, "...", f"nested more than {JSON_DEPTH} levels deep: flatten it"
                )
            if isinstance(item, Mapping):
                for k, v in item.items():
                    key = str(k)
                    check_text(key, f"{place} key", max_chars=KEY_CHARS)
                    stack.append((v, f"{place}.{key}", depth + 1))
            else:
                for i, v in enumerate(item):
                    stack.append((v, f"{place}[{i}]", depth + 1))
        elif item is not None and not isinstance(item, bool):
            raise InputError(place, str(item)[:80], "give JSON values only")


class _RefusedError(Exception):
    def __init__(self, error: InputError) -> None:
        super().__init__(str(error))
        self.error = error


def _int(text: str) -> int:
    if len(text.lstrip("-")) > INT_DIGITS:
        raise _RefusedError(
            InputError("body", f"{text[:20]}...", f"use an integer of at most {INT_DIGITS} digits")
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _RefusedError(InputError("body", text[:40], "give a finite number"))
    return value


def _constant(text: str) -> Any:
    raise _RefusedError(
        InputError("body", text, "give a finite number (NaN and Infinity are not JSON)")
    )


def load_json(raw: bytes | str) -> Any:
    """Parse a JSON body under the limits: :class:`InputError` for what no route can take,
    :class:`ValueError` (``json.JSONDecodeError``, ``UnicodeDecodeError``) for what is not JSON."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _RefusedError as exc:
        raise exc.error from None
    except RecursionError:
        raise InputError(
            "body", "...", f"nested too deep: keep JSON within {JSON_DEPTH} levels"
        ) from None
    check_tree(value)
    return value


@dataclass(frozen=True, slots=True)
class DatePolicy:
    """Which event and start dates a write accepts (the named defaults above)."""

    today: dt.date | None = None
    future_days: int = FUTURE_HORIZON_DAYS
    before_start_days: int = BEFORE_START_DAYS
    after_start_days: int = AFTER_START_DAYS

    def day(self) -> dt.date:
        """The policy's today (the real date unless fixed)."""
        return self.today or dt.date.today()


def _as_date(raw: Any) -> dt.date | None:
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return None


def check_start_date(raw: Any, policy: DatePolicy, where: str = "start_date") -> None:
    """Refuse a course start date that is surely a typo (before 1990, over a year ahead)."""
    day = _as_date(raw)
    if day is None:
        return  # the course parser names the format
    latest = policy.day() + dt.timedelta(days=START_AHEAD_DAYS)
    if not EARLIEST_START <= day <= latest:
        raise InputError(
            where,
            raw,
            f"give a start date from {EARLIEST_START.isoformat()} to {latest.isoformat()} "
            "(is the year mistyped?)",
        )


def check_event_date(raw: Any, start: Any, policy: DatePolicy, where: str) -> None:
    """Refuse an event date beyond the future horizon or outside the course's plausible range
    (``before_start_days`` before its start to ``after_start_days`` after)."""
    day = _as_date(raw)
    if day is None:
        return  # the course parser names the format
    today = policy.day()
    latest = today + dt.timedelta(days=policy.future_days)
    if day > latest:
        raise InputError(
            where,
            raw,
            f"the date is after {latest.isoformat()} (today {today.isoformat()} plus "
            f"{policy.future_days} day(s)): record events when they happen (is the year "
            "mistyped?)",
        )
    first = _as_date(start)
    if first is None:
        return
    low = first - dt.timedelta(days=policy.before_start_days)
    high = first + dt.timedelta(days=policy.after_start_days)
    if not low <= day <= high:
        raise InputError(
            where,
            raw,
            f"the course starts on {first.isoformat()}: give a date from {low.isoformat()} to "
            f"{high.isoformat()} (is the year mistyped?)",
        )

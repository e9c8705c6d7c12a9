"""The error tree of cllcds.

Every error a user can cause is an :class:`InputError` (or a subclass): it names the field, the
value and what would be valid, so an adapter can print it in one line (CLI), or as problem+json
(API). Anything else that escapes is a bug.

::

    CllcdsError
    ├── InputError            bad value supplied by a user (field, value, fix)
    │   ├── NotFoundError     an identifier that names nothing (unknown regimen, study, ...)
    │   └── DocumentError     a document with several problems, one InputError each
    └── KnowledgeError        a shipped data file is invalid (a packaging bug, not user error)
"""

from __future__ import annotations

from typing import Any


class CllcdsError(Exception):
    """Base class of every error raised on purpose by cllcds."""


class InputError(CllcdsError, ValueError):
    """A value supplied by the user is invalid.

    Parameters
    ----------
    field
        Where the value came from, as the user would name it (``"n"``, ``"row 3: events"``,
        ``"--height-cm"``, ``"events[4].value"``).
    value
        The offending value, shown back to the user.
    fix
        What would be valid, phrased as an instruction.
    """

    def __init__(self, field: str, value: Any, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(f"{field}: {value!r} is invalid: {fix}")


class NotFoundError(InputError, LookupError):
    """An identifier that names nothing known; ``fix`` lists the valid choices."""


class KnowledgeError(CllcdsError):
    """A data file shipped with cllcds failed validation (a bug in the package data)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DocumentError(InputError):
    """A document (a course, a bundle) with one or more invalid values.

    ``problems`` holds one :class:`InputError` per problem, each naming its place in the
    document (``events[4].value``); ``str()`` gives one line per problem.
    """

    def __init__(self, what: str, problems: list[InputError]) -> None:
        self.problems = tuple(problems)
        super().__init__(what, f"{len(problems)} problem(s)", "fix the values listed")
        self.args = ("\n".join(str(p) for p in self.problems),)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

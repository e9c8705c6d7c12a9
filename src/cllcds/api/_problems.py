"""Errors as RFC 9457 problem+json: every refusal names the field and the fix."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cllcds.domain import CllcdsError, DocumentError, InputError, NotFoundError
from cllcds.services import ConflictError, DuplicateError

PROBLEM = "application/problem+json"


class ApiError(Exception):
    """An HTTP refusal raised by the API layer itself (auth, preconditions)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        field: str | None = None,
        fix: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.fix = fix
        self.headers = headers or {}


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _input_error(exc: InputError) -> dict[str, Any]:
    return {"field": exc.field, "value": _jsonable(exc.value), "fix": exc.fix}


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn errors into problem+json."""

    @app.exception_handler(ApiError)
    async def _api(_req: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.headers, field=exc.field, fix=exc.fix)

    @app.exception_handler(ConflictError)
    async def _conflict(_req: Request, exc: ConflictError) -> JSONResponse:
        # The writer's If-Match named a version that is no longer current.
        return problem(
            412,
            "Precondition Failed",
            str(exc),
            {"ETag": f'"{exc.actual}"'},
            field="If-Match",
            value=None if exc.expected is None else f'"{exc.expected}"',
            fix=f're-read the course and send If-Match: "{exc.actual}"',
            current_version=exc.actual,
        )

    @app.exception_handler(DuplicateError)
    async def _duplicate(_req: Request, exc: DuplicateError) -> JSONResponse:
        return problem(409, "Conflict", str(exc), **_input_error(exc))

    @app.exception_handler(NotFoundError)
    async def _not_found(_req: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, "Not Found", str(exc), **_input_error(exc))

    @app.exception_handler(DocumentError)
    async def _document(_req: Request, exc: DocumentError) -> JSONResponse:
        errors = [_input_error(p) for p in exc.problems]
        first = errors[0] if errors else {"field": exc.field, "value": None, "fix": exc.fix}
        return problem(422, "Unprocessable Content", str(exc), errors=errors, **first)

    @app.exception_handler(InputError)
    async def _input(_req: Request, exc: InputError) -> JSONResponse:
        return problem(422, "Unprocessable Content", str(exc), **_input_error(exc))

    @app.exception_handler(CllcdsError)
    async def _other(_req: Request, exc: CllcdsError) -> JSONResponse:
        return problem(500, "Internal Server Error", str(exc))

    @app.exception_handler(DataError)
    async def _data(_req: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold that validation let through: the client's to fix.
        return problem(
            422,
            "Unprocessable Content",
            "a value is out of range for storage",
            field="body",
            fix="shorten long texts and keep numbers within range",
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append(
                {
                    "field": ".".join(loc) or "body",
                    "value": _jsonable(err.get("input")),
                    "fix": str(err.get("msg", "invalid")),
                }
            )
        first = errors[0] if errors else {"field": "body", "value": None, "fix": "invalid"}
        detail = "; ".join(f"{e['field']}: {e['fix']}" for e in errors)
        return problem(422, "Unprocessable Content", detail, errors=errors, **first)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            dict(exc.headers or {}),
        )

"""ASGI guards around the whole app: the request body limit and check, and security headers.

:class:`BodyGuard` reads every request body before any route does: a body over the limit is
refused with 413 (from ``Content-Length`` before reading, or as soon as the count passes the
limit), and a JSON body goes through :func:`cllcds.services._limits.load_json` (nesting, huge
integers, NaN, lone surrogates, NUL and control characters, lengths) and is refused with 422
naming the place, before a route or a database sees it. Bodies that are not JSON at all are left
to the route (it names its own error). :class:`SecurityHeaders` adds the browser protections to
every response, errors included.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cllcds.domain import InputError
from cllcds.services._limits import load_json

from ._problems import problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The pages are server-rendered with our own script and styles; the API docs (/docs, /redoc)
#: load Swagger UI / ReDoc from their CDN and get a policy that allows it.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
_CSP_BYTES = CSP.encode("ascii")
_DOCS_CSP_BYTES = DOCS_CSP.encode("ascii")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
#: An oversized body is read and dropped up to this many times the limit (then: close).
DRAIN_FACTOR = 8
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # FastAPI reads a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyGuard:
    """Refuse bodies over ``max_bytes`` (413) and JSON bodies no route may take (422)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int,
                      exc: InputError, *, close: bool = False) -> None:  # fmt: skip
        title = "Content Too Large" if status == 413 else "Unprocessable Content"
        headers = {"Connection": "close"} if close else None
        response = problem(
            status,
            title,
            str(exc),
            headers,
            field=exc.field,
            value=exc.value if isinstance(exc.value, str | int | None) else str(exc.value),
            fix=exc.fix,
        )
        await response(scope, receive, send)

    async def _drain(self, receive: Receive, already: int) -> bool:
        """Read and drop the rest of an oversized body (up to a cap), so that the client gets
        the 413 and the connection can be kept; ``False`` when the cap was reached."""
        size = already
        while size <= DRAIN_FACTOR * self.max_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return False
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
        return False

    def _too_large(self, size: int | None) -> InputError:
        shown = "more" if size is None else f"{size} bytes"
        return InputError(
            "body",
            shown,
            f"the request body may be at most {self.max_bytes} bytes: send less (one course, "
            "one event or one bundle per request)",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in _BODYLESS:
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        declared = int(length) if length is not None and length.strip().isdigit() else None
        if declared is not None and declared > self.max_bytes:
            drained = await self._drain(receive, 0)
            await self._refuse(
                scope, receive, send, 413, self._too_large(declared), close=not drained
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the app see the disconnect.
                await self.app(scope, _replay(b"", receive, message), send)
                return
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > self.max_bytes:
                drained = not more or await self._drain(receive, size)
                await self._refuse(
                    scope, receive, send, 413, self._too_large(None), close=not drained
                )
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        if body and _is_json(_header(scope, b"content-type")):
            try:
                load_json(body)
            except InputError as exc:
                await self._refuse(scope, receive, send, 422, exc)
                return
            except ValueError:
                pass  # not JSON at all: the route says so in its own words
        await self.app(scope, _replay(body, receive, None), send)


def _replay(body: bytes, receive: Receive, first: Message | None) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if first is not None:
                return first
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class SecurityHeaders:
    """Content-Security-Policy, framing, referrer and sniffing protections on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        csp = _DOCS_CSP_BYTES if path.startswith(DOCS_PATHS) else _CSP_BYTES

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if bytes(k).lower() not in _SECURITY_NAMES
                ]
                headers.extend(SECURITY_HEADERS)
                headers.append((b"content-security-policy", csp))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestId:
    """Name every request: the caller's ``X-Request-ID`` (cut to ``max_chars``) or a new one,
    kept in ``request.state.request_id`` (the audit log records it) and echoed on the response,
    which also gets ``Cache-Control: no-store`` unless the route set its own.

    Plain ASGI: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) runs the app in
    a task group with memory streams, which costs more per request than the rest of this."""

    def __init__(self, app: ASGIApp, max_chars: int) -> None:
        self.app = app
        self.max_chars = max_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = (_header(scope, b"x-request-id") or "")[: self.max_chars] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        raw = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if bytes(k).lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", raw))
                if not any(bytes(k).lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)

"""Authentication (bearer tokens and session cookies with CSRF) and role checks.

A token is opaque and random; the database keeps only its SHA-256, with an expiry, so a token
can be revoked (logout, account disabled). The API takes ``Authorization: Bearer``; the web app
takes the ``cllcds_session`` cookie (HttpOnly, SameSite=Lax) and, on unsafe methods, the CSRF
token in the ``X-CSRF-Token`` header (synchronizer pattern: its hash is stored with the session).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cllcds import services as cs
from cllcds.services import Actor, Role
from cllcds.store import Store

from ._problems import ApiError

SESSION_COOKIE = "cllcds_session"
CSRF_COOKIE = "cllcds_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/token")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    username: str
    role: Role
    via: str  # "bearer" or "session"
    request_id: str = ""

    @property
    def actor(self) -> Actor:
        """The caller as the audit log names them."""
        return Actor(self.username, self.request_id)


async def get_store(request: Request) -> Store:
    """The application's store.

    ``async`` (it never blocks): FastAPI runs a plain ``def`` dependency in the thread pool,
    a thread hop per request for nothing. The same holds for the role check below."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def secure_request(request: Request) -> bool:
    """Whether cookies must be ``Secure``: always when configured, and whenever the request
    came over HTTPS (directly, or through a trusted proxy's ``X-Forwarded-Proto``)."""
    settings = getattr(request.app.state, "settings", None)
    return bool(getattr(settings, "secure_cookies", False)) or request.url.scheme == "https"


def _unauthenticated(detail: str) -> ApiError:
    return ApiError(
        401,
        "Unauthorized",
        detail,
        field="Authorization",
        fix="send Authorization: Bearer TOKEN (POST /auth/token) or log in (POST /auth/login)",
        headers={"WWW-Authenticate": 'Bearer realm="cllcds"'},
    )


def current_user(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a bearer token or a session cookie (CSRF-checked on unsafe methods)."""
    request_id = getattr(request.state, "request_id", "")
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise _unauthenticated("use the Bearer scheme")
        user = cs.resolve_token(store, credentials.credentials, "bearer")
        if user is None:
            raise _unauthenticated("the token is unknown, expired or revoked")
        return Principal(user["username"], Role(user["role"]), "bearer", request_id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = cs.resolve_token(store, cookie, "session")
        if user is None:
            raise _unauthenticated("the session has expired or was ended: log in again")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            want = user.get("csrf_hash") or ""
            if not sent or not hmac.compare_digest(cs.token_digest(sent), want):
                raise ApiError(
                    403,
                    "Forbidden",
                    "a cookie-authenticated write needs the session's CSRF token",
                    field=CSRF_HEADER,
                    fix=f"send the csrf_token from POST /auth/login in the {CSRF_HEADER} header",
                )
        return Principal(user["username"], Role(user["role"]), "session", request_id)
    raise _unauthenticated("authentication required")


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only callers with one of ``roles``."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> Principal:
        if user.role not in allowed:
            raise ApiError(
                403,
                "Forbidden",
                f"the {user.role.value} role may not do this",
                field="role",
                fix=f"ask an account with one of: {', '.join(sorted(r.value for r in allowed))}",
            )
        return user

    return check


READ_ROLES = (Role.CLINICIAN, Role.PHARMACIST, Role.VIEWER, Role.ADMIN)
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
Recorder = Annotated[Principal, Depends(require(Role.CLINICIAN))]
Auditor = Annotated[Principal, Depends(require(Role.ADMIN, Role.CLINICIAN, Role.PHARMACIST))]
Pharmacist = Annotated[Principal, Depends(require(Role.PHARMACIST))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]

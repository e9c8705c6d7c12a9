"""Log in and out, tokens, users (admin) and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cllcds import services as cs
from cllcds.services import Role

from ._auth import CSRF_COOKIE, SESSION_COOKIE, Admin, Auditor, CurrentUser, StoreDep
from ._common import Ident, Limit, Offset, QueryIdent, page_body
from ._problems import ApiError

router = APIRouter()


class Credentials(BaseModel):
    """A username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class NewUser(BaseModel):
    """An account to create."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Role


def _login(store: Any, creds: Credentials) -> dict[str, Any]:
    user = cs.authenticate(store, creds.username, creds.password)
    if user is None:
        raise ApiError(
            401,
            "Unauthorized",
            "unknown username, wrong password, or the account is disabled",
            field="password",
            fix="check the username and password",
            headers={"WWW-Authenticate": 'Bearer realm="cllcds"'},
        )
    return user


@router.post("/auth/token", tags=["auth"], summary="A bearer token for the API")
def token(creds: Credentials, store: StoreDep, request: Request) -> Any:
    user = _login(store, creds)
    tok, _csrf, expires = cs.issue_token(
        store, user["username"], "bearer", request.app.state.settings.token_ttl
    )
    return {
        "access_token": tok,
        "token_type": "bearer",
        "expires_at": expires.isoformat(),
        "role": user["role"],
    }


@router.post("/auth/login", tags=["auth"], summary="Start a web session (cookie + CSRF token)")
def login(creds: Credentials, store: StoreDep, request: Request, response: Response) -> Any:
    settings = request.app.state.settings
    user = _login(store, creds)
    tok, csrf, expires = cs.issue_token(store, user["username"], "session", settings.session_ttl)
    max_age = int(settings.session_ttl.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        tok,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    # Readable by the page's scripts (double-submit); the server checks it against its hash.
    response.set_cookie(
        CSRF_COOKIE,
        csrf or "",
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return {
        "username": user["username"],
        "role": user["role"],
        "csrf_token": csrf,
        "expires_at": expires.isoformat(),
    }


@router.post("/auth/logout", tags=["auth"], status_code=204, summary="End this session or token")
def logout(user: CurrentUser, store: StoreDep, request: Request, response: Response) -> None:
    if user.via == "session":
        cs.revoke_token(store, request.cookies.get(SESSION_COOKIE, ""))
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
    else:
        header = request.headers.get("Authorization", "")
        cs.revoke_token(store, header.partition(" ")[2].strip())


@router.get("/auth/me", tags=["auth"], summary="Who am I")
def me(user: CurrentUser) -> Any:
    return {"username": user.username, "role": user.role.value, "via": user.via}


@router.get("/users", tags=["users"], summary="List accounts (admin)")
def list_users(_user: Admin, store: StoreDep) -> Any:
    return {"items": cs.list_users(store)}


@router.post("/users", tags=["users"], status_code=201, summary="Create an account (admin)")
def add_user(body: NewUser, user: Admin, store: StoreDep) -> Any:
    return cs.add_user(store, body.username, body.password, body.role, user.actor)


@router.post("/users/{username}/disable", tags=["users"], summary="Disable an account (admin)")
def disable_user(username: Ident, user: Admin, store: StoreDep) -> Any:
    return cs.set_user_disabled(store, username, True, user.actor)


@router.post("/users/{username}/enable", tags=["users"], summary="Re-enable an account (admin)")
def enable_user(username: Ident, user: Admin, store: StoreDep) -> Any:
    return cs.set_user_disabled(store, username, False, user.actor)


@router.get("/audit", tags=["audit"], summary="The audit log: who, when, what, before, after")
def audit(
    _user: Auditor,
    store: StoreDep,
    course_id: QueryIdent = None,
    entity: QueryIdent = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    return page_body(cs.audit_log(store, course_id, entity, limit, offset), limit, offset)

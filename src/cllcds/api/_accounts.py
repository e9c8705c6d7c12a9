"""Log in and out, tokens, users (admin) and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from cllcds import services as cs
from cllcds.services import Actor, Role
from cllcds.services._limits import PASSWORD_CHARS, USERNAME_CHARS

from ._auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Auditor,
    CurrentUser,
    StoreDep,
    secure_request,
)
from ._clinical import check_course
from ._common import Ident, Limit, Offset, QueryIdent, page_body
from ._problems import ApiError

router = APIRouter()


class Credentials(BaseModel):
    """A username and password."""

    username: str = Field(min_length=1, max_length=USERNAME_CHARS)
    password: str = Field(min_length=1, max_length=PASSWORD_CHARS)


class NewUser(BaseModel):
    """An account to create."""

    username: str = Field(min_length=1, max_length=USERNAME_CHARS)
    password: str = Field(min_length=8, max_length=PASSWORD_CHARS)
    role: Role


def client_address(request: Request) -> str:
    """The caller's address (the proxy's client when ``--proxy-headers`` trusts it)."""
    return request.client.host if request.client is not None else "unknown"


async def sign_in(
    request: Request, store: Any, username: str, password: str, via: str
) -> tuple[dict[str, Any] | None, int]:
    """Check a password off the event loop, throttled per account and address, audited.

    Answers the account (or ``None``) and, when throttled, the seconds to wait (no check done).
    """
    throttle = request.app.state.throttle
    address = client_address(request)
    actor = Actor(username[:USERNAME_CHARS], getattr(request.state, "request_id", ""))
    wait = throttle.retry_after(username, address)
    if wait:
        return None, wait
    user = await request.app.state.password_checks.run(cs.authenticate, store, username, password)
    if user is None:
        locked = throttle.failed(username, address)
        detail = {"address": address, "via": via}
        await run_in_threadpool(cs.record_auth_event, store, actor, "auth.fail", username, detail)
        if locked:
            await run_in_threadpool(
                cs.record_auth_event, store, actor, "auth.throttle", username, detail
            )
        return None, 0
    throttle.succeeded(username)
    return user, 0


async def _login(request: Request, store: Any, creds: Credentials, via: str) -> dict[str, Any]:
    user, wait = await sign_in(request, store, creds.username, creds.password, via)
    if wait:
        raise ApiError(
            429,
            "Too Many Requests",
            "too many failed sign-ins for this account or from this address",
            field="username",
            fix=f"wait {wait} seconds, then try again (or ask an admin)",
            headers={"Retry-After": str(wait)},
        )
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


def _issued(
    request: Request, store: Any, user: dict[str, Any], kind: str, ttl: Any
) -> tuple[str, str | None, Any]:
    tok, csrf, expires = cs.issue_token(store, user["username"], kind, ttl)
    actor = Actor(user["username"], getattr(request.state, "request_id", ""))
    detail = {"address": client_address(request), "kind": kind, "expires_at": expires.isoformat()}
    cs.record_auth_event(store, actor, f"auth.{kind}", user["username"], detail)
    return tok, csrf, expires


@router.post("/auth/token", tags=["auth"], summary="A bearer token for the API")
async def token(creds: Credentials, store: StoreDep, request: Request) -> Any:
    user = await _login(request, store, creds, "token")
    ttl = request.app.state.settings.token_ttl
    tok, _csrf, expires = await run_in_threadpool(_issued, request, store, user, "bearer", ttl)
    return {
        "access_token": tok,
        "token_type": "bearer",
        "expires_at": expires.isoformat(),
        "role": user["role"],
    }


@router.post("/auth/login", tags=["auth"], summary="Start a web session (cookie + CSRF token)")
async def login(creds: Credentials, store: StoreDep, request: Request, response: Response) -> Any:
    settings = request.app.state.settings
    user = await _login(request, store, creds, "login")
    ttl = settings.session_ttl
    tok, csrf, expires = await run_in_threadpool(_issued, request, store, user, "session", ttl)
    secure = secure_request(request)
    max_age = int(settings.session_ttl.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        tok,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    # Readable by the page's scripts (double-submit); the server checks it against its hash.
    response.set_cookie(
        CSRF_COOKIE,
        csrf or "",
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
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
    detail = {"address": client_address(request), "kind": user.via}
    cs.record_auth_event(store, user.actor, "auth.logout", user.username, detail)
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


class TeamName(BaseModel):
    """A care team."""

    team: str = Field(min_length=1, max_length=64)


@router.get("/users/{username}/teams", tags=["users"], summary="An account's care teams (admin)")
def user_teams(username: Ident, _user: Admin, store: StoreDep) -> Any:
    store.get_user(username)  # 404 for an unknown account
    return {"username": username, "teams": store.user_teams(username)}


@router.post("/users/{username}/teams", tags=["users"], summary="Add to a care team (admin)")
def add_to_team(username: Ident, body: TeamName, user: Admin, store: StoreDep) -> Any:
    teams = cs.set_team_member(store, body.team, username, True, user.actor)
    return {"username": username, "teams": teams}


@router.delete(
    "/users/{username}/teams/{team}", tags=["users"], summary="Remove from a care team (admin)"
)
def remove_from_team(username: Ident, team: Ident, user: Admin, store: StoreDep) -> Any:
    teams = cs.set_team_member(store, team, username, False, user.actor)
    return {"username": username, "teams": teams}


@router.get("/audit", tags=["audit"], summary="The audit log: who, when, what, before, after")
def audit(
    _user: Auditor,
    store: StoreDep,
    course_id: QueryIdent = None,
    entity: QueryIdent = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    if course_id is not None:
        check_course(store, _user, course_id)
    return page_body(cs.audit_log(store, course_id, entity, limit, offset), limit, offset)

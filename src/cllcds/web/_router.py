"""The web pages: server-rendered HTML over the services, mounted by the API app.

The API's dependencies are passed in (``make_router(current_user=..., get_store=...,
require=...)``) because an adapter must not import another adapter. Pages read the same
session cookie the API's ``/auth/login`` sets and resolve it with the same service
(:func:`cllcds.services._clinical_store.resolve_token`); an unauthenticated page request is sent
to the sign-in page instead of getting a 401 document.

Forms work without JavaScript: each carries the session's CSRF token as a hidden field (a plain
form cannot send the ``X-CSRF-Token`` header the API checks), and the handler compares its hash
with the one stored with the session, as the API does with the header.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import tempfile
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cllcds import services as cs
from cllcds.domain import InputError, NotFoundError, ResponseCriteria
from cllcds.evidence import Basis, Outcome, Subset, TauMethod, Transform
from cllcds.services import (
    Actor,
    ConflictError,
    Grouping,
    PoolOptions,
    PoolRequest,
    Role,
    discrepancies,
    forest,
    make_plan,
    plan_html,
    plan_ics,
    plan_items,
    plan_pdf,
    pool_analysis,
    regimen_list,
    review_table,
    review_table_meta,
)

from . import _forms, _views

HERE = Path(__file__).resolve().parent
PREFIX = "/app"
SESSION_COOKIE = "cllcds_session"
CSRF_COOKIE = "cllcds_csrf"
#: The sign-in form's own CSRF token (double submit: this cookie and the form's hidden field).
LOGIN_CSRF_COOKIE = "cllcds_login_csrf"
SignIn = Callable[[Request, Any, str, str, str], Awaitable[tuple[dict[str, Any] | None, int]]]
READERS = (Role.CLINICIAN, Role.PHARMACIST, Role.VIEWER, Role.ADMIN)
AUDITORS = (Role.ADMIN, Role.CLINICIAN, Role.PHARMACIST)
MAX_LIST = 5000
STATE_CACHE_SIZE = 4096
VIEWS_CACHE_SIZE = 64  # timeline and charts of the most recently viewed courses
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class WebUser:
    """The signed-in user of a page, with the session's CSRF token for the forms."""

    username: str
    role: Role
    csrf: str
    csrf_hash: str

    @property
    def can_record(self) -> bool:
        """Only clinicians record events (as in the API)."""
        return self.role is Role.CLINICIAN

    @property
    def can_audit(self) -> bool:
        """Admins, clinicians and pharmacists may read the audit log."""
        return self.role in AUDITORS


def _today() -> dt.date:
    return dt.date.today()


def render(name: str, code: int = 200, **context: Any) -> HTMLResponse:
    """A template as an HTML response."""
    html = _env.get_template(name).render(prefix=PREFIX, **context)
    return HTMLResponse(html, status_code=code)


def make_router(
    *,
    current_user: Callable[..., Any],
    get_store: Callable[..., Any],
    require: Callable[..., Callable[..., Any]],
    session_cookie: str = SESSION_COOKIE,
    csrf_cookie: str = CSRF_COOKIE,
    sign_in: SignIn | None = None,
) -> APIRouter:
    """The web app's routes (pages under ``/app``; ``/`` redirects there).

    ``current_user``, ``get_store`` and ``require`` are the API's dependencies: the store, and
    for the downloads (PDF, calendar, forest plot) the API's own authentication (cookie or
    bearer) and role check. ``sign_in`` checks a password (throttled, audited, off the event
    loop); without it the password is checked in a worker thread.
    """
    router = APIRouter(include_in_schema=False)
    store_dep = Depends(get_store)
    reader = Depends(require(*READERS))
    state_cache: dict[tuple[int, str, int, str], dict[str, Any]] = {}
    forest_cache: dict[tuple[Any, ...], bytes] = {}
    cache_lock = threading.Lock()
    views_cache: dict[
        tuple[int, str, int, str], tuple[list[_views.TimelineDay], list[_views.ChartView]]
    ] = {}

    # ----------------------------------------------------------------------------- helpers

    def page_user(request: Request, store: Any) -> WebUser | None:
        token = request.cookies.get(session_cookie)
        if not token:
            return None
        user = cs.resolve_token(store, token, "session")
        if user is None:
            return None
        return WebUser(
            user["username"],
            Role(user["role"]),
            request.cookies.get(csrf_cookie, ""),
            str(user.get("csrf_hash") or ""),
        )

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urllib.parse.urlencode({"next": target})
        return RedirectResponse(f"{PREFIX}/login?{query}", status_code=303)

    def csrf_ok(user: WebUser, sent: str) -> bool:
        return bool(sent) and hmac.compare_digest(cs.token_digest(sent), user.csrf_hash)

    def forbidden(user: WebUser, detail: str) -> HTMLResponse:
        return render("error.html", 403, user=user, title="Not allowed", detail=detail)

    def outside_teams(store: Any, user: WebUser, patient_id: str) -> HTMLResponse | None:
        """A 403 page when the patient belongs to a care team the user is not in."""
        allowed, team = cs.patient_access(store, user.username, user.role, patient_id)
        if allowed:
            return None
        return forbidden(
            user,
            f"This patient belongs to care team {team}. Ask an admin to add you to the team; "
            f"in an emergency use break-the-glass (POST /patients/{patient_id}/break-glass).",
        )

    def not_found(user: WebUser, exc: InputError) -> HTMLResponse:
        return render("error.html", 404, user=user, title="Not found", detail=exc.fix)

    def state_of(store: Any, course_id: str, version: int, today: dt.date) -> dict[str, Any]:
        key = (id(store), course_id, version, today.isoformat())
        hit = state_cache.get(key)
        if hit is None:
            hit = cs.stored_course_state(store, course_id, as_of=today)
            with cache_lock:  # handlers run in a thread pool
                if len(state_cache) >= STATE_CACHE_SIZE:
                    state_cache.pop(next(iter(state_cache)), None)
                state_cache[key] = hit
        return hit

    def views_of(
        store: Any, course: Mapping[str, Any], state: Mapping[str, Any], today: dt.date
    ) -> tuple[list[_views.TimelineDay], list[_views.ChartView]]:
        key = (id(store), str(course["id"]), int(course["version"]), today.isoformat())
        hit = views_cache.get(key)
        if hit is None:
            doc = course["document"]
            hit = (_views.timeline(doc), _views.charts(doc, state, today))
            with cache_lock:
                if len(views_cache) >= VIEWS_CACHE_SIZE:
                    views_cache.pop(next(iter(views_cache)), None)
                views_cache[key] = hit
        return hit

    # ------------------------------------------------------------------------ static, root

    @router.get(f"{PREFIX}/static/{{name}}")
    def static(name: str) -> Response:
        media = STATIC_TYPES.get(Path(name).suffix)
        path = HERE / "static" / name
        if media is None or "/" in name or name.startswith(".") or not path.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            path.read_bytes(),
            media_type=media,
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @router.get(PREFIX)
    def app_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    # ----------------------------------------------------------------------------- sign in

    def secure_cookies(request: Request) -> bool:
        settings = getattr(request.app.state, "settings", None)
        configured = bool(getattr(settings, "secure_cookies", False))
        return configured or request.url.scheme == "https"

    def login_form(request: Request, code: int = 200, **context: Any) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = render("login.html", code, login_csrf=token, **context)
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path=f"{PREFIX}/login",
            secure=secure_cookies(request),
        )  # fmt: skip
        return response

    @router.get(f"{PREFIX}/login")
    def login_page(request: Request, next: str = "") -> HTMLResponse:
        return login_form(request, next=_safe_next(next), error="", username="")

    @router.post(f"{PREFIX}/login")
    async def login(request: Request, store: Any = store_dep) -> Response:
        form = await request.form()
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "")))
        sent = str(form.get("login_csrf", ""))
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not sent or not expected or not hmac.compare_digest(sent, expected):
            return login_form(
                request, 403, next=target, username=username,
                error="The sign-in form had expired or came from another site: sign in again.",
            )  # fmt: skip
        wait = 0
        user = None
        if username and password:
            if sign_in is not None:
                user, wait = await sign_in(request, store, username, password, "web")
            else:
                user = await run_in_threadpool(cs.authenticate, store, username, password)
        if wait:
            throttled = login_form(
                request, 429, next=target, username=username,
                error=f"Too many failed sign-ins: wait {wait} seconds and try again.",
            )  # fmt: skip
            throttled.headers["Retry-After"] = str(wait)
            return throttled
        if user is None:
            return login_form(
                request,
                401,
                next=target,
                username=username,
                error="Unknown username or wrong password, or the account is disabled.",
            )
        settings = getattr(request.app.state, "settings", None)
        ttl = getattr(settings, "session_ttl", dt.timedelta(hours=8))
        secure = secure_cookies(request)
        token, csrf, expires = await run_in_threadpool(
            cs.issue_token, store, user["username"], "session", ttl
        )
        actor = Actor(user["username"], getattr(request.state, "request_id", ""))
        detail = {"kind": "session", "via": "web", "expires_at": expires.isoformat()}
        await run_in_threadpool(
            cs.record_auth_event, store, actor, "auth.session", user["username"], detail
        )
        response = RedirectResponse(target or f"{PREFIX}/", status_code=303)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
        max_age = int(ttl.total_seconds())
        response.set_cookie(
            session_cookie, token, max_age=max_age, httponly=True, samesite="lax",
            secure=secure, path="/",
        )  # fmt: skip
        response.set_cookie(
            csrf_cookie, csrf or "", max_age=max_age, httponly=False, samesite="lax",
            secure=secure, path="/",
        )  # fmt: skip
        return response

    @router.post(f"{PREFIX}/logout")
    async def logout(request: Request, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        form = await request.form()
        if user is not None and csrf_ok(user, str(form.get("csrf_token", ""))):
            await run_in_threadpool(cs.revoke_token, store, request.cookies.get(session_cookie, ""))
            actor = Actor(user.username, getattr(request.state, "request_id", ""))
            await run_in_threadpool(
                cs.record_auth_event, store, actor, "auth.logout", user.username,
                {"kind": "session", "via": "web"},
            )  # fmt: skip
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(session_cookie, path="/")
        response.delete_cookie(csrf_cookie, path="/")
        return response

    # ------------------------------------------------------------------------ patient list

    @router.get(f"{PREFIX}/")
    def patients(
        request: Request, q: str = "", status: str = "", store: Any = store_dep
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        rows = patient_rows(store, _today(), cs.visible_teams(store, user.username, user.role))
        needle = q.strip().lower()
        shown = [
            r
            for r in rows
            if (not needle or needle in r["search"])
            and (not status or status in {b[1] for b in r["badges"]})
        ]
        return render(
            "patients.html",
            user=user,
            rows=shown,
            total=len(rows),
            q=q,
            status_filter=status,
            today=_today(),
            due_count=sum(1 for r in rows if r["due"]),
        )

    def patient_rows(
        store: Any, today: dt.date, teams: list[str] | None = None
    ) -> list[dict[str, Any]]:
        courses = cs.list_courses(store, limit=MAX_LIST, teams=teams).items
        listed = cs.list_patients(store, limit=MAX_LIST, teams=teams).items
        people = {p["id"]: p["patient"] for p in listed}
        rows = []
        for c in courses:
            try:
                state = state_of(store, c["id"], c["version"], today)
            except InputError as exc:  # a stored course the rules cannot read: say so
                state = {"status": "cannot_assess", "alerts": [], "error": str(exc)}
            patient = people.get(c["patient_id"], {})
            start = dt.date.fromisoformat(str(c["start_date"])[:10])
            rows.append(
                {
                    "course_id": c["id"],
                    "patient_id": c["patient_id"],
                    "patient": patient,
                    "age": _age(patient.get("birth_date"), today),
                    "regimen": c["regimen"],
                    "start": start,
                    "day": (today - start).days + 1,
                    "badges": _views.badges(state),
                    "due": _views.due_today(state, today),
                    "alerts": state.get("alerts") or [],
                    "search": " ".join(
                        [c["patient_id"], c["regimen"], str(state.get("status"))]
                    ).lower(),
                }
            )
        rows.sort(key=lambda r: (not r["due"], r["patient_id"]))
        return rows

    # -------------------------------------------------------------------------- course page

    def course_page(
        user: WebUser,
        store: Any,
        course_id: str,
        *,
        criteria: str = "",
        open_form: str = "",
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
        flash: str = "",
    ) -> HTMLResponse:
        today = _today()
        try:
            course = cs.get_course(store, course_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        refused = outside_teams(store, user, course["patient_id"])
        if refused is not None:
            return refused
        doc = course["document"]
        try:
            state = state_of(store, course_id, course["version"], today)
        except InputError as exc:
            detail = (
                f"This course cannot be assessed: {exc}. Record a correction that supersedes "
                "the event in question (POST /courses/{id}/events with supersedes)."
            )
            return render("error.html", 422, user=user, title="Cannot assess", detail=detail)
        chosen = criteria or str((state.get("rule_sets") or {}).get("response", "iwcll-2018"))
        response = state.get("response") or {}
        if criteria:
            try:
                response = cs.stored_course_response(store, course_id, ResponseCriteria(criteria))
            except (ValueError, InputError):
                response = {"category": "not_evaluable", "criteria": criteria}
        views = views_of(store, course, state, today)
        decisions = state.get("decisions") or []
        alerts = [(a, _views.decision_for(a, decisions)) for a in state.get("alerts") or []]
        actions = [(a, _views.decision_for(a, decisions)) for a in state.get("next_actions") or []]
        return render(
            "course.html",
            status,
            user=user,
            course=course,
            doc=doc,
            patient=doc.get("patient") or {},
            state=state,
            badges=_views.badges(state),
            alerts=alerts,
            actions=actions,
            timeline=views[0],
            charts=views[1],
            forms=_forms.FORMS,
            open_form=open_form,
            values=values or {},
            errors=errors or {},
            nonce=secrets.token_urlsafe(12),
            today=today,
            criteria=[c.value for c in ResponseCriteria],
            chosen_criteria=chosen,
            response=response,
            flash=flash,
        )

    @router.get(f"{PREFIX}/courses/{{course_id}}")
    def course_view(
        request: Request,
        course_id: str,
        criteria: str = "",
        recorded: str = "",
        store: Any = store_dep,
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        flash = ""
        if recorded in _forms.FORMS_BY_KIND:
            flash = f"{_forms.FORMS_BY_KIND[recorded].title} recorded."
        return course_page(user, store, course_id, criteria=criteria, flash=flash)

    @router.post(f"{PREFIX}/courses/{{course_id}}/record/{{kind}}")
    async def record(
        request: Request, course_id: str, kind: str, store: Any = store_dep
    ) -> Response:
        form = await request.form()
        # Validation and the course replay are CPU work: off the event loop.
        return await run_in_threadpool(record_form, request, course_id, kind, store, form)

    def record_form(
        request: Request, course_id: str, kind: str, store: Any, form: Mapping[str, Any]
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not csrf_ok(user, str(form.get("csrf_token", ""))):
            return forbidden(
                user, "The form's security token is missing or stale: reload the page."
            )
        if not user.can_record:
            return forbidden(user, f"The {user.role.value} role may not record events.")
        if kind not in _forms.FORMS_BY_KIND:
            return not_found(user, NotFoundError("form", kind, "use one of the course's forms"))
        values = {k: str(v) for k, v in form.items() if k not in {"csrf_token"}}
        try:
            course = cs.get_course(store, course_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        refused = outside_teams(store, user, course["patient_id"])
        if refused is not None:
            return refused
        parsed = _forms.parse(kind, values)
        if values.get("version", "") != str(course["version"]):
            # Optimistic concurrency: the form was made from an older version of the course
            # (someone recorded meanwhile, or this is a second click). Nothing is stored.
            parsed.errors.setdefault(
                "",
                "The course changed since this page was opened (another entry was recorded). "
                "Your values are kept: check the timeline and record again.",
            )
            values["version"] = str(course["version"])
            values["nonce"] = secrets.token_urlsafe(12)
        elif not parsed.errors:
            _forms.validate(course["document"], parsed)
        if parsed.errors:
            return course_page(
                user, store, course_id, open_form=kind, values=values, errors=parsed.errors,
                status=422,
            )  # fmt: skip
        version: int | None = course["version"]
        nonce = values.get("nonce", "")[:60] or secrets.token_urlsafe(12)
        actor = Actor(user.username, getattr(request.state, "request_id", ""))
        try:
            # A panel of labs is one write: all of its events are stored, or none.
            cs.append_events(
                store,
                course_id,
                parsed.events,
                expected_version=version,
                idempotency_key=f"web-{nonce}",
                actor=actor,
            )
        except ConflictError:
            values["version"] = str(cs.get_course(store, course_id)["version"])
            errors = {"": "Another entry was recorded at the same moment: check and record again."}
            return course_page(
                user, store, course_id, open_form=kind, values=values, errors=errors, status=409
            )
        except InputError as exc:
            return course_page(
                user, store, course_id, open_form=kind, values=values,
                errors={"": str(exc)}, status=422,
            )  # fmt: skip
        return RedirectResponse(
            f"{PREFIX}/courses/{course_id}?recorded={kind}#alerts", status_code=303
        )

    # ----------------------------------------------------------------------- patient record

    @router.get(f"{PREFIX}/patients/{{patient_id}}")
    def patient_view(request: Request, patient_id: str, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        try:
            patient = cs.get_patient(store, patient_id)
            courses = cs.list_courses(store, patient_id, limit=MAX_LIST).items
        except NotFoundError as exc:
            return not_found(user, exc)
        refused = outside_teams(store, user, patient_id)
        if refused is not None:
            return refused
        today = _today()
        rows = [(c, state_of(store, c["id"], c["version"], today)) for c in courses]
        return render(
            "patient.html", user=user, patient=patient["patient"], pid=patient_id, courses=rows,
            badges=_views.badges,
        )  # fmt: skip

    # ------------------------------------------------------------------------------- audit

    @router.get(f"{PREFIX}/audit")
    def audit(
        request: Request, course_id: str = "", offset: int = 0, store: Any = store_dep
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not user.can_audit:
            return forbidden(user, f"The {user.role.value} role may not read the audit log.")
        try:
            page = cs.audit_log(store, course_id or None, None, 100, max(offset, 0))
        except NotFoundError as exc:
            return not_found(user, exc)
        return render("audit.html", user=user, page=page, course_id=course_id, offset=offset)

    @router.get(f"{PREFIX}/users")
    def users(request: Request, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if user.role is not Role.ADMIN:
            return forbidden(user, "Only an admin may manage accounts.")
        return render("users.html", user=user, users=cs.list_users(store))

    # -------------------------------------------------------------------------------- plan

    plan_fields = ("regimen", "height_cm", "weight_kg", "start", "patient_id")

    def plan_from(values: Mapping[str, str]) -> Any:
        return make_plan(
            values.get("regimen", ""),
            values.get("start", ""),
            values.get("height_cm", ""),
            values.get("weight_kg", ""),
            patient_id=values.get("patient_id", ""),
        )

    @router.get(f"{PREFIX}/plan")
    def plan_page(request: Request, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        values = {k: request.query_params.get(k, "") for k in plan_fields}
        errors: dict[str, str] = {}
        items: list[Any] = []
        plan = None
        if values["regimen"]:
            try:
                plan = plan_from(values)
                items = list(plan_items(plan))
            except InputError as exc:
                name = exc.field.lstrip("-").replace("-", "_")
                errors[name if name in plan_fields else ""] = f"{exc.value}: {exc.fix}"
        else:
            values.update(
                regimen="alemtuzumab-iv-label",
                start=(_today() + dt.timedelta(days=7)).isoformat(),
            )
        query = urllib.parse.urlencode({k: v for k, v in values.items() if v})
        return render(
            "plan.html",
            code=422 if errors else 200,
            user=user,
            values=values,
            errors=errors,
            regimens=regimen_list(),
            plan=plan,
            items=items,
            query=query,
        )

    def plan_download(request: Request) -> Any:
        values = {k: request.query_params.get(k, "") for k in plan_fields}
        return plan_from(values)

    @router.get(f"{PREFIX}/plan.pdf", dependencies=[reader])
    def plan_pdf_download(request: Request) -> Response:
        try:
            body = plan_pdf(plan_download(request))
        except InputError as exc:
            return Response(str(exc), status_code=422, media_type="text/plain")
        return Response(
            body,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="cllcds-plan.pdf"'},
        )

    @router.get(f"{PREFIX}/plan.ics", dependencies=[reader])
    def plan_ics_download(request: Request) -> Response:
        try:
            body = plan_ics(plan_download(request))
        except InputError as exc:
            return Response(str(exc), status_code=422, media_type="text/plain")
        return Response(
            body,
            media_type="text/calendar",
            headers={"Content-Disposition": 'attachment; filename="cllcds-plan.ics"'},
        )

    @router.get(f"{PREFIX}/plan/sheet", dependencies=[reader])
    def plan_sheet(request: Request) -> Response:
        try:
            return HTMLResponse(plan_html(plan_download(request)))
        except InputError as exc:
            return Response(str(exc), status_code=422, media_type="text/plain")

    # ---------------------------------------------------------------------------- evidence

    def pool_choices(params: Mapping[str, str]) -> tuple[PoolRequest, PoolOptions, dict[str, str]]:
        chosen = {
            "outcome": params.get("outcome", Outcome.ORR.value),
            "subset": params.get("subset", Subset.MONOTHERAPY.value),
            "basis": params.get("basis", Basis.TEXT.value),
            "transform": params.get("transform", Transform.LOGIT.value),
            "method": params.get("method", TauMethod.REML.value),
            "by": params.get("by", ""),
        }
        try:
            req = PoolRequest(
                outcome=Outcome(chosen["outcome"]),
                subset=Subset(chosen["subset"]),
                basis=Basis(chosen["basis"]),
                by=Grouping(chosen["by"]) if chosen["by"] else None,
            )
            opts = PoolOptions(
                transform=Transform(chosen["transform"]), method=TauMethod(chosen["method"])
            )
        except ValueError as exc:
            raise InputError("analysis", str(exc), "choose from the lists") from None
        return req, opts, chosen

    @router.get(f"{PREFIX}/evidence")
    def evidence(
        request: Request,
        table: int = 1,
        view: str = "printed",
        route: str = "",
        store: Any = store_dep,
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        table = table if table in (1, 2) else 1
        rows = review_table(table, recomputed=view == "recomputed")
        if route:
            rows = [r for r in rows if str(r.get("route", "")).lower() == route]
        params = dict(request.query_params)
        pooled = None
        pool_error = ""
        req, opts, chosen = pool_choices({})
        if params.get("run"):
            try:
                req, opts, chosen = pool_choices(params)
                pooled = pool_analysis(req, opts)
            except InputError as exc:
                pool_error = str(exc)
        forest_query = urllib.parse.urlencode({k: v for k, v in chosen.items() if v})
        return render(
            "evidence.html",
            user=user,
            table=table,
            view=view,
            route=route,
            rows=rows,
            meta=review_table_meta(table),
            contradictions=discrepancies(),
            pooled=pooled,
            pool_error=pool_error,
            chosen=chosen,
            forest_query=forest_query,
            choices={
                "outcome": [o.value for o in Outcome],
                "subset": [s.value for s in Subset],
                "basis": [b.value for b in Basis],
                "transform": [t.value for t in Transform],
                "method": [m.value for m in TauMethod],
                "by": ["", *(g.value for g in Grouping)],
            },
        )

    @router.get(f"{PREFIX}/evidence/forest.svg", dependencies=[reader])
    def forest_svg(request: Request) -> Response:
        try:
            req, opts, chosen = pool_choices(dict(request.query_params))
        except InputError as exc:
            return Response(str(exc), status_code=422, media_type="text/plain")
        key = tuple(sorted(chosen.items()))
        body = forest_cache.get(key)
        if body is None:
            with tempfile.TemporaryDirectory() as tmp:
                path = forest(req, opts, Path(tmp) / "forest.svg", title="")
                body = path.read_bytes()
            forest_cache[key] = body
        return Response(body, media_type="image/svg+xml")

    return router


def _safe_next(target: str) -> str:
    """Only a local path under the app (no open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


def _age(birth: Any, today: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(str(birth)[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

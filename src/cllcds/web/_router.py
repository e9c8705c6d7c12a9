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
    plan_document,
    plan_html,
    plan_ics,
    plan_items,
    plan_pdf,
    pool_analysis,
    regimen_list,
    review_table,
    review_table_meta,
)

from . import _forms, _patient_form, _views

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
AUDIT_SCAN = 5000
PLAN_INPUTS = ("regimen", "start", "height_cm", "weight_kg")
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
    # Compile the templates now, not on the first request after a (re)start.
    for template in sorted((HERE / "templates").glob("*.html")):
        _env.get_template(template.name)
    store_dep = Depends(get_store)
    reader = Depends(require(*READERS))
    state_cache: dict[tuple[int, str, int, str], dict[str, Any]] = {}
    forest_cache: dict[tuple[Any, ...], bytes] = {}
    cache_lock = threading.Lock()
    views_cache: dict[
        tuple[int, str, int, str],
        tuple[list[_views.TimelineDay], list[_views.ChartView], list[_views.LabRow]],
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
        """A 403 page when the patient belongs to a care team the user is not in (a 404 page for
        an unknown patient); ``None`` when the user may see and work on the patient."""
        try:
            allowed, team = cs.patient_access(store, user.username, user.role, patient_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        if allowed:
            return None
        return forbidden(
            user,
            f"This patient belongs to care team {team}. Ask an admin to add you to the team; "
            f"in an emergency use break-the-glass (POST /patients/{patient_id}/break-glass).",
        )

    def not_found(user: WebUser, exc: InputError) -> HTMLResponse:
        return render("error.html", 404, user=user, title="Not found", detail=exc.fix)

    def team_course(store: Any, user: WebUser, course_id: str) -> dict[str, Any] | HTMLResponse:
        """The stored course, or the page that refuses it: unknown, or its patient outside the
        user's care teams. Every page and form of a course goes through here."""
        try:
            course: dict[str, Any] = cs.get_course(store, course_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        return outside_teams(store, user, course["patient_id"]) or course

    def team_entry(
        store: Any, user: WebUser, course_id: str, event_id: str, verb: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | HTMLResponse:
        """The stored course and one of its entries (``verb``: what the page does with it), or
        the page that refuses them (:func:`team_course`, or no such entry)."""
        course = team_course(store, user, course_id)
        if isinstance(course, HTMLResponse):
            return course
        original = find_event(course["document"], event_id)
        if original is None:
            return not_found(user, NotFoundError("event", event_id, f"choose an entry to {verb}"))
        return course, original

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
    ) -> tuple[list[_views.TimelineDay], list[_views.ChartView], list[_views.LabRow]]:
        key = (id(store), str(course["id"]), int(course["version"]), today.isoformat())
        hit = views_cache.get(key)
        if hit is None:
            doc = course["document"]
            audit = cs.audit_log(store, str(course["id"]), None, AUDIT_SCAN, 0).items
            notes = _views.audit_notes(audit)
            graded = cs.lab_grades(doc)
            hit = (
                _views.timeline(doc, notes=notes),
                _views.charts(doc, state, today, graded),
                _views.lab_rows(doc, state, graded),
            )
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
        request: Request, q: str = "", status: str = "", due: str = "", store: Any = store_dep
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        rows = patient_rows(store, _today(), cs.visible_teams(store, user.username, user.role))
        needles = q.strip().lower().split()
        shown = [
            r
            for r in rows
            if all(n in r["search"] for n in needles)
            and (not status or status in {b[1] for b in r["badges"]})
            and (not due or r["due"] or r["overdue"])
        ]
        return render(
            "patients.html",
            user=user,
            rows=shown,
            total=len(rows),
            q=q,
            status_filter=status,
            due_filter=due,
            today=_today(),
            due_count=sum(1 for r in rows if r["due"] or r["overdue"]),
        )

    def patient_rows(
        store: Any, today: dt.date, teams: list[str] | None = None
    ) -> list[dict[str, Any]]:
        courses = cs.list_courses(store, limit=MAX_LIST, teams=teams).items
        listed = cs.list_patients(store, limit=MAX_LIST, teams=teams).items
        people = {p["id"]: p["patient"] for p in listed}
        # Each course's summary as stored with its version for today (no replay); a course
        # written before today, or by another engine, is assessed now and its summary kept.
        summaries = cs.course_summaries(store, courses, today, teams)
        rows = []
        with_course = set()
        for c in courses:
            with_course.add(c["patient_id"])
            found = summaries[str(c["id"])]
            state: Mapping[str, Any]
            if isinstance(found, InputError):  # a stored course the rules cannot read: say so
                state = {"status": "cannot_assess", "alerts": [], "error": str(found)}
            else:
                state = found
            patient = people.get(c["patient_id"], {})
            start = dt.date.fromisoformat(str(c["start_date"])[:10])
            rows.append(row_of(c["patient_id"], patient, today, c, state, start))
        for pid, patient in people.items():
            if pid not in with_course:
                rows.append(row_of(pid, patient, today, None, {"status": "registered"}, None))
        rows.sort(key=lambda r: (not (r["due"] or r["overdue"]), r["patient_id"]))
        return rows

    def row_of(
        pid: str,
        patient: Mapping[str, Any],
        today: dt.date,
        course: Mapping[str, Any] | None,
        state: Mapping[str, Any],
        start: dt.date | None,
    ) -> dict[str, Any]:
        badges = _views.badges(state)
        due = _views.due_today(state, today) if course else []
        overdue = _views.overdue(state, today) if course else []
        words = [
            pid,
            str(patient.get("name", "")),
            str(patient.get("birth_date", ""))[:4],
            course["regimen"] if course else "",
            str(state.get("status")),
            *(b[0] for b in badges),
            *due,
            *overdue,
        ]
        return {
            "course_id": course["id"] if course else None,
            "patient_id": pid,
            "patient": patient,
            "age": _age(patient.get("birth_date"), today),
            "regimen": course["regimen"] if course else "",
            "start": start,
            "day": (today - start).days + 1 if start else None,
            "badges": badges,
            "due": due,
            "overdue": overdue,
            "alerts": state.get("alerts") or [],
            "search": " ".join(words).lower(),
        }

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
        flash_error: str = "",
        verdict: Any = None,
    ) -> HTMLResponse:
        today = _today()
        course = team_course(store, user, course_id)
        if isinstance(course, HTMLResponse):
            return course
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
        alerts = [(a, _views.decision_for(a, decisions)) for a in _views.group_alerts(state)]
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
            flash_error=flash_error,
            verdict=verdict,
            groups=_forms.grouped(),
            labs=views[2],
            overdue=_views.overdue(state, today),
            plan=cs.course_plan(store, course_id),
            tz_note=_views.local_zone(),
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
        elif recorded in {"correction", "retraction", "course"}:
            flash = {
                "correction": "Correction recorded; the corrected entry stays in the timeline.",
                "retraction": "Entry retracted; it stays in the timeline, struck through.",
                "course": "Course started from the verified plan.",
            }[recorded]
        return course_page(user, store, course_id, criteria=criteria, flash=flash)

    async def posted(
        request: Request, store: Any, *roles: Role
    ) -> tuple[WebUser, dict[str, str]] | Response:
        """The signed-in user and the form's values of a POST, or the page that refuses it."""
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        form = await request.form()
        if not csrf_ok(user, str(form.get("csrf_token", ""))):
            return forbidden(
                user, "The form's security token is missing or stale: reload the page."
            )
        if roles and user.role not in roles:
            return forbidden(user, f"The {user.role.value} role may not do this.")
        return user, {k: str(v) for k, v in form.items() if k != "csrf_token"}

    def actor_of(request: Request, user: WebUser) -> Actor:
        return Actor(user.username, getattr(request.state, "request_id", ""))

    def safety(
        doc: Mapping[str, Any], kind: str, parsed: _forms.Parsed, values: dict[str, str]
    ) -> tuple[cs.Verdict | None, dict[str, Any] | None]:
        """The safety check of an entry before it is saved: ``(verdict, None)`` when it must be
        shown (not yet overridden, or the override is incomplete), ``(None, audit)`` when the
        entry may be saved (``audit`` holds the override, if any)."""
        form = _forms.FORMS_BY_KIND[kind]
        verdict = cs.judge_events(doc, parsed.events, _today(), orders=form.order)
        if not verdict.blocking:
            return None, None
        codes = {f.code for f in verdict.findings}
        shown = set(filter(None, values.get("override_codes", "").split(",")))
        if values.get("override") and codes <= shown:
            reason = values.get("override_reason", "").strip()
            if reason:
                return None, {"override": {"reason": reason, "findings": verdict.as_audit()}}
            parsed.errors["override_reason"] = "give the reason for overriding the check"
        values["override_codes"] = ",".join(sorted(codes))
        return verdict, None

    @router.post(f"{PREFIX}/courses/{{course_id}}/record/{{kind}}")
    async def record(
        request: Request, course_id: str, kind: str, store: Any = store_dep
    ) -> Response:
        got = await posted(request, store)
        if isinstance(got, Response):
            return got
        user, values = got
        # Validation, the safety check and the course replay are CPU work: off the event loop.
        return await run_in_threadpool(
            record_checked, request, course_id, kind, store, user, values
        )

    def record_checked(
        request: Request,
        course_id: str,
        kind: str,
        store: Any,
        user: WebUser,
        values: dict[str, str],
    ) -> Response:
        if not user.can_record:
            return forbidden(user, f"The {user.role.value} role may not record events.")
        if kind not in _forms.FORMS_BY_KIND:
            return not_found(user, NotFoundError("form", kind, "use one of the course's forms"))
        course = team_course(store, user, course_id)
        if isinstance(course, HTMLResponse):
            return course
        parsed = _forms.parse(kind, values)
        stale = values.get("version", "") != str(course["version"])
        if stale:
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
            _forms.validate(course["document"], parsed, kind)
        verdict, audit = (None, None)
        if not parsed.errors:
            verdict, audit = safety(course["document"], kind, parsed, values)
        if parsed.errors or verdict is not None:
            code = 409 if verdict is not None and not parsed.errors else 422
            return course_page(
                user, store, course_id, open_form=kind, values=values, errors=parsed.errors,
                status=code, verdict=verdict,
            )  # fmt: skip
        version: int | None = course["version"]
        nonce = values.get("nonce", "")[:60] or secrets.token_urlsafe(12)
        try:
            # A panel of labs is one write: all of its events are stored, or none.
            cs.append_events(
                store,
                course_id,
                parsed.events,
                expected_version=version,
                idempotency_key=f"web-{nonce}",
                actor=actor_of(request, user),
                audit_extra=audit,
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

    # -------------------------------------------------------------- correct or retract entries

    def find_event(doc: Mapping[str, Any], event_id: str) -> dict[str, Any] | None:
        return next(
            (dict(e) for e in doc.get("events") or [] if str(e.get("id")) == event_id), None
        )

    def correct_page(
        user: WebUser,
        course: Mapping[str, Any],
        original: Mapping[str, Any],
        kind: str,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        status: int = 200,
        verdict: Any = None,
    ) -> HTMLResponse:
        doc = course["document"]
        return render(
            "correct.html",
            status,
            user=user,
            course=course,
            patient=doc.get("patient") or {},
            original=original,
            original_text=_views.event_text(original),
            form=_forms.FORMS_BY_KIND[kind],
            values=values,
            errors=errors,
            open_form=kind,
            verdict=verdict,
            today=_today(),
        )

    @router.get(f"{PREFIX}/courses/{{course_id}}/events/{{event_id}}/correct")
    def correct_form(
        request: Request, course_id: str, event_id: str, store: Any = store_dep
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not user.can_record:
            return forbidden(user, f"The {user.role.value} role may not record events.")
        entry = team_entry(store, user, course_id, event_id, "correct")
        if isinstance(entry, HTMLResponse):
            return entry
        course, original = entry
        kind, values = _forms.values_of(original)
        values["version"] = str(course["version"])
        values["nonce"] = secrets.token_urlsafe(12)
        return correct_page(user, course, original, kind, values, {})

    @router.post(f"{PREFIX}/courses/{{course_id}}/events/{{event_id}}/correct")
    async def correct(
        request: Request, course_id: str, event_id: str, store: Any = store_dep
    ) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        entry = team_entry(store, user, course_id, event_id, "correct")
        if isinstance(entry, HTMLResponse):
            return entry
        course, original = entry
        kind = values.get("kind", "")
        if kind not in _forms.FORMS_BY_KIND:
            return not_found(user, NotFoundError("event", event_id, "choose an entry to correct"))
        parsed = _forms.parse(kind, values)
        reason = values.get("reason_for_change", "").strip()
        if not reason:
            parsed.errors["reason_for_change"] = "say why the entry is corrected"
        if not parsed.errors and len(parsed.events) != 1:
            parsed.errors[""] = "a correction replaces one entry: give exactly one result"
        if values.get("version", "") != str(course["version"]):
            parsed.errors.setdefault("", "The course changed since this page was opened.")
            values["version"] = str(course["version"])
        if not parsed.errors:
            parsed.events[0]["supersedes"] = event_id
            _forms.validate(course["document"], parsed, kind)
        verdict, audit = (None, None)
        if not parsed.errors:
            verdict, audit = safety(course["document"], kind, parsed, values)
        if parsed.errors or verdict is not None:
            code = 409 if verdict is not None and not parsed.errors else 422
            return correct_page(user, course, original, kind, values, parsed.errors, code, verdict)
        extra = {"reason": reason, **(audit or {})}
        try:
            cs.append_event(
                store, course_id, parsed.events[0], expected_version=course["version"],
                idempotency_key=f"web-{values.get('nonce', '')[:60]}-c",
                actor=actor_of(request, user),
                audit_extra=extra,
            )  # fmt: skip
        except (ConflictError, InputError) as exc:
            return correct_page(user, course, original, kind, values, {"": str(exc)}, 409, None)
        return RedirectResponse(
            f"{PREFIX}/courses/{course_id}?recorded=correction#timeline", status_code=303
        )

    @router.post(f"{PREFIX}/courses/{{course_id}}/events/{{event_id}}/retract")
    async def retract(
        request: Request, course_id: str, event_id: str, store: Any = store_dep
    ) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        entry = team_entry(store, user, course_id, event_id, "retract")
        if isinstance(entry, HTMLResponse):
            return entry
        _course, original = entry
        reason = values.get("reason_for_change", "").strip()
        if not reason:
            return course_page(
                user, store, course_id, status=422,
                flash_error=f"Not retracted: say why entry {event_id} is retracted.",
            )  # fmt: skip
        note = {
            "date": _today().isoformat(),
            "type": "note",
            "text": f"Retracted {event_id} ({original.get('type')}): {reason}",
            "supersedes": event_id,
        }
        try:
            cs.append_event(
                store, course_id, note, expected_version=None, idempotency_key=None,
                actor=actor_of(request, user), audit_extra={"reason": reason, "retracted": True},
            )  # fmt: skip
        except InputError as exc:
            return course_page(user, store, course_id, status=422, flash_error=str(exc))
        return RedirectResponse(
            f"{PREFIX}/courses/{course_id}?recorded=retraction#timeline", status_code=303
        )

    # ----------------------------------------------------------------------- course summary

    @router.get(f"{PREFIX}/courses/{{course_id}}/summary")
    def course_summary(request: Request, course_id: str, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        today = _today()
        course = team_course(store, user, course_id)
        if isinstance(course, HTMLResponse):
            return course
        try:
            state = state_of(store, course_id, course["version"], today)
        except InputError as exc:
            return not_found(user, exc)
        doc = course["document"]
        return render(
            "summary.html",
            user=user,
            course=course,
            doc=doc,
            patient=doc.get("patient") or {},
            state=state,
            badges=_views.badges(state),
            labs=_views.lab_rows(doc, state),
            overdue=_views.overdue(state, today),
            plan=cs.course_plan(store, course_id),
            today=today,
            printed_at=_views.local_now(),
        )

    # ----------------------------------------------------------------------- patient record

    def record_form(
        user: WebUser,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        *,
        editing: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        return render(
            "patient_form.html",
            status,
            user=user,
            values=values,
            errors=errors,
            editing=editing,
            pf=_patient_form,
        )

    @router.get(f"{PREFIX}/patients/new")
    def register_form(request: Request, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not user.can_record:
            return forbidden(user, "Only a clinician registers patients.")
        return record_form(user, {"diagnosis": "B-CLL"}, {})

    @router.post(f"{PREFIX}/patients/new")
    async def register(request: Request, store: Any = store_dep) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        patient, errors = _patient_form.parse_patient(values)
        if not errors:
            try:
                cs.create_patient(store, patient, actor_of(request, user))
            except InputError as exc:
                errors = _patient_form.place_errors(exc)
                if isinstance(exc, cs.DuplicateError):
                    errors = {"id": f"{exc.value}: {exc.fix}"}
        if errors:
            return record_form(user, values, errors, status=422)
        pid = urllib.parse.quote(str(patient["id"]), safe="")
        return RedirectResponse(f"{PREFIX}/patients/{pid}?done=registered", status_code=303)

    def patient_page(
        user: WebUser,
        store: Any,
        patient_id: str,
        *,
        plan_values: Mapping[str, str] | None = None,
        plan_errors: Mapping[str, str] | None = None,
        status: int = 200,
        flash: str = "",
    ) -> HTMLResponse:
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
        record = patient["patient"]
        defaults = {
            "regimen": "alemtuzumab-iv-label",
            "start": (today + dt.timedelta(days=7)).isoformat(),
            "height_cm": str(record.get("height_cm", "")),
            "weight_kg": str(record.get("weight_kg", "")),
        }
        return render(
            "patient.html",
            status,
            user=user,
            patient=record,
            pid=patient_id,
            courses=rows,
            badges=_views.badges,
            plans=cs.patient_plans(store, patient_id),
            history=cs.patient_history(store, patient_id),
            regimens=regimen_list(),
            plan_values=plan_values or defaults,
            plan_errors=plan_errors or {},
            flash=flash,
            fields=_patient_form,
        )

    @router.get(f"{PREFIX}/patients/{{patient_id}}")
    def patient_view(
        request: Request, patient_id: str, done: str = "", store: Any = store_dep
    ) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        flash = {
            "registered": "Patient registered.",
            "updated": "Patient record updated; the change is in the history below.",
            "proposed": "Plan saved; a pharmacist verifies it before the course can start.",
            "verified": "Plan verified.",
        }.get(done, "")
        return patient_page(user, store, patient_id, flash=flash)

    @router.get(f"{PREFIX}/patients/{{patient_id}}/edit")
    def edit_form(request: Request, patient_id: str, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not user.can_record:
            return forbidden(user, "Only a clinician edits a patient record.")
        if refused := outside_teams(store, user, patient_id):
            return refused
        try:
            patient = cs.get_patient(store, patient_id)["patient"]
        except NotFoundError as exc:
            return not_found(user, exc)
        return record_form(user, _patient_form.values_of_patient(patient), {}, editing=patient_id)

    @router.post(f"{PREFIX}/patients/{{patient_id}}/edit")
    async def edit(request: Request, patient_id: str, store: Any = store_dep) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        if refused := outside_teams(store, user, patient_id):
            return refused
        values["id"] = patient_id
        patient, errors = _patient_form.parse_patient(values)
        if not errors:
            try:
                cs.update_patient(store, patient_id, patient, actor_of(request, user))
            except InputError as exc:
                errors = _patient_form.place_errors(exc)
        if errors:
            return record_form(user, values, errors, editing=patient_id, status=422)
        pid = urllib.parse.quote(patient_id, safe="")
        return RedirectResponse(f"{PREFIX}/patients/{pid}?done=updated", status_code=303)

    # -------------------------------------------------------------------------------- plans

    @router.post(f"{PREFIX}/patients/{{patient_id}}/plans")
    async def propose(request: Request, patient_id: str, store: Any = store_dep) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        if refused := outside_teams(store, user, patient_id):
            return refused
        try:
            cs.propose_plan(store, patient_id, values, actor_of(request, user))
        except NotFoundError as exc:
            return not_found(user, exc)
        except InputError as exc:
            name = exc.field.lstrip("-").replace("-", "_")
            field = name if name in PLAN_INPUTS else ""
            return patient_page(
                user, store, patient_id, plan_values=values,
                plan_errors={field: f"{exc.value}: {exc.fix}"}, status=422,
            )  # fmt: skip
        pid = urllib.parse.quote(patient_id, safe="")
        return RedirectResponse(f"{PREFIX}/patients/{pid}?done=proposed#plans", status_code=303)

    @router.post(f"{PREFIX}/plans/{{plan_id}}/verify")
    async def verify(request: Request, plan_id: str, store: Any = store_dep) -> Response:
        got = await posted(request, store)
        if isinstance(got, Response):
            return got
        user, _values = got
        if user.role is not Role.PHARMACIST:
            return forbidden(user, "Only a pharmacist verifies a plan.")
        try:
            plan = cs.get_plan(store, plan_id)
            if refused := outside_teams(store, user, plan.patient_id):
                return refused
            cs.verify_proposed_plan(store, plan_id, actor_of(request, user))
        except NotFoundError as exc:
            return not_found(user, exc)
        except InputError as exc:
            return render("error.html", 422, user=user, title="Not verified", detail=str(exc))
        pid = urllib.parse.quote(plan.patient_id, safe="")
        return RedirectResponse(f"{PREFIX}/patients/{pid}?done=verified#plans", status_code=303)

    def start_page(
        user: WebUser,
        plan: cs.PlanRecord,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        status: int = 200,
    ) -> HTMLResponse:
        return render(
            "start.html",
            status,
            user=user,
            plan=plan,
            labs=_forms.FORMS_BY_KIND["labs"],
            assessment=_forms.FORMS_BY_KIND["assessment"],
            values=values,
            errors=errors,
            today=_today(),
        )

    @router.get(f"{PREFIX}/plans/{{plan_id}}/start")
    def start_form(request: Request, plan_id: str, store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if not user.can_record:
            return forbidden(user, "Only a clinician starts a course.")
        try:
            plan = cs.get_plan(store, plan_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        if refused := outside_teams(store, user, plan.patient_id):
            return refused
        return start_page(user, plan, {"date": _today().isoformat()}, {})

    @router.post(f"{PREFIX}/plans/{{plan_id}}/start")
    async def start(request: Request, plan_id: str, store: Any = store_dep) -> Response:
        got = await posted(request, store, Role.CLINICIAN)
        if isinstance(got, Response):
            return got
        user, values = got
        try:
            plan = cs.get_plan(store, plan_id)
        except NotFoundError as exc:
            return not_found(user, exc)
        if refused := outside_teams(store, user, plan.patient_id):
            return refused
        if not plan.verified:
            detail = "A pharmacist must verify the plan before the course starts."
            return render("error.html", 422, user=user, title="Not started", detail=detail)
        baseline, errors = _forms.baseline_of(values)
        if errors:
            return start_page(user, plan, values, errors, 422)
        try:
            course = cs.start_course_from_plan(
                store, plan_id, actor_of(request, user), baseline=baseline
            )
        except InputError as exc:
            placed = _forms.place_baseline(exc, baseline)
            if placed:
                return start_page(user, plan, values, placed, 422)
            return render("error.html", 422, user=user, title="Not started", detail=str(exc))
        return RedirectResponse(f"{PREFIX}/courses/{course['id']}?recorded=course", status_code=303)

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

    def users_page(
        user: WebUser, store: Any, *, errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None, flash: str = "", status: int = 200,
    ) -> HTMLResponse:  # fmt: skip
        return render(
            "users.html",
            status,
            user=user,
            users=cs.list_users(store),
            roles=[r.value for r in Role],
            errors=errors or {},
            values=values or {},
            flash=flash,
        )

    @router.get(f"{PREFIX}/users")
    def users(request: Request, done: str = "", store: Any = store_dep) -> Response:
        user = page_user(request, store)
        if user is None:
            return to_login(request)
        if user.role is not Role.ADMIN:
            return forbidden(user, "Only an admin may manage accounts.")
        return users_page(user, store, flash=urllib.parse.unquote(done)[:200])

    @router.post(f"{PREFIX}/users")
    async def user_create(request: Request, store: Any = store_dep) -> Response:
        got = await posted(request, store, Role.ADMIN)
        if isinstance(got, Response):
            return got
        user, values = got
        try:
            cs.add_user(
                store, values.get("username", ""), values.get("password", ""),
                values.get("role", ""), actor_of(request, user),
            )  # fmt: skip
        except InputError as exc:
            values.pop("password", None)
            return users_page(
                user, store, errors={exc.field: f"{exc.value}: {exc.fix}"}, values=values,
                status=422,
            )  # fmt: skip
        done = urllib.parse.quote(f"Account {values.get('username', '').strip()} created.")
        return RedirectResponse(f"{PREFIX}/users?done={done}", status_code=303)

    @router.post(f"{PREFIX}/users/{{username}}/{{action}}")
    async def user_change(
        request: Request, username: str, action: str, store: Any = store_dep
    ) -> Response:
        got = await posted(request, store, Role.ADMIN)
        if isinstance(got, Response):
            return got
        user, values = got
        actor = actor_of(request, user)
        try:
            if action == "role":
                if username == user.username and values.get("role") != Role.ADMIN.value:
                    raise InputError("role", values.get("role"), "an admin cannot demote themself")
                cs.set_user_role(store, username, values.get("role", ""), actor)
                message = f"{username} is now {values.get('role')}."
            elif action in {"disable", "enable"}:
                if username == user.username:
                    raise InputError("username", username, "an admin cannot disable themself")
                cs.set_user_disabled(store, username, action == "disable", actor)
                message = f"{username} {action}d."
            elif action == "password":
                cs.reset_password(store, username, values.get("password", ""), actor)
                message = f"Password of {username} reset; give it to them in person."
            else:
                raise NotFoundError("action", action, "use role, disable, enable or password")
        except InputError as exc:
            return users_page(
                user, store, errors={f"{username}:{exc.field}": f"{exc.value}: {exc.fix}"},
                status=422,
            )  # fmt: skip
        return RedirectResponse(
            f"{PREFIX}/users?done={urllib.parse.quote(message)}", status_code=303
        )

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
                tiw = plan_document(plan)["options"].get("tiw_weekdays") or []
                items = _views.plan_gaps(list(plan_items(plan)), tiw)
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

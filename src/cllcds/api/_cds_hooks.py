"""CDS Hooks 2.0 services: discovery, ``patient-view``, ``order-sign`` and feedback.

``GET /cds-services`` is public (the spec's discovery endpoint). A hook call needs
``Authorization: Bearer <token>``, checked in this order:

1. a JWT signed by a trusted EHR (CDS Hooks 2.0 "Trusting CDS Clients"): verified against the
   JWKS of the issuers configured in ``CLLCDS_CDS_TRUSTED_ISSUERS`` (``iss``, ``aud`` = the
   service URL, ``exp``, ``jti`` replay; :mod:`cllcds.api._cds_auth`);
2. for development only, the shared secret in ``CLLCDS_CDS_HOOKS_TOKEN``;
3. a cllcds API token of any account.

Data: the prefetch templates of the discovery document. A key missing or ``null`` is fetched
from ``fhirServer`` with ``fhirAuthorization`` when the EHR gave them; without a
``fhirServer`` the call is answered 412, never with advice on part of the record. The course is
built from those resources with the FHIR import; data the import cannot represent give one
critical "data incomplete, no advice" card. The regimen comes from a cllcds CarePlan if present,
else ``CLLCDS_CDS_DEFAULT_REGIMEN`` (default ``alemtuzumab-iv-label``), and the start from the
first alemtuzumab administration; the cards say what was assumed.

Every hook call and every feedback message is written to the audit log (who, which patient,
which cards) when the service runs with its store. Cards link to the patient's course page of the
web app when cllcds holds the patient. Browser-based clients get CORS headers (origins from
``CLLCDS_CDS_CORS_ORIGINS``, comma-separated, default ``*``: the hooks use bearer tokens, never
cookies).
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from cllcds import fhir
from cllcds import services as _cds
from cllcds.domain import DocumentError, InputError, NotFoundError

from . import _cds_auth, _fhir_read

TOKEN_ENV = "CLLCDS_CDS_HOOKS_TOKEN"
REGIMEN_ENV = "CLLCDS_CDS_DEFAULT_REGIMEN"
CORS_ENV = "CLLCDS_CDS_CORS_ORIGINS"
DEFAULT_REGIMEN = "alemtuzumab-iv-label"
FETCH_TIMEOUT_S = 20
"""How long one read from the EHR's FHIR server may take (a named default)."""
MAX_PAGES = 50
"""Search pages followed (``link`` ``next``) per prefetch key before the data are called
incomplete (a named default)."""
WEB_PREFIX = "/app"


class _HookError(Exception):
    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message}
        if self.problems:
            body["problems"] = self.problems
        headers = (
            {"WWW-Authenticate": 'Bearer realm="cllcds-cds-hooks"'} if self.status == 401 else None
        )
        return JSONResponse(body, status_code=self.status, headers=headers)


def _authorise(request: Request) -> str:
    """Who is calling (for the audit log), or 401. See the module doc for the order."""
    auth = request.headers.get("Authorization", "")
    scheme, _, given = auth.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise _HookError(401, "a bearer token is required")
    if _cds_auth.looks_like_jwt(given) and _cds_auth.trusted_issuers():
        audience = _cds_auth.expected_audience(str(request.url), request.url.path)
        store = getattr(request.app.state, "store", None)
        remember = _cds_auth.store_remember(store) if store is not None else None
        try:
            claims = _cds_auth.verify(given, audience, remember)
        except _cds_auth.JwtRejectedError as exc:
            raise _HookError(401, str(exc)) from None
        return f"{claims['iss']}#{claims.get('sub', '')}"
    shared = os.environ.get(TOKEN_ENV)
    if shared and hmac.compare_digest(given.encode("utf-8"), shared.encode("utf-8")):
        return "cds-shared-secret"
    store = getattr(request.app.state, "store", None)
    if store is not None:
        user = _cds.resolve_token(store, given, "bearer")
        if user is not None:
            return str(user.get("username", "api-token"))
    raise _HookError(401, "the bearer token is not valid for this service")


def _cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    allowed = [o.strip() for o in os.environ.get(CORS_ENV, "*").split(",") if o.strip()]
    if origin is None:
        return {}
    if "*" in allowed:
        return {"Access-Control-Allow-Origin": "*"}
    if origin in allowed:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {}


def _respond(request: Request, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_cors_headers(request))


async def _body(request: Request, hook: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _HookError(400, "the request body is not JSON") from None
    if not isinstance(body, Mapping):
        raise _HookError(400, "the request body must be a JSON object")
    if body.get("hook") not in (None, hook):
        raise _HookError(400, f"this service answers the {hook!r} hook, not {body.get('hook')!r}")
    if not body.get("hookInstance"):
        raise _HookError(400, "hookInstance is required")
    context = body.get("context")
    if not isinstance(context, Mapping) or not context.get("patientId"):
        raise _HookError(400, "context.patientId is required")
    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, Mapping):
        raise _HookError(400, "prefetch must be a JSON object")
    patient = (prefetch or {}).get("patient")
    if isinstance(patient, Mapping) and patient.get("id") not in (None, context["patientId"]):
        raise _HookError(400, "prefetch.patient is not context.patientId")
    if body.get("fhirAuthorization") is not None and not body.get("fhirServer"):
        raise _HookError(400, "fhirAuthorization is given without fhirServer")
    return dict(body)


def _get_json(url: str, token: str | None) -> Any:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        exc.close()
        raise


def _fetch(server: str, token: str | None, query: str) -> Any:
    """One prefetch template read from the FHIR server (search pages followed)."""
    url = f"{server.rstrip('/')}/{query}"
    first = _get_json(url, token)
    if not isinstance(first, Mapping) or first.get("resourceType") != "Bundle":
        return first
    entries = list(first.get("entry") or [])
    page, pages = first, 1
    while True:
        nxt = next(
            (lk.get("url") for lk in page.get("link") or [] if lk.get("relation") == "next"), None
        )
        if not nxt:
            break
        if pages >= MAX_PAGES:
            raise _HookError(412, f"{query}: more than {MAX_PAGES} pages; the data are incomplete")
        page = _get_json(str(nxt), token)
        entries += page.get("entry") or []
        pages += 1
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _templates() -> dict[str, str]:
    """The prefetch templates the discovery document announces."""
    templates: dict[str, str] = _cds.cds_discovery()["services"][0]["prefetch"]
    return templates


def _complete_prefetch(body: Mapping[str, Any]) -> dict[str, Any]:
    """The prefetch with every template key present: missing or null keys are read from the
    FHIR server; without one, 412 (never advice on partial data)."""
    prefetch = dict(body.get("prefetch") or {})
    templates = _templates()
    missing = [k for k in templates if prefetch.get(k) is None]
    if not missing:
        return prefetch
    server = body.get("fhirServer")
    if not server:
        raise _HookError(
            412,
            f"prefetch {', '.join(missing)} missing or null and no fhirServer to read it from",
        )
    auth = body.get("fhirAuthorization") or {}
    token = auth.get("access_token") if isinstance(auth, Mapping) else None
    pid = urllib.parse.quote(str(body["context"]["patientId"]), safe="")
    for key in missing:
        query = templates[key].replace("{{context.patientId}}", pid)
        try:
            prefetch[key] = _fetch(str(server), token, query)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _HookError(
                412, f"prefetch {key} missing and the FHIR server could not be read: {exc}"
            ) from None
    return prefetch


def _problems(exc: InputError) -> list[str]:
    if isinstance(exc, DocumentError):
        return [str(p) for p in exc.problems]
    return [str(exc)]


def _data_card(exc: InputError) -> dict[str, Any]:
    lines = "\n".join(f"- {p}" for p in _problems(exc)[:20])
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Data incomplete: no alemtuzumab advice for this patient",
        "indicator": "critical",
        "detail": (
            "cllcds could not read all of this patient's data, so it gives no advice "
            f"rather than advice on part of the record:\n\n{lines}"
        ),
        "source": {"label": _cds.SOURCE_LABEL},
    }


def _course(
    prefetch: Mapping[str, Any], start: dt.date | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The course document from the prefetch, or ``None`` when the patient has no course."""
    bundle = fhir.prefetch_bundle(prefetch)
    regimen = os.environ.get(REGIMEN_ENV) or DEFAULT_REGIMEN
    try:
        imp = fhir.bundle_to_course(bundle, default_regimen=regimen, start=start, allow_loss=True)
    except DocumentError as exc:
        if start is None and any(p.field == "start" for p in exc.problems):
            return None, []
        raise
    if imp.lost:
        # Data cllcds uses but cannot represent: advice would rest on an incomplete course.
        raise DocumentError(
            "prefetch",
            [InputError(x.partition(": ")[0], x.partition(": ")[2], "") for x in imp.lost],
        )
    return imp.course, [*imp.assumptions, *imp.warnings]


def _suggestion(card: dict[str, Any], draft_orders: Mapping[str, Any]) -> None:
    dose = card.pop("suggested_dose_mg", None)
    index = card.pop("order_index", None)
    if dose is None or index is None:
        return
    entries = draft_orders.get("entry") or []
    if not 0 <= index < len(entries):
        return
    resource = entries[index].get("resource") or {}
    card["selectionBehavior"] = "at-most-one"
    card["suggestions"] = [
        {
            "label": f"Change the order to {dose:g} mg",
            "uuid": str(uuid.uuid4()),
            "isRecommended": True,
            "actions": [
                {
                    "type": "update",
                    "description": f"Set the alemtuzumab dose to {dose:g} mg",
                    "resource": fhir.with_dose(resource, dose),
                }
            ],
        }
    ]


def _course_link(request: Request, patient_id: str) -> dict[str, Any] | None:
    """A link to the patient's course page of the web app, when cllcds holds the patient."""
    store = getattr(request.app.state, "store", None)
    if store is None:
        return None
    try:
        page = _cds.list_courses(store, patient_id, _fhir_read.MAX_COURSES, 0)
    except NotFoundError:
        return None
    base = os.environ.get(_cds_auth.BASE_ENV, "").strip().rstrip("/") or str(
        request.base_url
    ).rstrip("/")
    if page.items:
        path = f"{WEB_PREFIX}/courses/{urllib.parse.quote(page.items[-1]['id'], safe='')}"
        label = "Open the course in cllcds"
    else:
        path = f"{WEB_PREFIX}/patients/{urllib.parse.quote(patient_id, safe='')}"
        label = "Open the patient in cllcds"
    return {"label": label, "url": base + path, "type": "absolute"}


def _finish(
    request: Request, who: str, body: Mapping[str, Any], hook: str, result: dict[str, Any]
) -> JSONResponse:
    """Links on the cards, the audit entry, the CORS headers."""
    pid = str(body["context"]["patientId"])
    link = _course_link(request, pid)
    if link is not None:
        for card in result.get("cards", []):
            card.setdefault("links", []).append(dict(link))
    _audit(
        request,
        who,
        f"cds-hook:{hook}",
        str(body.get("hookInstance")),
        {
            "patient": pid,
            "user": body["context"].get("userId"),
            "cards": [
                {
                    "uuid": c.get("uuid"),
                    "indicator": c.get("indicator"),
                    "summary": c.get("summary"),
                }
                for c in result.get("cards", [])
            ],
        },
    )
    return _respond(request, result)


def _audit(request: Request, who: str, action: str, entity_id: str, after: dict[str, Any]) -> None:
    store = getattr(request.app.state, "store", None)
    if store is None:
        return
    rid = getattr(request.state, "request_id", "") or ""
    store.record_audit(_cds.Actor(who, rid), action, "cds_hooks", entity_id[:200], None, after)


def make_router(*, today: Callable[[], dt.date] = dt.date.today) -> APIRouter:
    """The CDS Hooks router (and the FHIR read endpoint); ``today`` is the clock the hooks
    judge the course on."""
    router = APIRouter(tags=["cds-hooks"])

    @router.get("/cds-services", summary="CDS Hooks discovery")
    def discovery(request: Request) -> Any:
        return _respond(request, _cds.cds_discovery())

    @router.options("/cds-services", include_in_schema=False)
    @router.options("/cds-services/{path:path}", include_in_schema=False)
    def preflight(request: Request) -> Response:
        headers = _cors_headers(request)
        if headers:
            headers |= {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            }
        return Response(status_code=204, headers=headers)

    @router.post(f"/cds-services/{_cds.PATIENT_VIEW_ID}", summary="patient-view hook")
    async def patient_view(request: Request) -> Any:
        try:
            who = await run_in_threadpool(_authorise, request)
            body = await _body(request, "patient-view")
            prefetch = await run_in_threadpool(_complete_prefetch, body)
            try:
                # parsing and replay are CPU work: off the event loop
                course, notes = await run_in_threadpool(_course, prefetch, None)
                if course is None:
                    result: dict[str, Any] = {"cards": []}
                else:
                    result = await run_in_threadpool(
                        functools.partial(_cds.cds_patient_view, course, as_of=today(), notes=notes)
                    )
            except InputError as exc:
                result = {"cards": [_data_card(exc)]}
            return _finish(request, who, body, "patient-view", result)
        except _HookError as err:
            return err.response()

    @router.post(f"/cds-services/{_cds.ORDER_SIGN_ID}", summary="order-sign hook")
    async def order_sign(request: Request) -> Any:
        try:
            who = await run_in_threadpool(_authorise, request)
            body = await _body(request, "order-sign")
            draft = body["context"].get("draftOrders")
            try:
                orders = fhir.draft_order_proposals(draft)
            except InputError as exc:
                raise _HookError(400, "context.draftOrders is invalid", _problems(exc)) from None
            ours = [o for o in orders if o["drug"] == "alemtuzumab"]
            if not ours:
                return _finish(request, who, body, "order-sign", {"cards": []})
            prefetch = await run_in_threadpool(_complete_prefetch, body)
            now = today()
            try:
                course, notes = await run_in_threadpool(_course, prefetch, None)
                if course is None:  # first ever dose: the course starts with the order
                    first = min(
                        dt.date.fromisoformat(o["date"]) if o["date"] else now for o in ours
                    )
                    course, notes = await run_in_threadpool(_course, prefetch, first)
                    notes = [f"start date {first} assumed: the proposed first dose", *notes]
                assert course is not None
                result = await run_in_threadpool(
                    functools.partial(_cds.cds_order_sign, course, ours, today=now, notes=notes)
                )
            except InputError as exc:
                result = {"cards": [_data_card(exc)]}
            for card in result["cards"]:
                _suggestion(card, draft)
            return _finish(request, who, body, "order-sign", result)
        except _HookError as err:
            return err.response()

    @router.post("/cds-services/{service_id}/feedback", summary="CDS Hooks feedback")
    async def feedback(service_id: str, request: Request) -> Any:
        if service_id not in (_cds.PATIENT_VIEW_ID, _cds.ORDER_SIGN_ID):
            return JSONResponse({"error": "unknown service"}, status_code=404)
        try:
            who = await run_in_threadpool(_authorise, request)
            try:
                body = await request.json()
            except ValueError:
                raise _HookError(400, "the request body is not JSON") from None
            items = body.get("feedback") if isinstance(body, Mapping) else None
            if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
                raise _HookError(400, "feedback must be a list of objects (CDS Hooks 2.0)")
            for item in items:
                if not item.get("card") or item.get("outcome") not in ("accepted", "overridden"):
                    raise _HookError(
                        400, "each feedback item needs card and outcome accepted|overridden"
                    )
                _audit(
                    request,
                    who,
                    f"cds-feedback:{service_id}",
                    str(item["card"]),
                    {
                        k: item[k]
                        for k in item
                        if k
                        in (
                            "card",
                            "outcome",
                            "overrideReason",
                            "acceptedSuggestions",
                            "outcomeTimestamp",
                        )
                    },
                )
        except _HookError as err:
            return err.response()
        return _respond(request, {})

    router.include_router(_fhir_read.make_router())
    return router


router = make_router()
"""The router the REST app includes (``cllcds.api._app``)."""

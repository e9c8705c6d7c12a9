"""CDS Hooks 2.0 services: discovery, ``patient-view`` and ``order-sign``.

``GET /cds-services`` is public (the spec's discovery endpoint). The hook calls require
``Authorization: Bearer <token>``: the shared secret configured in ``CLLCDS_CDS_HOOKS_TOKEN``, or
a cllcds API token. Real EHRs send a signed JWT (CDS Hooks 2.0 "Trusting CDS Clients");
verifying it against the EHR's JWKS is not implemented yet, so the token is compared as a
shared secret.

The service reads only ``prefetch`` (it never calls ``fhirServer``): without the prefetch data
it answers 412, as the spec allows. The course is built from the prefetched resources with the
FHIR import; the regimen comes from a cllcds CarePlan if present, else
``CLLCDS_CDS_DEFAULT_REGIMEN`` (default ``alemtuzumab-iv-label``), and the start from the first
alemtuzumab administration; the cards say what was assumed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cllcds import fhir
from cllcds import services as _cds
from cllcds.domain import DocumentError, InputError

TOKEN_ENV = "CLLCDS_CDS_HOOKS_TOKEN"
REGIMEN_ENV = "CLLCDS_CDS_DEFAULT_REGIMEN"
DEFAULT_REGIMEN = "alemtuzumab-iv-label"


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


def _authorise(request: Request) -> None:
    """Hook calls need a bearer: the shared token in ``CLLCDS_CDS_HOOKS_TOKEN`` (what an EHR is
    configured with), or a cllcds API token of any account. Only discovery is public."""
    auth = request.headers.get("Authorization", "")
    scheme, _, given = auth.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise _HookError(401, "a bearer token is required")
    shared = os.environ.get(TOKEN_ENV)
    if shared and hmac.compare_digest(given.encode("utf-8"), shared.encode("utf-8")):
        return
    store = getattr(request.app.state, "store", None)
    if store is not None and _cds.resolve_token(store, given, "bearer") is not None:
        return
    raise _HookError(401, "the bearer token is not valid for this service")


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
    if not isinstance(prefetch, Mapping) or not prefetch.get("patient"):
        raise _HookError(
            412, "prefetch with the patient and their data is required (no FHIR server access)"
        )
    patient = prefetch["patient"]
    if isinstance(patient, Mapping) and patient.get("id") not in (None, context["patientId"]):
        raise _HookError(400, "prefetch.patient is not context.patientId")
    return dict(body)


def _problems(exc: InputError) -> list[str]:
    if isinstance(exc, DocumentError):
        return [str(p) for p in exc.problems]
    return [str(exc)]


def _data_card(exc: InputError) -> dict[str, Any]:
    lines = "\n".join(f"- {p}" for p in _problems(exc)[:20])
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "cllcds could not read this patient's data: no alemtuzumab advice",
        "indicator": "warning",
        "detail": f"The EHR data were refused:\n\n{lines}",
        "source": {"label": _cds.SOURCE_LABEL},
    }


def _course(
    body: Mapping[str, Any], start: dt.date | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The course document from the prefetch, or ``None`` when the patient has no course."""
    bundle = fhir.prefetch_bundle(body["prefetch"])
    regimen = os.environ.get(REGIMEN_ENV) or DEFAULT_REGIMEN
    try:
        imp = fhir.bundle_to_course(bundle, default_regimen=regimen, start=start)
    except DocumentError as exc:
        if start is None and any(p.field == "start" for p in exc.problems):
            return None, []
        raise
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


def make_router(*, today: Callable[[], dt.date] = dt.date.today) -> APIRouter:
    """The CDS Hooks router; ``today`` is the clock the hooks judge the course on."""
    router = APIRouter(tags=["cds-hooks"])

    @router.get("/cds-services", summary="CDS Hooks discovery")
    def discovery() -> dict[str, Any]:
        return _cds.cds_discovery()

    @router.post(f"/cds-services/{_cds.PATIENT_VIEW_ID}", summary="patient-view hook")
    async def patient_view(request: Request) -> Any:
        try:
            await run_in_threadpool(_authorise, request)
            body = await _body(request, "patient-view")
            try:  # parsing and replay are CPU work: off the event loop
                course, notes = await run_in_threadpool(_course, body, None)
                if course is None:
                    return {"cards": []}
                return await run_in_threadpool(
                    functools.partial(_cds.cds_patient_view, course, as_of=today(), notes=notes)
                )
            except InputError as exc:
                return {"cards": [_data_card(exc)]}
        except _HookError as err:
            return err.response()

    @router.post(f"/cds-services/{_cds.ORDER_SIGN_ID}", summary="order-sign hook")
    async def order_sign(request: Request) -> Any:
        try:
            await run_in_threadpool(_authorise, request)
            body = await _body(request, "order-sign")
            draft = body["context"].get("draftOrders")
            try:
                orders = fhir.draft_order_proposals(draft)
            except InputError as exc:
                raise _HookError(400, "context.draftOrders is invalid", _problems(exc)) from None
            ours = [o for o in orders if o["drug"] == "alemtuzumab"]
            if not ours:
                return {"cards": []}
            now = today()
            try:
                course, notes = await run_in_threadpool(_course, body, None)
                if course is None:  # first ever dose: the course starts with the order
                    first = min(
                        dt.date.fromisoformat(o["date"]) if o["date"] else now for o in ours
                    )
                    course, notes = await run_in_threadpool(_course, body, first)
                    notes = [f"start date {first} assumed: the proposed first dose", *notes]
                assert course is not None
                result = await run_in_threadpool(
                    functools.partial(_cds.cds_order_sign, course, ours, today=now, notes=notes)
                )
            except InputError as exc:
                return {"cards": [_data_card(exc)]}
            for card in result["cards"]:
                _suggestion(card, draft)
            return result
        except _HookError as err:
            return err.response()

    @router.post("/cds-services/{service_id}/feedback", summary="CDS Hooks feedback")
    async def feedback(service_id: str, request: Request) -> Any:
        if service_id not in (_cds.PATIENT_VIEW_ID, _cds.ORDER_SIGN_ID):
            return JSONResponse({"error": "unknown service"}, status_code=404)
        try:
            await run_in_threadpool(_authorise, request)
        except _HookError as err:
            return err.response()
        return JSONResponse({}, status_code=200)

    return router


router = make_router()
"""The router the REST app includes (``cllcds.api._app``)."""

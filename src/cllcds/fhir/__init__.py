"""cllcds.fhir: FHIR R4 interchange with the R4B models of ``fhir.resources`` (never R5).

- :func:`bundle_to_course`: a Bundle (Patient, Condition, Observations, MedicationAdministration)
  into a ``cllcds.course/1`` document, with warnings for what is not used;
- :func:`course_to_bundle`: a course into a Bundle with CarePlan/RequestGroup and DetectedIssue;
- :func:`regimen_to_plandefinition`: a regimen as a PlanDefinition with ActivityDefinitions;
- :func:`r4b_validate`: parse one resource with its R4B model (errors name the element);
- CDS Hooks helpers: :func:`prefetch_bundle`, :func:`draft_order_proposals`, :func:`with_dose`.

Codes and their sources: :mod:`cllcds.fhir._codes`.
"""

from ._convert import (
    BundleExport,
    BundleImport,
    bundle_to_course,
    course_to_bundle,
    draft_order_proposals,
    export_course,
    import_bundle,
    medication_drug,
    prefetch_bundle,
    r4b_validate,
    regimen_plandefinition,
    regimen_to_plandefinition,
    resources_of,
    with_dose,
)
from ._mapping import COURSE_TAG_SYSTEM, course_scoped_url

__all__ = [
    "COURSE_TAG_SYSTEM",
    "BundleExport",
    "BundleImport",
    "bundle_to_course",
    "course_scoped_url",
    "course_to_bundle",
    "draft_order_proposals",
    "export_course",
    "import_bundle",
    "medication_drug",
    "prefetch_bundle",
    "r4b_validate",
    "regimen_plandefinition",
    "regimen_to_plandefinition",
    "resources_of",
    "with_dose",
]

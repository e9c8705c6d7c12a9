"""Use cases: the one API the adapters (CLI, REST, web) call.

Names are imported on first use (PEP 562 ``__getattr__``): a caller that needs the course
engine does not pay for the store, the cohorts or SciPy (``cllcds course assess`` and
``cllcds --help`` start in a fraction of a second). A new export goes into :data:`_EXPORTS`
and the ``TYPE_CHECKING`` imports (for the type checker) and ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cds import (
        ORDER_SIGN_ID,
        PATIENT_VIEW_ID,
        SOURCE_LABEL,
        cds_discovery,
        cds_order_sign,
        cds_patient_view,
    )
    from ._clinical_store import (
        add_user,
        append_event,
        assess_stored_document,
        audit_log,
        authenticate,
        create_course,
        create_patient,
        get_course,
        get_patient,
        issue_token,
        list_courses,
        list_events,
        list_patients,
        list_users,
        parse_role,
        resolve_token,
        revoke_token,
        set_user_disabled,
        stored_course_response,
        stored_course_state,
        token_digest,
        validate_patient,
        verify_plan,
    )
    from ._cohort import cohort_examples, cohort_scenario, cohort_simulate
    from ._course import (
        assess_course,
        assess_response_document,
        course_schema_document,
        course_state,
        default_rule_sets,
        load_course,
        read_course_file,
    )
    from ._evidence import (
        Grouping,
        PoolOptions,
        PoolRequest,
        bibliography_rows,
        discrepancies,
        evidence_report,
        evidence_studies,
        forest,
        leave_one_out_analysis,
        pool_analysis,
        read_pool_csv,
        review_table,
        review_table_meta,
        study_detail,
        study_summary,
        verify_quotes,
    )
    from ._pk import pk_doses, pk_parameters, pk_result_document, pk_simulate
    from ._plan_export import (
        PLAN_FORMAT,
        PlanItem,
        plan_csv,
        plan_document,
        plan_html,
        plan_ics,
        plan_items,
        plan_json,
        plan_pdf,
    )
    from ._planning import (
        make_plan,
        parse_date,
        parse_overrides,
        parse_rule_sets,
        parse_tiw_weekdays,
        regimen_detail,
        regimen_list,
        regimen_summary,
    )
    from ._repository import (
        Actor,
        AppendResult,
        ConflictError,
        CourseRepository,
        DuplicateError,
        Page,
        Role,
        Validator,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "._cds": (
        "ORDER_SIGN_ID",
        "PATIENT_VIEW_ID",
        "SOURCE_LABEL",
        "cds_discovery",
        "cds_order_sign",
        "cds_patient_view",
    ),
    "._clinical_store": (
        "add_user",
        "append_event",
        "assess_stored_document",
        "audit_log",
        "authenticate",
        "create_course",
        "create_patient",
        "get_course",
        "get_patient",
        "issue_token",
        "list_courses",
        "list_events",
        "list_patients",
        "list_users",
        "parse_role",
        "resolve_token",
        "revoke_token",
        "set_user_disabled",
        "stored_course_response",
        "stored_course_state",
        "token_digest",
        "validate_patient",
        "verify_plan",
    ),
    "._cohort": (
        "cohort_examples",
        "cohort_scenario",
        "cohort_simulate",
    ),
    "._course": (
        "assess_course",
        "assess_response_document",
        "course_schema_document",
        "course_state",
        "default_rule_sets",
        "load_course",
        "read_course_file",
    ),
    "._evidence": (
        "Grouping",
        "PoolOptions",
        "PoolRequest",
        "bibliography_rows",
        "discrepancies",
        "evidence_report",
        "evidence_studies",
        "forest",
        "leave_one_out_analysis",
        "pool_analysis",
        "read_pool_csv",
        "review_table",
        "review_table_meta",
        "study_detail",
        "study_summary",
        "verify_quotes",
    ),
    "._pk": (
        "pk_doses",
        "pk_parameters",
        "pk_result_document",
        "pk_simulate",
    ),
    "._plan_export": (
        "PLAN_FORMAT",
        "PlanItem",
        "plan_csv",
        "plan_document",
        "plan_html",
        "plan_ics",
        "plan_items",
        "plan_json",
        "plan_pdf",
    ),
    "._planning": (
        "make_plan",
        "parse_date",
        "parse_overrides",
        "parse_rule_sets",
        "parse_tiw_weekdays",
        "regimen_detail",
        "regimen_list",
        "regimen_summary",
    ),
    "._repository": (
        "Actor",
        "AppendResult",
        "ConflictError",
        "CourseRepository",
        "DuplicateError",
        "Page",
        "Role",
        "Validator",
    ),
}
"""Submodule → the public names it defines."""
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups do not come here
    return value


def preload() -> None:
    """Import every use case now: a server calls this when it starts, so that no request pays
    for an import."""
    for module in _EXPORTS:
        importlib.import_module(module, __name__)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ORDER_SIGN_ID",
    "PATIENT_VIEW_ID",
    "PLAN_FORMAT",
    "SOURCE_LABEL",
    "Actor",
    "AppendResult",
    "ConflictError",
    "CourseRepository",
    "DuplicateError",
    "Grouping",
    "Page",
    "PlanItem",
    "PoolOptions",
    "PoolRequest",
    "Role",
    "Validator",
    "add_user",
    "append_event",
    "assess_course",
    "assess_response_document",
    "assess_stored_document",
    "audit_log",
    "authenticate",
    "bibliography_rows",
    "cds_discovery",
    "cds_order_sign",
    "cds_patient_view",
    "cohort_examples",
    "cohort_scenario",
    "cohort_simulate",
    "course_schema_document",
    "course_state",
    "create_course",
    "create_patient",
    "default_rule_sets",
    "discrepancies",
    "evidence_report",
    "evidence_studies",
    "forest",
    "get_course",
    "get_patient",
    "issue_token",
    "leave_one_out_analysis",
    "list_courses",
    "list_events",
    "list_patients",
    "list_users",
    "load_course",
    "make_plan",
    "parse_date",
    "parse_overrides",
    "parse_role",
    "parse_rule_sets",
    "parse_tiw_weekdays",
    "pk_doses",
    "pk_parameters",
    "pk_result_document",
    "pk_simulate",
    "plan_csv",
    "plan_document",
    "plan_html",
    "plan_ics",
    "plan_items",
    "plan_json",
    "plan_pdf",
    "pool_analysis",
    "preload",
    "read_course_file",
    "read_pool_csv",
    "regimen_detail",
    "regimen_list",
    "regimen_summary",
    "resolve_token",
    "review_table",
    "review_table_meta",
    "revoke_token",
    "set_user_disabled",
    "stored_course_response",
    "stored_course_state",
    "study_detail",
    "study_summary",
    "token_digest",
    "validate_patient",
    "verify_plan",
    "verify_quotes",
]

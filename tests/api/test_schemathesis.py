"""Schemathesis against the live app's OpenAPI schema: no 5xx on generated input.

Bounded: at most 12 examples per operation and pass, with a clinician's bearer token (the
role that can read and write the most). Every operation is run, the CDS Hooks services and
logout included (logout with a token of its own, so the run keeps its token). Each operation
runs twice: with generated path parameters, and with real ids (a stored course and its
patient, a real account that is not the caller), so the generated bodies and queries reach
the code behind the lookup.

Schemathesis' own pytest plugin does not run under this pytest, so the operations are driven
through its Python API: one Hypothesis run per operation.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from cllcds import services as cs
from cllcds.services import Actor, Role

from .conftest import PASSWORD, Live

MAX_EXAMPLES = 12
LOGOUT = "/auth/logout"


@pytest.mark.slow
def test_no_server_errors(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {live.tokens['clinician']}"}
    course = live.new_course()
    target = "fuzz-target"
    if target not in {u["username"] for u in cs.list_users(live.store)}:
        cs.add_user(live.store, target, PASSWORD, Role.VIEWER, Actor("test-setup"))
    real = {
        "course_id": course["id"],
        "patient_id": course["patient_id"],
        "username": target,
        "regimen_id": "alemtuzumab-iv-label",
    }
    failures: list[str] = []
    tested = 0

    def own_token() -> dict[str, str]:
        r = httpx.post(
            f"{live.base_url}/auth/token", json={"username": "u-clinician", "password": PASSWORD}
        )
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def run_with(operation: Any, with_real_ids: bool) -> None:
        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if with_real_ids and case.path_parameters:
                for name in case.path_parameters:
                    if name in real:
                        case.path_parameters[name] = real[name]
            auth = own_token() if case.path == LOGOUT else headers
            response = case.call(headers=auth, timeout=60)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
                return
            case.validate_response(response, checks=[not_a_server_error])

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        tested += 1
        for with_real_ids in (False, True):
            run_with(operation, with_real_ids)
    assert tested >= 25
    assert not failures, "\n".join(failures[:20])

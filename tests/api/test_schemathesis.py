"""Schemathesis against the live app's OpenAPI schema: no 5xx on generated input.

Bounded: at most 25 examples per operation, with a clinician's bearer token (the role that can
read and write the most). The CDS Hooks operations belong to the interop suite and are excluded
here; ``/auth/logout`` is excluded because it would revoke the token mid-run.

Schemathesis' own pytest plugin does not run under this pytest, so the operations are driven
through its Python API: one Hypothesis run per operation.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .conftest import Live

MAX_EXAMPLES = 25
EXCLUDED_PREFIXES = ("/cds-services", "/auth/logout")


@pytest.mark.slow
def test_no_server_errors(live: Live) -> None:
    schema = schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {live.tokens['clinician']}"}
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(EXCLUDED_PREFIXES):
            continue
        tested += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers, timeout=60)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
                return
            case.validate_response(response, checks=[not_a_server_error])

        run()
    assert tested >= 20
    assert not failures, "\n".join(failures[:20])

"""A bounded schemathesis run against /api/v1/openapi.json, in-process (WSGI, no
network): no request it generates gets a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error


def test_no_server_error(app, lab) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    statuses: list[int] = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(), slug=st.sampled_from(["alpha", "beta", "nope"]))
        def run(case, slug) -> None:
            if case.path_parameters and "slug" in case.path_parameters:
                case.path_parameters["slug"] = slug
            response = case.call(headers={"Authorization": f"Bearer {lab.token}"})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code,
                                 response.text[:300]))
            case.validate_response(response, checks=[not_a_server_error])

        run()
    assert not failures
    assert len(statuses) >= 50 and 200 in statuses and 404 in statuses

"""The API fuzzed from its own OpenAPI description (schemathesis): never a server error.

Requests carry an administrator's API token, so the protected endpoints are reached too; a
station is enrolled and a report stored first, so lookups can also find something.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from hub.app import create_app
from hub.store import Store
from tests.hub.helpers import Hub

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def api_schema(store: Store, hub: Hub) -> Any:
    station = hub.station("fuzz-station", "Fuzz")
    hub.client.post("/api/v1/reports", json=station.sign(station.report("FUZZ-1")))
    app = create_app(store)
    app.state.fuzz_headers = hub.admin_headers()
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_error(api_schema: Any) -> None:
    headers = dict(api_schema.app.state.fuzz_headers)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14  # every API operation is described, and so fuzzed
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=(not_a_server_error,))

        no_server_error()

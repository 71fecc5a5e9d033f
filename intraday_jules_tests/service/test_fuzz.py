"""Property-based fuzzing of the real server against its own OpenAPI schema (schemathesis):
whatever the generated request (valid or not), the answer is never a 500.

A servable model is promoted first, so a valid ``/predict`` runs the model. The run is
deterministic (Hypothesis derandomised) and bounded (``MAX_EXAMPLES`` per operation)."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from intraday_jules.service.app import app
from intraday_jules.service.loadcheck import ServiceProcess
from intraday_jules_tests.service.conftest import Models, set_champion

MAX_EXAMPLES = 60
schema = schemathesis.openapi.from_dict(app.openapi())


@pytest.fixture(scope="module")
def promoted(server: ServiceProcess, models: Models) -> ServiceProcess:
    set_champion(models.store, models.dual_a)
    return server


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                     suppress_health_check=list(HealthCheck), database=None)
def test_no_generated_request_gets_a_500(case: schemathesis.Case,
                                         promoted: ServiceProcess) -> None:
    response = case.call(base_url=promoted.url, timeout=60)
    assert response.status_code < 500, (
        f"{case.method} {case.path} -> {response.status_code}: {response.text[:500]}\n"
        f"reproduce: {case.as_curl_command()}")

"""abb.ops.smoke, the pipeline's check of a deployed environment, run here against the app itself."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from abb.ops import smoke


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_smoke_check_passes_against_a_healthy_app(client: TestClient) -> None:
    assert smoke.run(client, expect_metrics_closed=False) == []
    # The app keeps /metrics from callers that are neither local nor holding the token, as Cloud Armor does.
    assert smoke.run(client, expect_metrics_closed=True) == []


def test_a_broken_environment_fails_with_each_check_named() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(503, json={"status": "fail"})
        if request.url.path == "/health/live":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text="<form>", headers={"content-type": "text/html"})

    with httpx.Client(base_url="http://env.invalid", transport=httpx.MockTransport(answer)) as client:
        failures = smoke.run(client, expect_metrics_closed=True)
    assert failures[0].startswith("process answers: GET /health/live raised ConnectError")
    assert "dependencies answer: GET /health/ready -> 503" in failures
    assert any(f.startswith("unknown API path is a problem+json 404") for f in failures)
    assert any(f.startswith("/metrics closed at the edge") for f in failures)

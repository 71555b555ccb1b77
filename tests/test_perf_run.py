"""`make perf` serves the app with production settings: they must pass production's start-up checks.

(They once did not: production began to require a guard on /metrics and the load test stopped starting.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from abb.app import create_app
from abb.core.config import Settings
from tests.conftest import _migrated_engine
from tests.harness.services import PostgresServer

pytestmark = pytest.mark.postgres

PERF_RUN = Path(__file__).resolve().parent.parent / "perf" / "run.py"


def _perf_run():
    spec = importlib.util.spec_from_file_location("perf_run_settings", PERF_RUN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_load_tests_production_settings_start_and_open_metrics_with_their_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    perf_run = _perf_run()
    url = postgres_server.create_database("abb_perf_settings")
    _migrated_engine(url).dispose()
    base = {"ABB_DATABASE_URL": url, "ABB_VAR_DIR": str(tmp_path)}
    for name, value in perf_run.production_env(base).items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # production's checks run here: a refusal raises
    assert settings.env == "production"
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert client.get("/metrics").status_code in (401, 403, 404)
        opened = client.get("/metrics", headers={"Authorization": f"Bearer {perf_run.METRICS_TOKEN}"})
    assert opened.status_code == 200
    assert "abb_http_request_duration_seconds" in opened.text

"""Health endpoints against a real PostgreSQL that is stopped and restarted under the running app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from abb.app import create_app
from tests.conftest import _migrated_engine, make_settings
from tests.factories import assert_problem
from tests.fixtures_observability import LiveServer, sample
from tests.harness.services import PostgresServer, free_port, running_postgres
from tests.waiting import wait_until

HEALTH_TIMEOUT = 1.0


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own: it gets stopped, so it cannot be the suite's shared server."""
    with running_postgres() as server:
        yield server


def _poll(client: httpx.Client, path: str, status: int) -> httpx.Response:
    """GET `path` until it answers `status`; every answer must come back (the client's timeout would raise)."""
    return wait_until(
        lambda: (response := client.get(path)).status_code == status and response,
        timeout=60,
        every=0.2,
        what=f"{path} to answer {status}",
    )


@pytest.mark.postgres
def test_ready_names_the_stopped_database_and_recovers_by_itself(own_postgres: PostgresServer, tmp_path: Path):
    url = own_postgres.create_database("abb_health")
    _migrated_engine(url).dispose()
    settings = make_settings(
        database_url=url, var_dir=tmp_path, health_timeout_seconds=HEALTH_TIMEOUT, metrics_cache_seconds=0
    )
    # Generous client timeout: a request that hung would raise here instead of returning.
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok"}

        own_postgres.stop()
        down = _poll(client, "/health/ready", 503)
        body = assert_problem(down, 503, "service-unavailable")
        assert "database" in body["detail"]
        assert body["checks"]["database"] != "ok"
        assert client.get("/health/live").status_code == 200  # the process itself is fine
        assert sample(client.get("/metrics").text, "abb_db_up") == 0

        own_postgres.start()
        back = _poll(client, "/health/ready", 200)
        assert back.status_code == 200, back.text
        assert sample(client.get("/metrics").text, "abb_db_up") == 1


def test_ready_names_an_unreachable_redis(make_obs_app):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = make_obs_app(redis_url=dead_redis, health_timeout_seconds=HEALTH_TIMEOUT)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        body = assert_problem(client.get("/health/ready"), 503, "service-unavailable")
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] != "ok" and body["checks"]["broker"] != "ok"
    assert "redis" in body["detail"] and "broker" in body["detail"]


def test_ready_with_a_live_redis(make_obs_app, redis_server):
    app = make_obs_app(redis_url=redis_server.url, health_timeout_seconds=HEALTH_TIMEOUT)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}


def test_the_app_starts_while_the_database_is_down_and_says_so_on_ready(tmp_path):
    from fastapi.testclient import TestClient

    settings = make_settings(database_url="postgresql://abb@127.0.0.1:1/abb", var_dir=tmp_path)
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
    assert ready.status_code == 503 and "database" in ready.text


def test_probes_and_scrapes_answer_while_every_request_thread_is_busy(make_obs_app):
    app = make_obs_app(threadpool_size=1, health_timeout_seconds=HEALTH_TIMEOUT)
    entered = {name: threading.Event() for name in ("first", "second")}
    release = threading.Event()

    @app.get("/test-only/blocking/{name}")
    def blocking(name: str) -> dict[str, str]:  # a sync endpoint: it runs on a request thread
        entered[name].set()
        release.wait(20)
        return {"name": name}

    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=15) as client:
        answers: dict[str, int] = {}

        def call(name: str) -> None:
            answers[name] = client.get(f"/test-only/blocking/{name}").status_code

        callers = [threading.Thread(target=call, args=(name,)) for name in entered]
        try:
            callers[0].start()
            assert entered["first"].wait(10)
            callers[1].start()
            # The pool's one thread is taken: the second sync request waits for it ...
            assert not entered["second"].wait(0.5)
            # ... while the probe and the scrape, on their own threads, answer.
            assert client.get("/health/ready").status_code == 200
            assert sample(client.get("/metrics").text, "abb_db_up") == 1
            assert not entered["second"].is_set()
        finally:
            release.set()
            for caller in callers:
                caller.join(20)
    assert answers == {"first": 200, "second": 200}

"""Celery metrics against a real Redis and a real worker: queue depth on the API, task metrics on the worker."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from abb.core.config import get_settings
from abb.tasks import RECOMPUTE_PROFILE_MATCHES
from abb.tasks.celery_app import celery_app
from tests.fixtures_observability import LOOPBACK, sample
from tests.harness.services import free_port
from tests.waiting import wait_until


def test_queue_depth_is_read_from_the_redis_broker(make_obs_app, redis_env):
    app = make_obs_app(redis_url=get_settings().redis_url)
    with TestClient(app, client=LOOPBACK) as client:
        assert sample(client.get("/metrics").text, "abb_celery_queue_depth", queue="celery") == 0
        with celery_app.connection_for_write(get_settings().redis_url) as connection:
            for profile_id in (101, 102, 103):
                celery_app.send_task(RECOMPUTE_PROFILE_MATCHES, args=["sme", profile_id], connection=connection)
        assert redis_env.llen("celery") == 3  # nobody consumes: no worker runs
        assert sample(client.get("/metrics").text, "abb_celery_queue_depth", queue="celery") == 3


def test_worker_serves_its_task_metrics(redis_env, committed_database, start_worker):
    url, _engine = committed_database
    port = free_port()
    start_worker(
        {"ABB_DATABASE_URL": url, "ABB_REDIS_URL": get_settings().redis_url, "ABB_WORKER_METRICS_PORT": str(port)}
    )
    with celery_app.connection_for_write(get_settings().redis_url) as connection:
        # A profile that does not exist: nothing to do, a success. An admin has no matches: the task raises.
        celery_app.send_task(RECOMPUTE_PROFILE_MATCHES, args=["sme", 999_999], connection=connection)
        celery_app.send_task(RECOMPUTE_PROFILE_MATCHES, args=["admin", 1], connection=connection)
    count = "abb_celery_task_duration_seconds_count"
    task = RECOMPUTE_PROFILE_MATCHES

    def both_recorded() -> str | None:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        done = sample(text, count, task=task, outcome="success") + sample(text, count, task=task, outcome="failure")
        return text if done >= 2 else None

    text = wait_until(both_recorded, timeout=60, every=0.2, what="the worker's /metrics to count both tasks")
    assert sample(text, count, task=task, outcome="success") == 1, text
    assert sample(text, count, task=task, outcome="failure") == 1, text
    assert sample(text, "abb_celery_task_failures_total", task=task) == 1
    assert sample(text, "abb_celery_task_retries_total", task=task) == 0
    assert "abb_build_info" in text

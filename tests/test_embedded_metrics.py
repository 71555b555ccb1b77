"""The embedded default (`make run`: no Redis) shows the whole metric set: cache and task families from start-up at
zero, the in-process tasks' durations and failures recorded like a worker's, and the mode itself
(abb_celery_workers_expected), which the CeleryWorkersAbsent alert reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from abb.app import create_app
from abb.tasks import RECOMPUTE_PROFILE_MATCHES
from abb.tasks.celery_app import celery_app
from abb.tasks.dispatch import enqueue
from tests.conftest import _migrated_engine, make_settings
from tests.fixtures_observability import metric_samples, sample
from tests.fixtures_redis import use_environment
from tests.waiting import wait_until

SUCCEEDS, FAILS = "tests.embedded_metrics.succeeds", "tests.embedded_metrics.fails"


@celery_app.task(name=SUCCEEDS)
def _succeeds() -> str:
    return "done"


@celery_app.task(name=FAILS)
def _fails() -> None:
    raise RuntimeError("this task fails on purpose")


@pytest.fixture
def embedded_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.delenv("ABB_REDIS_URL", raising=False)
    monkeypatch.delenv("ABB_CELERY_BROKER_URL", raising=False)
    use_environment(monkeypatch, ABB_VAR_DIR=str(tmp_path))
    engine = _migrated_engine(f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    yield engine
    engine.dispose()


def _metrics(tmp_path: Path, **overrides: object) -> str:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'metrics.sqlite3'}", var_dir=tmp_path, **overrides)
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


def test_cache_and_task_families_have_zero_samples_from_start_up(tmp_path: Path) -> None:
    samples = metric_samples(_metrics(tmp_path))
    names = {name for name, _labels in samples}
    for family in (
        "abb_cache_requests_total",
        "abb_celery_task_duration_seconds_count",
        "abb_celery_task_failures_total",
        "abb_celery_task_retries_total",
        "abb_celery_queue_depth",
        "abb_celery_workers_expected",
    ):
        assert family in names, f"{family} has no sample in the embedded mode's /metrics"
    key = frozenset({"task": RECOMPUTE_PROFILE_MATCHES, "outcome": "success"}.items())
    assert ("abb_celery_task_duration_seconds_count", key) in samples
    assert ("abb_cache_requests_total", frozenset({"cache": "partner_directory", "result": "hit"}.items())) in samples


def test_the_mode_says_whether_workers_are_expected(tmp_path: Path) -> None:
    assert sample(_metrics(tmp_path), "abb_celery_workers_expected") == 0
    with_broker = _metrics(tmp_path, redis_url="redis://127.0.0.1:1/0", health_timeout_seconds=0.2)
    assert sample(with_broker, "abb_celery_workers_expected") == 1


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_in_process_tasks_are_timed_and_their_failures_counted_like_a_workers(embedded_engine: Engine) -> None:
    before = {
        "ok": _value("abb_celery_task_duration_seconds_count", task=SUCCEEDS, outcome="success"),
        "failed_runs": _value("abb_celery_task_duration_seconds_count", task=FAILS, outcome="failure"),
        "failures": _value("abb_celery_task_failures_total", task=FAILS),
    }
    with Session(embedded_engine) as session:
        enqueue(session, SUCCEEDS)
        enqueue(session, FAILS)
    wait_until(
        lambda: _value("abb_celery_task_duration_seconds_count", task=SUCCEEDS, outcome="success") > before["ok"],
        timeout=60,
        what="the in-process task's successful run in abb_celery_task_duration_seconds",
    )
    wait_until(
        lambda: _value("abb_celery_task_failures_total", task=FAILS) > before["failures"],
        timeout=60,
        what="the in-process task's failure in abb_celery_task_failures_total",
    )
    assert _value("abb_celery_task_duration_seconds_count", task=FAILS, outcome="failure") == before["failed_runs"] + 1

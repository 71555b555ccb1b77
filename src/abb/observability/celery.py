"""Celery: task duration/failure/retry metrics, queue depth from the Redis broker, worker set-up.

The handlers connect to Celery's (process-global) signals when this module is imported, which
`abb.observability` does in every process that loads task code: the API (embedded mode, tasks run
in-process with `apply()`) and `abb worker`. In a worker they also configure logs, tracing and database
hooks in each pool process, and serve the worker's metrics (every pool process added up) on
`ABB_WORKER_METRICS_PORT`. Queue depth is on the API's /metrics, which stays up when every worker is down.
The request id travels in the task headers (`abb.tasks.celery_app`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery, signals
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from abb.core.config import Settings, get_settings

TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Kombu's Redis transport keeps a queue's priority levels in extra lists named "<queue>\x06\x16<level>".
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}

TASK_DURATION = Histogram(
    "abb_celery_task_duration_seconds", "Task run time, by task and outcome", ["task", "outcome"], buckets=TASK_BUCKETS
)
TASK_FAILURES = Counter("abb_celery_task_failures", "Task runs that raised", ["task"])
TASK_RETRIES = Counter("abb_celery_task_retries", "Task runs that asked to be retried", ["task"])

_started: dict[str, float] = {}


class QueueDepthCollector:
    """abb_celery_queue_depth{queue}: messages waiting in each queue (LLEN on the Redis broker)."""

    def __init__(self, broker_url: str, queues: list[str], timeout: float) -> None:
        self.broker_url = broker_url
        self.queues = queues
        self.timeout = timeout

    def collect(self) -> Iterator[Metric]:
        import redis

        family = GaugeMetricFamily("abb_celery_queue_depth", "Tasks waiting in each queue", labels=["queue"])
        client = redis.Redis.from_url(self.broker_url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout)
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in self.queues:
                    for suffix in _PRIORITY_SUFFIXES:
                        pipe.llen(queue + suffix)
                lengths = pipe.execute()
        except redis.RedisError:
            return  # no sample: "no data" rather than a false 0 (abb_db_up-style alerts read the broker's exporter)
        finally:
            client.close()
        per_queue = len(_PRIORITY_SUFFIXES)
        for index, queue in enumerate(self.queues):
            family.add_metric([queue], sum(lengths[index * per_queue : (index + 1) * per_queue]))
        yield family


class TaskModeCollector:
    """abb_celery_workers_expected: 1 when tasks go to a broker for `abb worker`, 0 in the embedded mode (tasks run
    in-process), so the CeleryWorkersAbsent alert knows whether a missing worker matters."""

    def __init__(self, workers_expected: bool) -> None:
        self.workers_expected = workers_expected

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "abb_celery_workers_expected", "1 when Celery workers run the background tasks, 0 when they run in-process"
        )
        family.add_metric([], 1.0 if self.workers_expected else 0.0)
        yield family


class InProcessQueueCollector:
    """abb_celery_queue_depth{queue} in the embedded mode: tasks handed to the in-process pool, not yet started."""

    def __init__(self, queues: list[str], pending: Callable[[], int]) -> None:
        self.queues = queues
        self.pending = pending

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("abb_celery_queue_depth", "Tasks waiting in each queue", labels=["queue"])
        waiting = self.pending()
        for index, queue in enumerate(self.queues):
            family.add_metric([queue], waiting if index == 0 else 0)  # the in-process pool is one queue
        yield family


def initialise_label_values(app: Celery) -> None:
    """Every task's duration, failure and retry series at 0 from start-up, in the API (whose embedded mode runs
    tasks itself) and in workers: the queue and task panels read 0 before the first run, not "no data"."""
    from abb.core.cache import CACHE_REQUESTS, MATCH_LIST_CACHE, PARTNER_DIRECTORY_CACHE

    for cache in (PARTNER_DIRECTORY_CACHE, MATCH_LIST_CACHE):
        for result in ("hit", "miss", "error"):
            CACHE_REQUESTS.labels(cache=cache, result=result)
    app.loader.import_default_modules()
    for name in [task for task in app.tasks if not task.startswith("celery.")]:
        TASK_FAILURES.labels(task=name)
        TASK_RETRIES.labels(task=name)
        for outcome in _OUTCOMES.values():
            TASK_DURATION.labels(task=name, outcome=outcome)


def queue_names(app: Celery) -> list[str]:
    configured = app.conf.task_queues
    names = [queue.name for queue in configured] if configured else []
    return names or [app.conf.task_default_queue]


def _task_started(task_id: str = "", **_: Any) -> None:
    _started[task_id] = time.perf_counter()


def _task_finished(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    start = _started.pop(task_id, None)
    if start is None:
        return
    outcome = _OUTCOMES.get(state or "", "failure")
    TASK_DURATION.labels(task=getattr(task, "name", "unknown"), outcome=outcome).observe(time.perf_counter() - start)


def _task_failed(sender: Any = None, **_: Any) -> None:
    TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def _task_retried(sender: Any = None, **_: Any) -> None:
    TASK_RETRIES.labels(task=getattr(sender, "name", "unknown")).inc()


def worker_settings() -> Settings:
    """The process's settings, named abb-worker in logs and traces unless ABB_SERVICE_NAME says otherwise."""
    settings = get_settings()
    if "service_name" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"service_name": "abb-worker"})


def _on_setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """Replaces Celery's own logging set-up (a receiver here makes Celery skip it): our JSON lines instead."""
    from abb.observability.logging import configure_logging

    configure_logging(worker_settings(), root_level=loglevel or None)


def _on_worker_init(**_: Any) -> None:
    """Main worker process: logs, and the metrics endpoint for the whole worker (all pool processes)."""
    from abb.observability import setup_observability
    from abb.observability.collectors import BuildInfoCollector
    from abb.observability.metrics import exposition_registry, serve_metrics_port
    from abb.tasks.celery_app import celery_app

    settings = worker_settings()
    setup_observability(settings, logs=False)  # logs: _on_setup_logging, with the worker's --loglevel
    initialise_label_values(celery_app)
    if settings.worker_metrics_port:
        serve_metrics_port(settings.worker_metrics_port, exposition_registry([BuildInfoCollector(settings)]))


def _on_process_init(**_: Any) -> None:
    """A prefork pool process: its own log handlers, tracer and database hooks (threads do not survive fork)."""
    from abb.observability import setup_observability

    setup_observability(worker_settings())


def _on_process_exit(pid: int | None = None, **_: Any) -> None:
    from abb.observability.metrics import mark_process_dead

    mark_process_dead(pid or os.getpid())


signals.task_prerun.connect(_task_started, weak=False)
signals.task_postrun.connect(_task_finished, weak=False)
signals.task_failure.connect(_task_failed, weak=False)
signals.task_retry.connect(_task_retried, weak=False)
signals.setup_logging.connect(_on_setup_logging, weak=False)
signals.worker_init.connect(_on_worker_init, weak=False)
signals.worker_process_init.connect(_on_process_init, weak=False)
signals.worker_process_shutdown.connect(_on_process_exit, weak=False)

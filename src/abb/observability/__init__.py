"""Observability: Prometheus metrics, structured logs, tracing and health checks (docs/observability.md).

It knows no domain: what it reports about the business (label values, database gauges, page names) is
handed over by the app's composition (`abb.app`).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence, Set
from typing import TYPE_CHECKING

from abb.core.config import Settings

# Celery's signals are process-wide: connecting the task metrics here covers every process that loads
# task code (the API running tasks in-process, and `abb worker`) without the task code calling us.
from abb.observability import celery as _celery_signals  # noqa: F401

if TYPE_CHECKING:
    from fastapi import FastAPI

    from abb.observability.business import BusinessLabels
    from abb.observability.collectors import DatabaseGauge


def setup_observability(settings: Settings, *, logs: bool = True) -> None:
    """Per-process set-up shared by the API and the Celery workers: logs, tracing, database hooks."""
    from abb.observability.database import install_database_hooks
    from abb.observability.logging import configure_logging
    from abb.observability.tracing import setup_tracing

    if logs:
        configure_logging(settings)
    setup_tracing(settings)
    if settings.metrics_enabled:
        install_database_hooks(settings)


def install_observability(
    app: FastAPI,
    settings: Settings,
    *,
    business_labels: BusinessLabels,
    database_gauges: Sequence[DatabaseGauge],
    known_pages: Set[str],
    extra_collectors: Sequence[object] = (),
) -> None:
    """Middleware, /metrics, /health and the page-timing endpoint for the API app; `extra_collectors`
    (other packages' scrape-time gauges) join the /metrics page."""
    from abb.observability import business, frontend, health
    from abb.observability.collectors import BuildInfoCollector, DatabaseCollector, HostCollector
    from abb.observability.metrics import (
        exposition_registry,
        mark_process_dead,
        metrics_router,
        multiprocess_dir,
        serve_metrics_port,
    )
    from abb.observability.middleware import install_middleware

    setup_observability(settings)
    # Health first: FastAPI matches routes in order, one by one, and probes come every few seconds.
    app.include_router(health.router)
    app.router.routes.insert(0, app.router.routes.pop())
    app.include_router(frontend.frontend_router(known_pages))
    install_middleware(
        app,
        metrics=settings.metrics_enabled,
        access_log=settings.access_log,
        flush_seconds=settings.telemetry_flush_seconds,
    )
    if not settings.metrics_enabled:
        return
    _measure_capacity(app, settings)
    business.initialise_label_values(business_labels)  # monitoring: known label values read 0, not "no data"
    collectors: list[object] = [
        BuildInfoCollector(settings),
        DatabaseCollector(lambda: app.state.db.engine, settings, database_gauges),
    ]
    if settings.host_metrics:
        collectors.append(HostCollector())
    collectors.extend(extra_collectors)
    from abb.observability import celery as task_metrics
    from abb.tasks.celery_app import celery_app
    from abb.tasks.dispatch import in_process_pending

    task_metrics.initialise_label_values(celery_app)
    broker = settings.resolved_celery_broker_url
    collectors.append(task_metrics.TaskModeCollector(workers_expected=bool(broker)))
    queues = task_metrics.queue_names(celery_app)
    if broker.startswith(("redis://", "rediss://")):
        collectors.append(task_metrics.QueueDepthCollector(broker, queues, settings.health_timeout_seconds))
    elif not broker:
        collectors.append(task_metrics.InProcessQueueCollector(queues, in_process_pending))
    registry = exposition_registry(collectors)  # type: ignore[arg-type]
    app.include_router(metrics_router(settings, registry))
    if settings.metrics_port:
        serve_metrics_port(settings.metrics_port, registry)
    if multiprocess_dir():
        atexit.register(mark_process_dead, os.getpid())


def _measure_capacity(app: FastAPI, settings: Settings) -> None:
    """Shed requests counted, queued requests and the event loop's lag sampled (docs/capacity.md)."""
    from abb.observability.capacity import LoopLagMonitor, watch_gate
    from abb.observability.metrics import HTTP_SHED

    for reason in ("queue_full", "queue_timeout", "hashing_queue_full", "hashing_queue_timeout"):
        HTTP_SHED.labels(reason)  # known label values read 0, not "no data"
    gate = getattr(app.state, "gate", None)
    if gate is not None:
        gate.on_shed = lambda reason: HTTP_SHED.labels(reason).inc()
        watch_gate(gate)
    hashing_gate = getattr(app.state, "hashing_gate", None)
    if hashing_gate is not None:  # the sign-ins' own queue (core/http.py password_hashing_turn)
        hashing_gate.on_shed = lambda reason: HTTP_SHED.labels(f"hashing_{reason}").inc()
    app.state.loop_lag = LoopLagMonitor(settings.loop_lag_interval_seconds)

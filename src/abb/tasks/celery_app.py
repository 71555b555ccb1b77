"""The Celery application: `abb worker`, or `celery -A abb.tasks.celery_app:celery_app worker|beat`.

Redis is broker and result backend (ABB_REDIS_URL, or ABB_CELERY_BROKER_URL / ABB_CELERY_RESULT_BACKEND).
A task is acknowledged only after it ran (`task_acks_late`) and a worker takes one message at a time,
so a worker killed mid-task leaves its message unacknowledged and Redis hands it to another worker
once `celery_visibility_timeout` (120 s) has passed: the tasks are idempotent, so running one again is safe,
and each must end within `task_time_limit_seconds` (below the visibility timeout) so that a running task is
never handed out twice (docs/capacity.md, "Celery").
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task, signals
from celery.schedules import crontab

from abb.core.config import Settings, get_settings
from abb.core.context import request_id_var
from abb.tasks import NIGHTLY_RECOMPUTE, RELEASE_EXPIRED_SEAT_HOLDS

# Every module that defines tasks: a worker imports these, so a task missing here is "unregistered" there.
TASK_MODULES = (
    "abb.matching.tasks",
    "abb.notifications.tasks",
    "abb.deals.tasks",
    "abb.privacy.tasks",
    "abb.training.tasks",
)
# Header carrying the id of the request that enqueued a task, so the task's log lines carry it too.
REQUEST_ID_HEADER = "abb_request_id"


def configure(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.resolved_celery_broker_url or None,
        result_backend=settings.resolved_celery_result_backend or None,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            "socket_connect_timeout": 2,
        },
        # Publishing gives up after about a second: the caller logs it instead of hanging a request.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Nobody waits for a result; failures are still kept (for `celery inspect` and operators) for a day.
        task_ignore_result=True,
        task_store_errors_even_if_ignored=True,
        result_expires=86_400,
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=settings.task_soft_time_limit_seconds,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "nightly-match-recompute": {"task": NIGHTLY_RECOMPUTE, "schedule": crontab(hour=2, minute=30)},
            # GDPR retention (docs/compliance.md) and the audit chain's verification (docs/security.md).
            "nightly-retention": {"task": "abb.privacy.apply_retention", "schedule": crontab(hour=3, minute=15)},
            "hourly-audit-verify": {"task": "abb.security.verify_audit_chain", "schedule": crontab(minute=7)},
            # Paid courses' unpaid seat holds (docs/training.md); the service also releases them lazily.
            "release-expired-seat-holds": {"task": RELEASE_EXPIRED_SEAT_HOLDS, "schedule": 60.0},
        },
    )


celery_app = Celery("abb", include=list(TASK_MODULES))
configure(celery_app, get_settings())


def request_id_of(task: Task) -> str | None:
    """The enqueuing request's id: a worker puts custom headers on the request, `apply()` under `headers`."""
    request = task.request
    value: Any = getattr(request, REQUEST_ID_HEADER, None) or (request.headers or {}).get(REQUEST_ID_HEADER)
    return str(value) if value else None


@signals.task_prerun.connect
def _bind_request_id(task: Task, **_: object) -> None:
    request_id_var.set(request_id_of(task))


@signals.task_postrun.connect
def _unbind_request_id(**_: object) -> None:
    request_id_var.set(None)

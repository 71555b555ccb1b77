"""`enqueue`: the one way the rest of the code hands work to the background.

With a broker configured the task is published to Redis for `abb worker`; without one (the embedded
mode) the same task runs in-process on a small thread pool, so the request that enqueued it is not
slowed. Either way the caller must have committed what the task will read.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kombu.exceptions import OperationalError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from abb.core.config import get_settings
from abb.core.context import request_id_var
from abb.tasks.celery_app import REQUEST_ID_HEADER, celery_app
from abb.tasks.runtime import bound_engine

log = logging.getLogger("abb.tasks")
IN_PROCESS_THREADS = 2

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def enqueue(session: Session, task_name: str, *args: Any) -> None:
    """Run `task_name(*args)` in the background. Call it after the commit; a broker outage never raises.

    A task that cannot be queued (broker down) is logged: the nightly recompute catches up on match work.
    `session` tells the embedded mode which database the task runs on.
    """
    headers = {REQUEST_ID_HEADER: request_id_var.get()}
    broker_url = get_settings().resolved_celery_broker_url
    if broker_url:
        _publish(broker_url, task_name, args, headers)
    else:
        engine = session.get_bind().engine
        _in_process_executor().submit(_run_in_process, engine, task_name, args, headers)


def _publish(broker_url: str, task_name: str, args: tuple[Any, ...], headers: dict[str, Any]) -> None:
    try:
        with celery_app.connection_for_write(broker_url) as connection:
            celery_app.send_task(task_name, args=list(args), headers=headers, connection=connection)
    except OperationalError as exc:
        log.error("task %s not queued: broker unreachable (%s)", task_name, exc)


def _in_process_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=IN_PROCESS_THREADS, thread_name_prefix="abb-task")
        return _executor


def _run_in_process(engine: Engine, task_name: str, args: tuple[Any, ...], headers: dict[str, Any]) -> None:
    celery_app.loader.import_default_modules()
    task = celery_app.tasks.get(task_name)
    if task is None:  # a worker would reject it as unregistered
        log.error("task %s not run: no such task", task_name)
        return
    with bound_engine(engine):
        # apply() runs the task here with Celery's own tracing (signals, retries, failure logging).
        task.apply(args=args, headers=headers)

"""What a task runs with: a database session on this process's engine.

A worker builds its own engine from its settings on first use (after the prefork fork, so no connection
crosses processes). In the embedded mode a task runs on the engine of the code that enqueued it, bound
for the duration of the run, so `make run` needs no second configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from celery import signals
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from abb.core.config import get_settings
from abb.core.database import Database, writing_engine

_bound_engine: ContextVar[Engine | None] = ContextVar("abb_task_engine", default=None)
_worker_database: Database | None = None
_lock = threading.Lock()


def _database() -> Database:
    global _worker_database
    with _lock:
        if _worker_database is None:
            _worker_database = Database(get_settings())
        return _worker_database


@contextmanager
def bound_engine(engine: Engine) -> Iterator[None]:
    """Run the tasks called inside this block on `engine` (the embedded mode)."""
    token = _bound_engine.set(engine)
    try:
        yield
    finally:
        _bound_engine.reset(token)


@contextmanager
def task_session() -> Iterator[Session]:
    # Tasks write: on SQLite their transactions take the write lock up front (core.database.writing_engine).
    engine = _bound_engine.get()
    if engine is None:
        with _database().write_session_factory() as session:
            yield session
    else:
        with Session(writing_engine(engine), expire_on_commit=False) as session:
            yield session


@signals.worker_process_shutdown.connect
def _dispose_database(**_: object) -> None:
    global _worker_database
    with _lock:
        if _worker_database is not None:
            _worker_database.dispose()
            _worker_database = None

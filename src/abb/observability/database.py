"""SQLAlchemy hooks: query duration by statement kind, slow-query log lines, connection pool gauges.

The hooks are attached to the Engine and Pool classes once, so every engine of the process (the API's,
a Celery worker's, the CLI's) is measured. `abb_db_up` is not here: it is read at scrape time
(`collectors.DatabaseCollector`), which works even when no request touches the database.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from abb.core.config import Settings
from abb.observability.metrics import (
    DB_POOL_CHECKED_OUT,
    DB_POOL_OVERFLOW,
    DB_POOL_SIZE,
    DB_POOL_WAIT,
    DB_QUERY_DURATION,
)

log = logging.getLogger("abb.db")
_KINDS = ("select", "insert", "update", "delete")
_STATEMENT_CHILDREN = {kind: DB_QUERY_DURATION.labels(statement=kind) for kind in (*_KINDS, "other")}
_START_KEY = "abb_query_start"
_slow_seconds = 0.5
_installed = False


def statement_kind(statement: str) -> str:
    head = statement.lstrip()[:7].lower()
    for kind in _KINDS:
        if head.startswith(kind):
            return kind
    return "other"


def _before_cursor_execute(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    conn.info.setdefault(_START_KEY, []).append(time.perf_counter())


def _after_cursor_execute(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    starts = conn.info.get(_START_KEY)
    if not starts:
        return
    elapsed = time.perf_counter() - starts.pop()
    kind = statement_kind(statement)
    _STATEMENT_CHILDREN[kind].observe(elapsed)
    if elapsed >= _slow_seconds:
        # The statement text only: parameters may hold personal data.
        log.warning(
            "slow query",
            extra={"event.duration": int(elapsed * 1e9), "db.statement": statement[:500], "db.operation": kind},
        )


def _handle_error(context: Any) -> None:
    starts = context.connection.info.get(_START_KEY) if context.connection is not None else None
    if starts:
        starts.pop()


_last_size_overflow: tuple[int, int] | None = None


def _pool_gauges(pool: QueuePool) -> None:
    global _last_size_overflow
    DB_POOL_CHECKED_OUT.set(pool.checkedout())
    size_overflow = (pool.size(), max(pool.overflow(), 0))
    if size_overflow != _last_size_overflow:  # rarely changes: spare two locked writes per checkout
        _last_size_overflow = size_overflow
        DB_POOL_SIZE.set(size_overflow[0])
        DB_POOL_OVERFLOW.set(size_overflow[1])


def install_database_hooks(settings: Settings) -> None:
    """Listen on every engine and pool of this process (idempotent)."""
    global _installed, _slow_seconds
    _slow_seconds = settings.db_slow_query_seconds
    if _installed:
        return
    event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(Engine, "after_cursor_execute", _after_cursor_execute)
    event.listen(Engine, "handle_error", _handle_error)
    _measure_pool()
    _installed = True


def _measure_pool() -> None:
    """Time each wait for a pooled connection and keep the pool gauges current.

    QueuePool's `_do_get` (waiting in the queue, or connecting) and `_do_return_conn` are wrapped on the
    class: SQLAlchemy has no event before a checkout starts, and class-level wrapping also covers pools
    recreated by `engine.dispose()`.
    """
    original_get = QueuePool._do_get
    original_return = QueuePool._do_return_conn

    def timed_get(self: QueuePool) -> Any:
        start = time.perf_counter()
        try:
            return original_get(self)
        finally:
            DB_POOL_WAIT.observe(time.perf_counter() - start)
            _pool_gauges(self)

    def counted_return(self: QueuePool, record: Any) -> None:
        original_return(self, record)
        _pool_gauges(self)

    QueuePool._do_get = timed_get  # type: ignore[method-assign]
    QueuePool._do_return_conn = counted_return  # type: ignore[method-assign]

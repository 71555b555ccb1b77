"""SQLAlchemy hooks: query duration by statement kind, slow-query log lines, connection pool gauges.

Statements are timed around the dialect's `do_execute` / `do_execute_no_params` / `do_executemany` (the
calls that hand a statement to the DB-API cursor), and the pool around QueuePool's `_do_get` /
`_do_return_conn`. Both are wrapped on the classes once, so every engine of the process is measured (the
API's, a Celery worker's, the CLI's, and pools recreated by `engine.dispose()`). Why not SQLAlchemy's
`before/after_cursor_execute` events: with listeners there, every statement pays the event dispatch,
about 7 µs a statement here against under 2 µs for the wrapper (benchmarks/overhead.py, database read).
The timings are tallied and added to the histograms with the request recorder's next batch (at once in a
Celery worker or the CLI, where nothing batches): about 47,000 instructions less per database read
(benchmarks/instructions.py). The pool gauges are kept current at every checkout and return.
`abb_db_up` is not here: it is read at scrape time (`collectors.DatabaseCollector`), which works even
when no request touches the database.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.pool import QueuePool

from abb.core.config import Settings
from abb.observability.metrics import (
    DB_POOL_CHECKED_OUT,
    DB_POOL_OVERFLOW,
    DB_POOL_SIZE,
    DB_POOL_WAIT,
    DB_QUERY_DURATION,
    HistogramTally,
)
from abb.observability.recorder import recorder

log = logging.getLogger("abb.db")
_KINDS = ("select", "insert", "update", "delete")
# Observed through the request recorder: added with its next batch, like the HTTP metrics.
_STATEMENT_TALLIES = {kind: HistogramTally(DB_QUERY_DURATION.labels(statement=kind)) for kind in (*_KINDS, "other")}
_POOL_WAIT_TALLY = HistogramTally(DB_POOL_WAIT)
_slow_seconds = 0.5
_installed = False


@functools.lru_cache(maxsize=1024)  # statements are compiled once and cached: the same strings come back
def statement_kind(statement: str) -> str:
    head = statement.lstrip()[:7].lower()
    for kind in _KINDS:
        if head.startswith(kind):
            return kind
    return "other"


def _timed(execute: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(execute)
    def timed_execute(self: DefaultDialect, cursor: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(self, cursor, statement, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            kind = statement_kind(statement)
            recorder.observe(_STATEMENT_TALLIES[kind], elapsed)
            if elapsed >= _slow_seconds:
                # The statement text only: parameters may hold personal data.
                log.warning(
                    "slow query",
                    extra={"event.duration": int(elapsed * 1e9), "db.statement": statement[:500], "db.operation": kind},
                )

    return timed_execute


def install_database_hooks(settings: Settings) -> None:
    """Measure every engine and pool of this process (idempotent)."""
    global _installed, _slow_seconds
    _slow_seconds = settings.db_slow_query_seconds
    if _installed:
        return
    for name in ("do_execute", "do_execute_no_params", "do_executemany"):
        setattr(DefaultDialect, name, _timed(getattr(DefaultDialect, name)))
    _measure_pool()
    _installed = True


_last_size_overflow: tuple[int, int] | None = None


def _size_and_overflow(pool: QueuePool) -> None:
    global _last_size_overflow
    size_overflow = (pool.size(), max(pool.overflow(), 0))
    if size_overflow != _last_size_overflow:  # changes only when a connection opens or closes
        _last_size_overflow = size_overflow
        DB_POOL_SIZE.set(size_overflow[0])
        DB_POOL_OVERFLOW.set(size_overflow[1])


def _measure_pool() -> None:
    """Time each wait for a pooled connection and keep the pool gauges current.

    SQLAlchemy has no event before a checkout starts, hence the wrapping. Checked-out connections are
    counted up and down here rather than read from the pool, whose count takes the queue's lock.
    """
    original_get = QueuePool._do_get
    original_return = QueuePool._do_return_conn

    def timed_get(self: QueuePool) -> Any:
        start = time.perf_counter()
        try:
            connection = original_get(self)
        finally:  # a wait that ends in a pool timeout is the one that matters most
            recorder.observe(_POOL_WAIT_TALLY, time.perf_counter() - start)
        DB_POOL_CHECKED_OUT.inc()
        _size_and_overflow(self)
        return connection

    def counted_return(self: QueuePool, record: Any) -> None:
        DB_POOL_CHECKED_OUT.dec()
        original_return(self, record)
        _size_and_overflow(self)

    QueuePool._do_get = timed_get  # type: ignore[method-assign]
    QueuePool._do_return_conn = counted_return  # type: ignore[method-assign]

"""SQLAlchemy hooks: query duration by statement kind, slow-query log lines, connection pool gauges.

Statements are timed around the dialect's `do_execute` / `do_execute_no_params` / `do_executemany` (the
calls that hand a statement to the DB-API cursor), and waits for a connection around QueuePool's `_do_get`.
Both are wrapped on the classes once, so every engine of the process is measured (the API's, a Celery
worker's, the CLI's, and pools recreated by `engine.dispose()`). Why not SQLAlchemy's
`before/after_cursor_execute` events: with listeners there, every statement pays the event dispatch,
about 7 µs a statement here against under 2 µs for the wrapper (benchmarks/overhead.py, database read).
The timings are handed to the request recorder and added to the histograms with its next batch (at once in
a Celery worker or the CLI, where nothing batches); the pool gauges are read from the pools with every
batch and every scrape instead of being counted at every checkout and return. Together, per checkout and
statement: 48,000 → 18,000 instructions (one SQLite read through a Session, under callgrind).
`abb_db_up` is not here: it is read at scrape time (`collectors.DatabaseCollector`), which works even
when no request touches the database.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
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
    _measure_pools()
    recorder.add_sampler(_sample_pools)
    _installed = True


_pools: weakref.WeakSet[QueuePool] = weakref.WeakSet()  # every live pool of the process that lent a connection
_pools_lock = threading.Lock()  # a WeakSet cannot be iterated while another thread adds to it
_KNOWN = "_abb_measured"  # set on a pool once it is in _pools


def _measure_pools() -> None:
    """Time each wait for a pooled connection, and know every pool so that its gauges can be read.

    SQLAlchemy has no event before a checkout starts, hence the wrapping. A pool is known from its first
    checkout on, which also covers pools made before the hooks were installed and those `engine.dispose()`
    makes anew.
    """
    original_get = QueuePool._do_get

    def timed_get(self: QueuePool) -> Any:
        if _KNOWN not in self.__dict__:
            setattr(self, _KNOWN, True)
            with _pools_lock:
                _pools.add(self)
        start = time.perf_counter()
        try:
            return original_get(self)
        finally:  # a wait that ends in a pool timeout is the one that matters most
            recorder.observe(_POOL_WAIT_TALLY, time.perf_counter() - start)

    QueuePool._do_get = timed_get  # type: ignore[method-assign]


def _sample_pools() -> None:
    """The pool gauges, summed over the process's pools: read with every batch of the request recorder
    and every scrape, which costs nothing per checkout (counting at each one cost about 25,000
    instructions per database read)."""
    with _pools_lock:
        pools = list(_pools)
    DB_POOL_SIZE.set(sum(pool.size() for pool in pools))
    DB_POOL_CHECKED_OUT.set(sum(pool.checkedout() for pool in pools))
    DB_POOL_OVERFLOW.set(sum(max(pool.overflow(), 0) for pool in pools))

"""Prometheus metrics: the HTTP, database and frontend families, and the guarded `/metrics` page.

(Business counters are in `business.py`, Celery's in `celery.py`, the cache counter in `abb.core.cache`.)

With several worker processes (`abb serve --workers N`, Celery's prefork pool) prometheus_client's
multiprocess mode is used: `PROMETHEUS_MULTIPROC_DIR` is set before any worker starts, each process
writes its values to files there, and whichever process answers a scrape adds them all up.
Gauges computed from the database, the broker or the host are not per-process values: they are
collected once, at scrape time, by the collectors in `collectors.py`.
"""

from __future__ import annotations

import bisect
import hmac
import ipaddress
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector

from abb.core.config import Settings
from abb.core.errors import Forbidden, NotFound
from abb.observability.timeouts import run_beside_requests

log = logging.getLogger("abb.metrics")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# `_created` samples double the page size and no dashboard reads them.
disable_created_metrics()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
SIZE_BUCKETS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
PAGE_LOAD_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30)


class HistogramTally:
    """Observations for one labelled histogram, counted here and added to it in one go.

    prometheus_client offers only `observe(value)`, which for every value checks the labels, takes the
    child's locks (writes a file in multiprocess mode) and walks the buckets in Python. The request
    recorder hands over up to 64 values at a time, so it tallies them (one bisect each) and adds each
    bucket's count once. This reads the child's `_upper_bounds`, `_buckets` and `_sum`, which are not
    public: a test checks that a tally and `observe` give the same exposition, so a prometheus_client
    upgrade that changes them fails there, not in production.
    """

    __slots__ = ("_bounds", "_buckets", "_counts", "_sum", "_total")

    def __init__(self, child: Histogram) -> None:
        self._bounds: list[float] = child._upper_bounds  # ends with +Inf
        self._buckets = child._buckets
        self._sum = child._sum
        self._counts = [0] * len(self._bounds)
        self._total = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self._bounds, value)] += 1  # the first bound >= value, as observe()
        self._total += value

    def commit(self) -> None:
        counts = self._counts
        for index, count in enumerate(counts):
            if count:
                self._buckets[index].inc(count)
                counts[index] = 0
        self._sum.inc(self._total)
        self._total = 0.0


HTTP_REQUESTS = Counter("abb_http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "abb_http_request_duration_seconds",
    "Time from request received to response sent",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("abb_http_requests_in_flight", "Requests being served right now", multiprocess_mode="livesum")
HTTP_RESPONSE_SIZE = Histogram(
    "abb_http_response_size_bytes", "Response body size", ["method", "route"], buckets=SIZE_BUCKETS
)
HTTP_SHED = Counter(
    "abb_http_requests_shed",
    "Requests refused with 503 + Retry-After before any work, because too many were waiting (reason)",
    ["reason"],
)
HTTP_QUEUED = Gauge(
    "abb_http_requests_queued", "Requests waiting for admission (a database session)", multiprocess_mode="livesum"
)
EVENT_LOOP_LAG = Gauge(
    "abb_event_loop_lag_seconds",
    "Largest delay of the event loop's timer over the last 15 s (work blocking the loop); max over processes",
    multiprocess_mode="livemax",
)
DB_QUERY_DURATION = Histogram(
    "abb_db_query_duration_seconds",
    "SQL statement execution time, by statement kind",
    ["statement"],
    buckets=LATENCY_BUCKETS,
)
DB_POOL_SIZE = Gauge("abb_db_pool_size", "Connections the pool keeps open", multiprocess_mode="livesum")
DB_POOL_CHECKED_OUT = Gauge("abb_db_pool_checked_out", "Connections lent out right now", multiprocess_mode="livesum")
DB_POOL_OVERFLOW = Gauge("abb_db_pool_overflow", "Connections open beyond the pool size", multiprocess_mode="livesum")
DB_POOL_WAIT = Histogram("abb_db_pool_wait_seconds", "Time waited for a pooled connection", buckets=LATENCY_BUCKETS)
FRONTEND_PAGE_LOAD = Histogram(
    "abb_frontend_page_load_seconds",
    "Page load time reported by browsers (Navigation Timing)",
    ["page"],
    buckets=PAGE_LOAD_BUCKETS,
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """An empty directory for the values of a new set of worker processes (stale files would add up)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)


def mark_process_dead(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


class _Forward:
    """Everything in the process-wide registry (single-process mode)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


class _RecordWaitingRequests:
    """Records the finished requests still waiting in this process's batch (observability.recorder)."""

    def collect(self) -> Iterator[Any]:
        from abb.observability.recorder import recorder

        recorder.flush()
        yield from ()


def exposition_registry(scrape_collectors: Iterable[Collector]) -> CollectorRegistry:
    """The registry `/metrics` renders: per-process values (or all processes' sum) plus scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RecordWaitingRequests())  # first: the counts below include every answered request
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
        # process_* of the answering process: the multiprocess files cannot hold them.
        ProcessCollector(registry=registry)
    else:
        registry.register(_Forward())
    for collector in scrape_collectors:
        registry.register(collector)
    return registry


def _allowed_networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.metrics_allow]


def metrics_guard(settings: Settings) -> Callable[[Request], None]:
    """Who may read /metrics on the main port: the bearer token, or (outside production) an address in the
    allow-list. In production the peer address proves nothing (a reverse proxy on the same host makes every
    caller loopback), so only the token opens it; production refuses to start without a token or a port."""
    networks = _allowed_networks(settings) if settings.env != "production" else []
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None

    def check(request: Request) -> None:
        if settings.metrics_port:
            raise NotFound("Metrics are served on a separate port.")
        if token is not None:
            sent = request.headers.get("authorization", "")
            if sent.lower().startswith("bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token):
                return
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and any(address in net for net in networks):
            return
        raise Forbidden("Metrics are not public.")

    return check


def metrics_router(settings: Settings, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    check = metrics_guard(settings)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        check(request)
        page = await run_beside_requests(lambda: generate_latest(registry))
        return Response(page, media_type=CONTENT_TYPE_LATEST)

    return router


def serve_metrics_port(port: int, registry: CollectorRegistry, addr: str = "0.0.0.0") -> bool:  # noqa: S104
    """Serve `registry` on its own port; with several processes the first to bind serves them all."""
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError:
        return False
    log.info("metrics served on a separate port", extra={"server.port": port})
    return True

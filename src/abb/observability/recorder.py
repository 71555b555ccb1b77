"""What the middleware hands over when a request ends: its RED metrics and its access line, recorded in batches.

Why batches: done one request at a time, the metric updates and the access line cost about 40 µs of server
CPU per request, mostly because the code and data they touch are cold in the CPU cache after the request's
own work; done for many requests in one go they cost a fraction of that (benchmarks/overhead.py). So, like
nginx's `access_log … buffer= flush=`, finished requests wait until BATCH are waiting, a 5xx arrives (it and
those before it go out at once), ABB_TELEMETRY_FLUSH_SECONDS have passed, /metrics is read (a scrape sees every
request its process has answered), logging is reconfigured, or the process exits. Each request keeps its own
time, request id, trace ids and thread. A hard kill (SIGKILL, out of memory) loses at most that window's lines
and counts; ABB_TELEMETRY_FLUSH_SECONDS=0 records every request at once. The database layer's statement and
pool-wait timings go the same way (`observe`); the gauges of how things are now (requests in flight, the
database pools) are read from their source with every batch and every scrape (`add_sampler`).

Access lines go straight to the handlers `configure_logging` installed, without a LogRecord each (about 4 µs
apiece); the `abb.access` logger's level (ABB_LOG_LEVELS) applies as for any logger; with text logs
(ABB_LOG_JSON=false) each line is an ordinary record.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from starlette.types import Scope

from abb.core import context
from abb.core.context import request_id_var
from abb.observability.logging import ACCESS_LOGGER, json_line_sink
from abb.observability.metrics import HTTP_DURATION, HTTP_REQUESTS, HTTP_RESPONSE_SIZE, HistogramTally

BATCH = 64
_access_logger = logging.getLogger(ACCESS_LOGGER)
_flusher_logger = logging.getLogger(__name__)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class FinishedRequest(NamedTuple):
    """A request as the middleware hands it over. What can wait (method, route, caller) is read from its
    scope when the batch is recorded, not while the request's thread is answering."""

    scope: Scope  # the request's ASGI scope; nothing changes it once the response is sent
    status: int
    duration: float  # seconds
    size: int  # response body bytes
    created: float  # wall clock when it ended
    request_id: str
    user_agent: str | None
    thread_name: str
    trace_ids: tuple[str, str] | None
    metrics: bool  # what the middleware that saw it records
    access_log: bool

    @property
    def method(self) -> str:
        """One of a fixed set, or OTHER: a label value."""
        method: str = self.scope["method"]
        return method if method in _METHODS else "OTHER"

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def route(self) -> str:
        """The template of the route that handled it, the mount path for a mounted app, else unmatched."""
        route = self.scope.get("route")
        if route is not None:
            return str(route.path_format)
        if "app_root_path" in self.scope:  # a Mount (e.g. /static) matched
            return str(self.scope.get("root_path") or UNMATCHED)
        return UNMATCHED

    @property
    def client_ip(self) -> str | None:
        return context.client_ip(self.scope)

    @property
    def user_id(self) -> str | None:
        return context.actor_id(self.scope)


class RequestRecorder:
    def __init__(self) -> None:
        self._flush_seconds = 0.0
        # Set when the window changes, so the flusher never sleeps out an old, longer window.
        self._window_changed = threading.Event()
        self._pending: list[FinishedRequest] = []
        self._lock = threading.Lock()  # held while queueing and while recording, so lines keep their order
        self._flusher: threading.Thread | None = None
        # Label children, cached: `.labels()` takes a lock and builds a tuple on each call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._tallies: dict[tuple[str, str], tuple[HistogramTally, HistogramTally]] = {}
        # Observations made outside the batch (database statement and pool timings, on request threads).
        # A deque because its append and popleft are atomic: a request thread takes no lock to hand one over.
        self._observations: deque[tuple[HistogramTally, float]] = deque()
        # Gauges read from their source with every batch (and so at every scrape), rather than kept current
        # at every event: requests in flight, the database pools' size, checked-out and overflow counts.
        self._samplers: list[Callable[[], None]] = []

    @property
    def flush_seconds(self) -> float:
        """How long a finished request may wait for its batch; 0 records every request at once."""
        return self._flush_seconds

    @flush_seconds.setter
    def flush_seconds(self, seconds: float) -> None:
        self._flush_seconds = seconds
        self._window_changed.set()

    def add(self, request: FinishedRequest) -> None:
        with self._lock:
            self._pending.append(request)
            if len(self._pending) >= BATCH or request.status >= 500 or not self.flush_seconds:
                self._record_pending()
        if self._flusher is None and self.flush_seconds:
            self._start_flusher()

    def flush(self) -> None:
        with self._lock:
            self._record_pending()

    def observe(self, tally: HistogramTally, value: float) -> None:
        """One observation for a histogram, added with the next batch (at once where nothing is batched:
        a Celery worker, the CLI, ABB_TELEMETRY_FLUSH_SECONDS=0)."""
        self._observations.append((tally, value))
        if not self.flush_seconds:
            self.flush()
        elif self._flusher is None:  # database work before the first request: still added within the window
            self._start_flusher()

    def add_sampler(self, sample: Callable[[], None]) -> None:
        """Run `sample` (it sets gauges from their source) with every batch and every flush."""
        self._samplers.append(sample)

    def _record_pending(self) -> None:
        self._add_observations()
        for sample in self._samplers:
            sample()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        sink = json_line_sink()
        lines: list[str] = []
        pid = os.getpid()
        self._observe([request for request in pending if request.metrics])
        enabled = {level: _access_logger.isEnabledFor(level) for level in (logging.INFO, logging.ERROR)}
        for request in pending:
            level = logging.ERROR if request.status >= 500 else logging.INFO
            if not (request.access_log and enabled[level]):
                continue
            message, own, sent = _line(request)
            if sink is None:
                token = request_id_var.set(request.request_id)
                _access_logger.log(level, message, extra={**own, **dict(sent)})
                request_id_var.reset(token)
                continue
            lines.append(
                sink.formatter.render(
                    created=request.created,
                    level=level,
                    logger=ACCESS_LOGGER,
                    message=message,
                    fields=sent,
                    own_fields=own,
                    pid=pid,
                    thread_name=request.thread_name,
                    request_id=request.request_id,
                    trace_ids=request.trace_ids,
                )
            )
        if lines and sink is not None:
            for handler in sink.handlers:
                handler.write_lines(lines)

    def _observe(self, requests: list[FinishedRequest]) -> None:
        """The RED metrics of a batch: counts and histogram buckets added once per label set."""
        counts: dict[tuple[str, str, int], int] = {}
        touched: dict[tuple[str, str], tuple[HistogramTally, HistogramTally]] = {}
        for request in requests:
            key = (request.method, request.route, request.status)
            counts[key] = counts.get(key, 0) + 1
            tallies = touched.get(key[:2]) or self._tallies_for(key[:2])
            touched[key[:2]] = tallies
            tallies[0].observe(request.duration)
            tallies[1].observe(request.size)
        for key, count in counts.items():
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = HTTP_REQUESTS.labels(key[0], key[1], str(key[2]))
            counter.inc(count)
        for duration, size in touched.values():
            duration.commit()
            size.commit()

    def _add_observations(self) -> None:
        observations, touched = self._observations, set()
        while observations:  # only this thread (holding the lock) takes from the left
            tally, value = observations.popleft()
            tally.observe(value)
            touched.add(tally)
        for tally in touched:
            tally.commit()

    def _tallies_for(self, method_route: tuple[str, str]) -> tuple[HistogramTally, HistogramTally]:
        tallies = self._tallies.get(method_route)
        if tallies is None:
            tallies = self._tallies[method_route] = (
                HistogramTally(HTTP_DURATION.labels(*method_route)),
                HistogramTally(HTTP_RESPONSE_SIZE.labels(*method_route)),
            )
        return tallies

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="abb-telemetry", daemon=True)
        self._flusher.start()

    def _flush_periodically(self) -> None:
        while True:
            # No window (0): nothing waits, so sleep until a window is set.
            if self._window_changed.wait(self._flush_seconds or None):
                self._window_changed.clear()
                continue  # a new window: wait it out from now
            try:
                self.flush()
            except Exception:
                # One failed batch (a broken log stream, a metric error) must not stop every later one.
                _flusher_logger.exception("recording a batch of finished requests failed; the next batch goes on")


def _line(request: FinishedRequest) -> tuple[str, dict[str, Any], list[tuple[str, Any]]]:
    """The access line's message and fields (docs/observability.md) besides those every line has: the ones
    the service makes itself, then the ones that come from the request (masked like any text)."""
    method, path = request.method, request.path
    own = {
        "event.dataset": ACCESS_LOGGER,
        "event.duration": int(request.duration * 1e9),
        "http.request.method": method,  # one of a fixed set
        "http.route": request.route,
        "http.response.status_code": request.status,
        "http.response.body.bytes": request.size,
    }
    user_id = request.user_id
    if user_id is not None:
        own["user.id"] = user_id
    sent: list[tuple[str, Any]] = [("url.path", path)]
    client_ip = request.client_ip
    if client_ip is not None:
        sent.append(("client.ip", client_ip))
    if request.user_agent is not None:
        sent.append(("user_agent.original", request.user_agent))
    return f"{method} {path} {request.status}", own, sent


recorder = RequestRecorder()
atexit.register(recorder.flush)

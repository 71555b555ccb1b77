"""One pure-ASGI middleware for every HTTP request: RED metrics, request id and the JSON access log line.

It wraps the whole Starlette stack (outside ServerErrorMiddleware), so 500 answers are counted and the
"unhandled error" log line still carries the request id. Labels use the matched route's template
(`/api/v1/deals/{deal_id}`), never the raw path; paths that match no route are folded into "unmatched"
(`recorder.FinishedRequest.route`).
The server span comes from FastAPI's own OpenTelemetry support, which wraps this middleware once a
tracer provider is set (`tracing.py`), so the access line carries the trace id.
"""

from __future__ import annotations

import random
import re
import threading
import time
import weakref

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.context import request_id_var
from abb.observability.logging import json_line_sink
from abb.observability.metrics import HTTP_IN_FLIGHT
from abb.observability.recorder import FinishedRequest, recorder

REQUEST_ID_HEADER = b"x-request-id"
USER_AGENT_HEADER = b"user-agent"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def _request_id_and_user_agent(scope: Scope) -> tuple[str, str | None]:
    """The client's X-Request-ID when well-formed (else a new id) and its User-Agent, in one pass."""
    sent_id = user_agent = None
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            sent_id = sent_id if sent_id is not None else value
        elif name == USER_AGENT_HEADER:
            user_agent = user_agent if user_agent is not None else value.decode("latin-1")[:512]
    if sent_id is not None and _VALID_REQUEST_ID.fullmatch(sent_id):
        return sent_id.decode(), user_agent
    # Unique, not secret: Python's generator (reseeded in every forked child) costs less than os.urandom.
    return f"{random.getrandbits(128):032x}", user_agent


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: bool = True, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_access = access_log
        # Requests being answered, read into abb_http_requests_in_flight with every batch and scrape. A plain
        # count: only the app's event loop thread runs this middleware, so no lock is needed.
        self.in_flight = 0
        if metrics:
            with _measured_lock:
                _measured.add(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id, user_agent = _request_id_and_user_agent(scope)
        token = request_id_var.set(request_id)
        status = 500
        size = 0
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def observed_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, receive, observed_send)
        finally:
            duration = time.perf_counter() - start
            self.in_flight -= 1
            sink = json_line_sink()
            recorder.add(
                FinishedRequest(
                    scope,
                    status,
                    duration,
                    size,
                    time.time(),
                    request_id,
                    user_agent,
                    threading.current_thread().name,
                    sink.formatter.current_trace_ids() if sink is not None and self.log_access else None,
                    self.metrics,
                    self.log_access,
                )
            )
            request_id_var.reset(token)


_measured: weakref.WeakSet[ObservabilityMiddleware] = weakref.WeakSet()  # with metrics on
_measured_lock = threading.Lock()  # a WeakSet cannot be iterated while another thread adds to it


def _sample_in_flight() -> None:
    with _measured_lock:
        middlewares = list(_measured)
    HTTP_IN_FLIGHT.set(sum(middleware.in_flight for middleware in middlewares))


recorder.add_sampler(_sample_in_flight)


def install_middleware(app: FastAPI, *, metrics: bool, access_log: bool, flush_seconds: float) -> None:
    """Wrap the app's whole middleware stack (Starlette builds it on the first request).

    With both metrics and the access log off (the benchmark's baseline) nothing is wrapped at all.
    """
    if not (metrics or access_log):
        return
    recorder.flush_seconds = flush_seconds
    build = app.build_middleware_stack

    def build_observed_stack() -> ASGIApp:
        return ObservabilityMiddleware(build(), metrics=metrics, access_log=access_log)

    app.build_middleware_stack = build_observed_stack  # type: ignore[method-assign]

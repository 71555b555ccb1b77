"""OpenTelemetry tracing: off by default, on when the standard OTEL_* exporter variables are set.

Incoming requests get a server span from `middleware.ObservabilityMiddleware` (cheaper than the ASGI
instrumentation, which builds its attributes and two extra spans per message even when not sampled);
SQLAlchemy, Redis, Celery (publish → run, one trace), httpx and requests use the OpenTelemetry
instrumentations. Spans go to the OTLP exporter configured by `OTEL_EXPORTER_OTLP_*`
(docs/observability.md shows Elastic APM, Datadog and New Relic), sampled at `ABB_TRACING_SAMPLE_RATIO`
(parent-based: a sampled caller's trace is always continued).
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy import Engine

from abb import __version__
from abb.core.config import Settings

log = logging.getLogger("abb.tracing")
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACER_NAME = "abb"
_provider: TracerProvider | None = None
_instrumented_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def tracing_wanted(settings: Settings) -> bool:
    if settings.tracing_enabled is not None:
        return settings.tracing_enabled
    return any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


def tracing_active() -> bool:
    return _provider is not None


def setup_tracing(settings: Settings, exporter: SpanExporter | None = None) -> bool:
    """Install the tracer provider and the library instrumentations once per process.

    `exporter` (tests: an in-memory exporter) is added with a synchronous processor; otherwise spans
    are batched to OTLP over HTTP. Returns whether tracing is on.
    """
    global _provider
    if exporter is None and not tracing_wanted(settings):
        return _provider is not None
    if _provider is None:
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.version": __version__,
                "deployment.environment": settings.env,
            }
        )
        _provider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio))
        )
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
        _instrument_libraries(_provider)
        log.info("tracing on", extra={"labels.sample_ratio": settings.tracing_sample_ratio})
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    return True


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    for instrumentor in (
        SQLAlchemyInstrumentor(),
        RedisInstrumentor(),
        CeleryInstrumentor(),
        HTTPXClientInstrumentor(),
        RequestsInstrumentor(),
    ):
        instrumentor.instrument(tracer_provider=provider)


def instrument_engine(engine: Engine) -> None:
    """Database spans for an engine made before tracing was set up (our engines come from make_engine)."""
    if _provider is None or engine in _instrumented_engines:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=_provider), engine, usage)
    _instrumented_engines.add(engine)


def server_tracer() -> Any:
    """The tracer for request spans, or None when tracing is off (the middleware then skips it all)."""
    return _provider.get_tracer(TRACER_NAME, __version__) if _provider is not None else None

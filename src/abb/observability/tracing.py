"""OpenTelemetry tracing: off by default, on when the standard OTEL_* exporter variables are set.

Incoming requests get their server span (named by route template; an exception sets the error status
and `error.type`) from FastAPI's built-in OpenTelemetry support, which turns on once a tracer provider
is set; the "unhandled error" log line with the stack trace carries the same trace.id. SQLAlchemy,
Redis, Celery (publish → run, one trace), httpx and requests use the OpenTelemetry instrumentations.
Spans go to the OTLP exporter configured by `OTEL_EXPORTER_OTLP_*` (docs/observability.md shows
Elastic APM, Datadog and New Relic), sampled at `ABB_TRACING_SAMPLE_RATIO` (parent-based: a sampled
caller's trace is always continued).
"""

from __future__ import annotations

import logging
import os
import weakref

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy import Engine, event

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
        # Our engines are made by abb.core.database before tracing starts: instrument each on first use.
        event.listen(Engine, "engine_connect", lambda connection: instrument_engine(connection.engine))
        log.info("tracing on", extra={"labels.sample_ratio": settings.tracing_sample_ratio})
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    return True


def _instrument_libraries(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # SQLAlchemy: per engine, see instrument_engine.
    for instrumentor in (
        RedisInstrumentor(),
        CeleryInstrumentor(),
        HTTPXClientInstrumentor(),
        RequestsInstrumentor(),
    ):
        instrumentor.instrument(tracer_provider=provider)


def instrument_engine(engine: Engine) -> None:
    """Database spans for an engine (SQLAlchemyInstrumentor only wraps engines created after it, and refuses
    SQLAlchemy 2.1, whose engine events its EngineTracer handles fine)."""
    if _provider is None or engine in _instrumented_engines:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
    EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=_provider), engine, usage)
    _instrumented_engines.add(engine)

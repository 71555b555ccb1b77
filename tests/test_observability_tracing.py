"""Tracing: one request is one trace with its database spans; a task it enqueues runs in the same trace."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from abb.core.config import get_settings
from abb.observability.tracing import setup_tracing
from abb.tasks import RECOMPUTE_PROFILE_MATCHES
from tests.conftest import make_settings
from tests.factories import PASSWORD, sme_payload
from tests.fixtures_observability import LOOPBACK, app_on
from tests.harness.services import free_port
from tests.waiting import wait_until


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Tracing on for this test process (once: the tracer provider is process-wide), spans kept in memory."""
    exporter = InMemorySpanExporter()
    setup_tracing(make_settings(tracing_sample_ratio=1.0), exporter=exporter)
    return exporter


def _sign_up(client: TestClient, email: str) -> dict[str, str]:
    client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "full_name": "T", "role": "sme"})
    tokens = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_one_request_is_one_trace_with_database_spans(make_obs_app, span_exporter, log_capture):
    app = make_obs_app(tracing_enabled=True)
    log_capture.attach(app.state.settings)
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        headers = _sign_up(client, "traced.user@example.it")
        span_exporter.clear()
        response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    spans = span_exporter.get_finished_spans()
    assert len({span.context.trace_id for span in spans}) == 1, [s.name for s in spans]
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.name for s in server] == ["GET /api/v1/me"]
    assert server[0].attributes["http.response.status_code"] == 200
    database = [s for s in spans if s.kind is SpanKind.CLIENT and s.attributes.get("db.system")]
    assert database, "no database span in the request's trace"
    assert all(s.parent is not None for s in database)
    access = next(r for r in log_capture.records() if r.get("http.request.id") == response.headers["x-request-id"])
    assert access["trace.id"] == format(server[0].context.trace_id, "032x")


def test_exceptions_are_recorded_on_the_span_and_the_stack_trace_line_carries_its_trace_id(
    make_obs_app, span_exporter, log_capture
):
    app = make_obs_app(tracing_enabled=True)

    @app.get("/explode")
    def explode() -> None:
        raise LookupError("the thing was not there")

    log_capture.attach(app.state.settings)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        span_exporter.clear()
        assert client.get("/explode").status_code == 500
    server = next(s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert server.status.status_code is StatusCode.ERROR
    assert server.attributes["error.type"] == "LookupError"
    assert server.attributes["http.response.status_code"] == 500
    crash = next(r for r in log_capture.records() if r["message"] == "unhandled error")
    assert crash["trace.id"] == format(server.context.trace_id, "032x")
    assert "LookupError: the thing was not there" in crash["error.stack_trace"]


class OtlpReceiver:
    """A small double of an OpenTelemetry collector: keeps the spans POSTed to /v1/traces (OTLP/HTTP protobuf)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.spans: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend(scope_spans.spans)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def test_a_task_the_request_enqueued_runs_in_the_same_trace_and_logs_its_request_id(
    span_exporter, otlp_receiver, redis_env, committed_database, start_worker, tmp_path
):
    # otlp_receiver comes first so that it outlives the worker, whose last spans are flushed as it stops.
    url, engine = committed_database
    worker = start_worker(
        {
            "ABB_DATABASE_URL": url,
            "ABB_REDIS_URL": get_settings().redis_url,
            "ABB_LOG_LEVELS": "abb=INFO,sqlalchemy.engine=INFO",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_receiver.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
    )
    app = app_on(engine, make_settings(database_url=url, var_dir=tmp_path, tracing_enabled=True))
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        headers = _sign_up(client, "task.tracer@example.it")
        span_exporter.clear()
        created = client.post("/api/v1/smes", json=sme_payload(), headers={**headers, "X-Request-ID": "trace-task-1"})
    assert created.status_code == 201, created.text
    server = next(s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER)
    trace_id = server.context.trace_id.to_bytes(16, "big")
    run_name = f"run/{RECOMPUTE_PROFILE_MATCHES}"
    runs = wait_until(
        lambda: [s for s in otlp_receiver.spans if s.name == run_name],
        timeout=60,
        what=f"the worker to export a {run_name} span",
        detail=lambda: [s.name for s in otlp_receiver.spans],
    )
    assert runs[0].trace_id == trace_id  # producer (the request) → worker: one trace
    worker_db_spans = [s for s in otlp_receiver.spans if s.trace_id == trace_id and s.name != run_name]
    assert worker_db_spans, "the task's database work is not in the request's trace"
    worker.wait_for_log("recomputed matches")
    task_lines = [line for line in worker.log().splitlines() if "trace-task-1" in line]  # JSON or plain lines
    assert any("sqlalchemy.engine" in line for line in task_lines), "the task's database lines lack the request id"
    assert any("abb.tasks" in line for line in task_lines)

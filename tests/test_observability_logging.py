"""Structured logs: ECS JSON lines, request ids end to end, no secrets anywhere, Logstash shipping."""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from logstash_async.constants import constants as logstash_constants
from prometheus_client import REGISTRY, generate_latest

from abb.observability.logging import (
    REDACTED,
    EcsJsonFormatter,
    configure_logging,
    parse_levels,
    redact,
)
from abb.observability.metrics import exposition_registry
from abb.observability.recorder import BATCH, FinishedRequest, recorder
from tests.conftest import make_settings
from tests.factories import PASSWORD, sme_payload
from tests.fixtures_observability import LOOPBACK, LiveServer, sample
from tests.harness.services import free_port
from tests.waiting import wait_until

ECS_FIELDS = {
    "@timestamp",
    "log.level",
    "message",
    "log.logger",
    "service.name",
    "ecs.version",
    "http.request.id",
    "http.request.method",
    "url.path",
    "http.response.status_code",
    "event.duration",
}
CARD = "4111 1111 1111 1111"


def access_lines(records: list[dict], request_id: str | None = None) -> list[dict]:
    return [
        r
        for r in records
        if r.get("event.dataset") == "abb.access" and (request_id is None or r.get("http.request.id") == request_id)
    ]


def test_json_lines_with_ecs_fields_and_request_ids(make_obs_app, log_capture):
    app = make_obs_app()
    log_capture.attach(app.state.settings)
    with TestClient(app, client=LOOPBACK) as client:
        given = client.get("/health/live", headers={"X-Request-ID": "req-from-the-edge-42"})
        generated = client.get("/health/live")
        forged = client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})
        missing = client.get("/no/such/page")
    assert given.headers["x-request-id"] == "req-from-the-edge-42"
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])  # not echoed: replaced
    records = log_capture.records()  # every line parses as one JSON object
    line = access_lines(records, "req-from-the-edge-42")
    assert len(line) == 1
    assert set(line[0]) >= ECS_FIELDS
    assert line[0]["http.request.method"] == "GET" and line[0]["url.path"] == "/health/live"
    assert line[0]["http.response.status_code"] == 200 and line[0]["log.level"] == "info"
    assert line[0]["service.name"] == "abb-api" and isinstance(line[0]["event.duration"], int)
    assert access_lines(records, generated.headers["x-request-id"])
    assert access_lines(records, missing.headers["x-request-id"])[0]["http.route"] == "unmatched"


def test_signed_in_requests_log_the_user(make_obs_app, log_capture):
    app = make_obs_app()
    log_capture.attach(app.state.settings)
    body = {"email": "user.logged@example.it", "password": PASSWORD, "full_name": "Logged User", "role": "partner"}
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        user_id = client.post("/api/v1/auth/register", json=body).json()["id"]
        tokens = client.post("/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}).json()
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    line = access_lines(log_capture.records(), me.headers["x-request-id"])[0]
    assert line["user.id"] == str(user_id)


def test_database_layer_lines_carry_the_request_id(make_obs_app, log_capture):
    # Every statement counts as slow here, and SQLAlchemy's own engine log is on.
    app = make_obs_app(db_slow_query_seconds=1e-9, log_levels="abb=INFO,sqlalchemy.engine=INFO")
    log_capture.attach(app.state.settings)
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        response = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever-it-is"})
    request_id = response.headers["x-request-id"]
    records = [r for r in log_capture.records() if r.get("http.request.id") == request_id]
    slow = [r for r in records if r["log.logger"] == "abb.db" and r["message"] == "slow query"]
    engine = [r for r in records if r["log.logger"].startswith("sqlalchemy.engine")]
    assert any(r["db.operation"] == "select" and "FROM users" in r["db.statement"] for r in slow)
    assert engine, "SQLAlchemy's engine lines should carry the request id"


def test_lines_of_a_task_the_request_enqueued_carry_its_request_id(make_obs_app, log_capture):
    """Embedded mode (no broker): the task runs on a background thread, with the request's id restored."""
    app = make_obs_app(log_levels="abb=INFO,sqlalchemy.engine=INFO")
    log_capture.attach(app.state.settings)
    body = {"email": "task.owner@example.it", "password": PASSWORD, "full_name": "Task Owner", "role": "sme"}
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        client.post("/api/v1/auth/register", json=body)
        tokens = client.post("/api/v1/auth/login", json={"email": body["email"], "password": PASSWORD}).json()
        created = client.post(
            "/api/v1/smes",
            json=sme_payload(),
            headers={"Authorization": f"Bearer {tokens['access_token']}", "X-Request-ID": "enqueue-request-1"},
        )
        assert created.status_code == 201, created.text
        task_lines = wait_until(
            lambda: [r for r in log_capture.records() if r.get("process.thread.name", "").startswith("abb-task")],
            timeout=60,
            what="a log line from the enqueued task",
        )
    assert {r.get("http.request.id") for r in task_lines} == {"enqueue-request-1"}


def test_redaction_patterns():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"
    text = (
        f"Authorization: Bearer {jwt} password=hunter2-secret {{'refresh_token': 'opaque-abc'}} "
        f"card {CARD} id 1234567890123 [parameters: ('a@b.c', 'hash')]"
    )
    cleaned = redact(text)
    for secret in (jwt, "hunter2-secret", "opaque-abc", CARD, "'hash'"):
        assert secret not in cleaned
    assert "1234567890123" in cleaned  # not a valid card number (Luhn): left alone
    assert cleaned.count(REDACTED) >= 5
    assert parse_levels("abb=DEBUG, sqlalchemy.engine=warning,=ERROR") == {
        "abb": 10,
        "sqlalchemy.engine": 30,
        "": 40,
    }
    with pytest.raises(ValueError):
        parse_levels("abb=LOUD")


def test_the_cheap_look_finds_every_run_of_four_digits():
    """`_may_hold_secret` folds digits instead of searching with a regex: it must see exactly what the
    regex sees (ASCII digits only; other scripts' digits and multi-byte characters in between)."""
    import random

    from abb.observability.logging import _may_hold_secret

    four_digits = re.compile(r"[0-9]{4}")
    rng = random.Random(11)
    alphabet = "0123456789 -/.x\u0663\u0664é\U0001f600\udcff"  # Arabic-Indic digits, é, an emoji, a lone surrogate
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _may_hold_secret(text) == (four_digits.search(text) is not None), repr(text)


def test_sensitive_fields_passed_as_extra_are_masked():
    import logging

    record = logging.LogRecord("abb.x", logging.INFO, __file__, 1, "login", (), None)
    record.__dict__.update({"user.password": "pw-in-extra", "http.request.headers": {"cookie": "abb_session=s3"}})
    doc = json.loads(EcsJsonFormatter("abb-api", "test").format(record))
    assert doc["user.password"] == REDACTED
    assert doc["http.request.headers"]["cookie"] == REDACTED


def test_no_secret_reaches_a_log_line_on_any_path(make_obs_app, log_capture, capsys):
    app = make_obs_app(log_levels="DEBUG")  # everything, every logger

    @app.post("/boom")
    async def boom(request: Request) -> None:
        body = await request.json()
        # What a careless bug looks like: request data in an exception message.
        raise RuntimeError(
            f"could not charge {body} card={body['card_number']} "
            f"auth={request.headers.get('authorization')} cookie={request.headers.get('cookie')}"
        )

    log_capture.attach(app.state.settings)
    email = "secret.keeper@example.it"
    with TestClient(app, base_url="https://testserver", client=LOOPBACK, raise_server_exceptions=False) as client:
        client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": "Secret Keeper", "role": "sme"},
        )
        client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "full_name": "X", "role": "sme"}
        )
        client.post(
            "/api/v1/auth/register",
            json={"email": "weak@example.it", "password": "short", "full_name": "W", "role": "sme"},
        )
        client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-" + PASSWORD})
        tokens = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).json()
        client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})  # reuse: 401, family revoked
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}x"})
        client.get("/api/v1/me", headers={"Cookie": f"abb_session={access}"})
        client.get(
            f"/api/v1/smes/{CARD.replace(' ', '')}", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
        )
        client.get(f"/api/v1/smes?q={CARD}&token={refresh}")
        client.post("/api/v1/rum", json={"page": "login", "load_ms": 1, "card_number": CARD, "password": PASSWORD})
        # The web form: password in a form body, the session in a cookie.
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf})
        session_cookie = client.cookies.get("abb_session")
        client.get("/dashboard")
        crash = client.post(
            "/boom",
            json={"password": PASSWORD, "card_number": CARD, "refresh_token": refresh},
            headers={"Authorization": f"Bearer {access}", "Cookie": f"abb_session={session_cookie}"},
        )
    assert crash.status_code == 500
    output = log_capture.text + capsys.readouterr().out
    assert "unhandled error" in output and "/boom" in output  # the paths above were logged...
    secrets = [PASSWORD, access, refresh, refreshed["refresh_token"], session_cookie, CARD, CARD.replace(" ", "")]
    for secret in secrets:
        assert secret and secret not in output, f"a secret reached the logs: {secret[:6]}…"
        assert secret not in crash.text
    crash_line = next(r for r in log_capture.records() if r["message"] == "unhandled error")
    assert crash_line["error.type"] == "RuntimeError" and REDACTED in crash_line["error.message"]
    assert crash_line["http.request.id"] == crash.headers.get("x-request-id", crash_line["http.request.id"])


class JsonLinesReceiver:
    """A Logstash stand-in: a TCP server that keeps every json_lines event (a small double of Logstash's input)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.server: socketserver.ThreadingTCPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    if line.strip():
                        with receiver.lock:
                            receiver.events.append(json.loads(line))

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self.server.block_on_close = True  # stop() waits until open connections are read to the end
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def request_ids(self) -> list[str]:
        with self.lock:
            return [
                e["http.request.id"]
                for e in self.events
                if e.get("event.dataset") == "abb.access" and "http.request.id" in e
            ]


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_logstash_shipping_survives_an_outage_without_loss_or_duplicates(make_obs_app, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(logstash_constants, "QUEUE_CHECK_INTERVAL", 0.1)
    monkeypatch.setattr(logstash_constants, "QUEUED_EVENTS_FLUSH_INTERVAL", 0.2)
    monkeypatch.setattr(logstash_constants, "SOCKET_TIMEOUT", 1.0)
    port = free_port()
    receiver = JsonLinesReceiver(port)
    receiver.start()
    app = make_obs_app(
        logstash_host="127.0.0.1",
        logstash_port=port,
        logstash_buffer_path=tmp_path / "buffer.db",
    )
    sent: list[str] = []
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:

        def burst(label: str) -> None:
            for i in range(15):
                request_id = f"{label}-{i}"
                response = client.get("/health/live", headers={"X-Request-ID": request_id})
                assert response.status_code == 200  # requests complete, whatever Logstash's state
                sent.append(request_id)

        burst("before")
        # Stop the receiver the way Logstash stops: after reading what it had accepted. (Bytes the kernel
        # accepted for a listener that then vanishes are lost to any plain-TCP shipper: see observability.md.)
        wait_until(
            lambda: set(sent) <= set(receiver.request_ids()), timeout=60, what="Logstash to receive the first burst"
        )
        receiver.stop()
        assert _refused(port)
        burst("during")  # Logstash down: every request still answered
        time.sleep(1.0)  # several flush attempts fail meanwhile
        receiver.start()
        burst("after")
        wait_until(
            lambda: set(sent) <= set(receiver.request_ids()),
            timeout=60,
            what="Logstash to receive every event, those sent during the outage included",
            detail=lambda: sorted(set(sent) - set(receiver.request_ids()))[:5],
        )
    received = receiver.request_ids()
    receiver.stop()
    missing = set(sent) - set(received)
    assert not missing, f"events lost: {sorted(missing)[:5]}"
    duplicates = {rid for rid in sent if received.count(rid) > 1}
    assert not duplicates, f"events delivered twice: {sorted(duplicates)[:5]}"


def test_uvicorn_colour_copy_of_the_message_is_not_a_field():
    import json
    import logging

    from abb.observability.logging import EcsJsonFormatter

    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started server process [%d]", (7,), None)
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    line = json.loads(EcsJsonFormatter("abb-api", "test").format(record))
    assert line["message"] == "Started server process [7]"
    assert "color_message" not in line


class _Lines:
    """A stream that keeps each write() call apart, to see how finished requests are written in batches."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass

    def records(self) -> list[dict]:
        return [json.loads(line) for text in self.writes for line in text.splitlines()]


def finished(request_id: str, status: int = 200, route: str = "/batch/{n}") -> FinishedRequest:
    class Route:
        path_format = route

    scope = {"method": "GET", "path": "/batch/1", "route": Route(), "client": ("127.0.0.1", 50000), "state": {}}
    return FinishedRequest(scope, status, 0.002, 10, time.time(), request_id, "pytest", "MainThread", None, True, True)


def answered(route: str = "/batch/{n}") -> float:
    return sample(
        generate_latest(REGISTRY).decode(), "abb_http_requests_total", method="GET", route=route, status="200"
    )


@pytest.fixture
def batching() -> Iterator[_Lines]:
    """Logs to a `_Lines` stream; finished requests wait up to an hour (longer than any test) for their batch."""
    stream = _Lines()
    configure_logging(make_settings(), stream)  # type: ignore[arg-type]
    recorder.flush_seconds = 3600  # longer than any test: a flusher still sleeping on it fails the test
    yield stream
    recorder.flush_seconds = 0
    configure_logging(make_settings())


def test_finished_requests_are_recorded_in_batches_in_order_each_with_its_own_request_id(batching):
    before = answered()
    for i in range(BATCH - 1):
        recorder.add(finished(f"req-{i}"))
    assert batching.writes == [] and answered() == before  # waiting for the batch to fill (or the window)
    recorder.add(finished(f"req-{BATCH - 1}"))
    assert len(batching.writes) == 1  # one write for the whole batch
    lines = batching.records()
    assert [line["http.request.id"] for line in lines] == [f"req-{i}" for i in range(BATCH)]
    assert all(line["log.logger"] == "abb.access" and line["http.route"] == "/batch/{n}" for line in lines)
    assert answered() == before + BATCH


def test_a_5xx_is_recorded_at_once_after_the_requests_waiting_before_it(batching):
    recorder.add(finished("ok-1"))
    recorder.add(finished("ok-2"))
    assert batching.writes == []
    recorder.add(finished("failed", status=503))
    assert [(r["http.request.id"], r["log.level"]) for r in batching.records()] == [
        ("ok-1", "info"),
        ("ok-2", "info"),
        ("failed", "error"),
    ]


def test_reading_metrics_records_the_waiting_requests_first(batching):
    before = answered("/scraped")
    for i in range(3):
        recorder.add(finished(f"s-{i}", route="/scraped"))
    page = generate_latest(exposition_registry([])).decode()  # what /metrics renders
    assert sample(page, "abb_http_requests_total", method="GET", route="/scraped", status="200") == before + 3


def test_waiting_requests_are_recorded_when_the_window_passes_without_more_traffic(batching):
    recorder.flush_seconds = 0.1
    recorder.add(finished("lonely"))
    # By the flusher thread, no other request needed.
    wait_until(lambda: batching.writes, timeout=60, what="the flusher to write the waiting request's access line")
    assert [r["http.request.id"] for r in batching.records()] == ["lonely"]


def test_a_shorter_window_wakes_a_flusher_asleep_on_a_longer_one(batching):
    recorder.add(finished("early"))  # the flusher is running now, asleep on the hour-long window
    recorder.flush_seconds = 0.1
    recorder.add(finished("late"))
    wait_until(lambda: batching.writes, timeout=60, what="the flusher to take up the new 0.1 s window")
    assert [r["http.request.id"] for r in batching.records()] == ["early", "late"]


def test_the_flusher_goes_on_after_a_batch_fails(batching, monkeypatch, caplog):
    failures = []

    def fails_once() -> None:  # a sampler (pool gauges, in-flight count) that breaks once
        if not failures:
            failures.append("sampler broke")
            raise RuntimeError("sampler broke")

    monkeypatch.setattr(recorder, "_samplers", [fails_once])
    recorder.flush_seconds = 0.1
    recorder.add(finished("before"))
    wait_until(lambda: failures, timeout=60, what="the flusher to run the broken sampler")
    recorder.add(finished("after"))

    def access_lines() -> list[str]:
        return [r["http.request.id"] for r in batching.records() if r["log.logger"] == "abb.access"]

    wait_until(access_lines, timeout=60, what="the flusher's next batch after the failed one")
    assert access_lines() == ["before", "after"]  # the failed batch kept its waiting request for the next one
    assert any("recording a batch of finished requests failed" in r.getMessage() for r in caplog.records)


def test_waiting_requests_are_recorded_when_the_process_exits():
    script = (
        "from abb.core.config import Settings\n"
        "from abb.observability.logging import configure_logging\n"
        "from abb.observability.recorder import recorder\n"
        "from tests.test_observability_logging import finished\n"
        "configure_logging(Settings(env='test', secret_key='x' * 40))\n"
        "recorder.flush_seconds = 60\n"
        "for i in range(5):\n"
        "    recorder.add(finished(f'exit-{i}'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["http.request.id"] for line in lines] == [f"exit-{i}" for i in range(5)]


def test_a_quieter_level_for_abb_access_drops_access_lines(make_obs_app, log_capture):
    app = make_obs_app(log_levels="abb=INFO,abb.access=WARNING")
    log_capture.attach(app.state.settings)
    with TestClient(app, client=LOOPBACK) as client:
        client.get("/health/live")
    assert access_lines(log_capture.records()) == []


def test_configuring_again_drops_the_levels_the_previous_configuration_set():
    configure_logging(make_settings(log_levels="abb=INFO,abb.access=WARNING"))
    assert not logging.getLogger("abb.access").isEnabledFor(logging.INFO)
    configure_logging(make_settings())
    assert logging.getLogger("abb.access").isEnabledFor(logging.INFO)

"""Admission gate, database errors as 503, and the capacity settings' checks (in process, no timing asserted)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from pydantic import ValidationError

from abb.app import create_app
from abb.core.database import Database, make_engine
from abb.core.errors import Overloaded
from abb.core.http import AdmissionGate
from tests.conftest import make_settings
from tests.factories import assert_problem


def gate(limit: int = 1, max_waiting: int = 10, wait_seconds: float = 30.0) -> tuple[AdmissionGate, list[str]]:
    shed: list[str] = []
    return AdmissionGate(
        limit=limit, max_waiting=max_waiting, wait_seconds=wait_seconds, retry_after_seconds=3, on_shed=shed.append
    ), shed


def test_waiting_requests_are_admitted_in_arrival_order_as_places_free_up():
    async def scenario() -> list[int]:
        admission, _ = gate(limit=1)
        await admission.enter()
        order: list[int] = []

        async def request(n: int) -> None:
            await admission.enter()
            order.append(n)
            admission.leave()

        waiting = [asyncio.create_task(request(n)) for n in range(5)]
        await asyncio.sleep(0)
        assert admission.waiting == 5 and admission.admitted == 1
        admission.leave()
        await asyncio.gather(*waiting)
        assert admission.admitted == 0 and admission.waiting == 0
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_a_full_queue_sheds_at_once_with_retry_after_and_counts_it():
    async def scenario() -> None:
        admission, shed = gate(limit=1, max_waiting=0)
        await admission.enter()
        with pytest.raises(Overloaded) as refused:
            await admission.enter()
        assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "3"}
        assert shed == ["queue_full"] and admission.admitted == 1

    asyncio.run(scenario())


def test_a_request_that_waited_too_long_is_shed_and_leaves_the_queue():
    async def scenario() -> None:
        admission, shed = gate(limit=1, wait_seconds=0.01)
        await admission.enter()
        with pytest.raises(Overloaded):
            await admission.enter()
        assert shed == ["queue_timeout"] and admission.waiting == 0

    asyncio.run(scenario())


def test_a_waiting_request_whose_client_left_passes_its_place_on():
    async def scenario() -> None:
        admission, _ = gate(limit=1)
        await admission.enter()
        gone = asyncio.create_task(admission.enter())
        await asyncio.sleep(0)
        admission.leave()  # the place goes to `gone`…
        gone.cancel()  # …whose client disconnects before it runs
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert admission.admitted == 0 and admission.waiting == 0
        await admission.enter()  # the place was given back, not lost
        assert admission.admitted == 1

    asyncio.run(scenario())


def test_an_unreachable_database_is_503_with_retry_after_not_500():
    settings = make_settings(database_url="postgresql://abb@127.0.0.1:1/abb", database_connect_timeout=1)
    app = create_app(settings, database=Database(engine=make_engine(settings)))
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        response = client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "whatever-long"})
    body = assert_problem(response, 503, "database-unavailable")
    assert response.headers["retry-after"] == str(settings.retry_after_seconds)
    assert "127.0.0.1" not in body["detail"]  # nothing about the database leaks


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"request_concurrency": 21, "database_pool_size": 10, "database_max_overflow": 10}, "ABB_REQUEST_CONCURRENCY"),
        ({"celery_visibility_timeout": 60, "task_time_limit_seconds": 60}, "ABB_TASK_TIME_LIMIT_SECONDS"),
    ],
)
def test_settings_refuse_capacity_values_that_could_deadlock_or_duplicate(overrides: dict[str, int], named: str):
    with pytest.raises(ValidationError, match=named):
        make_settings(**overrides)


def test_a_client_that_leaves_before_its_body_arrives_is_not_a_server_error(tmp_path: Path):
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'abb.sqlite3'}")
    app = create_app(settings, database=Database(engine=make_engine(settings)))

    @app.post("/read-the-body")  # as the sign-in form does: the body read by the handler, not by FastAPI
    async def read_the_body(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/read-the-body",
        "raw_path": b"/read-the-body",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 443),
        "scheme": "https",
        "root_path": "",
        "http_version": "1.1",
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 499

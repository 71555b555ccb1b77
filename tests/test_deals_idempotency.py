"""Idempotency-Key on "create deal" and "pay", on SQLite and PostgreSQL, and under real concurrent requests.

The concurrency tests run the app in a real HTTP server (uvicorn, in a thread) on a committed PostgreSQL
database, and fire simultaneous requests from threads, each request with its own connection and session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from abb.app import create_app
from abb.core.database import Database
from abb.deals.models import Deal, Payment
from tests.conftest import make_settings
from tests.factories import PASSWORD, assert_problem, auth, db_snapshot
from tests.fixtures_deals import WEBHOOK_SECRET, connect, deal_body, open_deal
from tests.harness.services import free_port
from tests.waiting import wait_until


def _count(session, model, **where) -> int:
    session.expire_all()
    query = select(func.count()).select_from(model).filter_by(**where)
    return session.scalar(query)


def test_same_key_and_body_replays_the_created_deal(client, session):
    parties = connect(session)
    headers = {**auth(client, parties.sme_user), "Idempotency-Key": "create-7f1c"}
    first = client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(session, Deal) == 1


def test_same_key_with_a_different_body_is_422_and_changes_nothing(client, session):
    parties = connect(session)
    headers = {**auth(client, parties.sme_user), "Idempotency-Key": "create-reused"}
    assert client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers).status_code == 201
    before = db_snapshot(session)
    changed = client.post("/api/v1/deals", json=deal_body(parties.match.id, amount="99.00"), headers=headers)
    assert_problem(changed, 422, "idempotency-key-reused")
    # The same key on another endpoint is a different request too.
    deal_id = session.scalar(select(Deal.id))
    assert_problem(client.post(f"/api/v1/deals/{deal_id}/pay", json={}, headers=headers), 422, "idempotency-key-reused")
    assert db_snapshot(session) == before


def test_keys_are_scoped_per_user(client, session):
    parties = connect(session)
    for user in (parties.sme_user, parties.partner_user):
        headers = {**auth(client, user), "Idempotency-Key": "shared-key"}
        assert client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers).status_code == 201
    assert _count(session, Deal) == 2


def test_a_refused_request_does_not_use_up_its_key(client, session):
    parties = connect(session)
    deal = open_deal(client, parties)
    headers = {**auth(client, parties.sme_user), "Idempotency-Key": "pay-after-fix"}
    client.post(f"/api/v1/deals/{deal['id']}/cancel", json={}, headers=auth(client, parties.partner_user))
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/deals/{deal['id']}/pay", json={}, headers=headers), 409)
    assert db_snapshot(session) == before  # no key stored with the refusal
    fresh = open_deal(client, parties)
    paid = client.post(f"/api/v1/deals/{fresh['id']}/pay", json={}, headers=headers)
    assert paid.status_code == 200, paid.text


def test_pay_twice_with_one_key_charges_once(client, session, app, stripe_double, background):
    app.state.settings = make_settings(
        stripe_secret_key="sk_test_double", stripe_webhook_secret=WEBHOOK_SECRET, stripe_api_base=stripe_double.url
    )
    parties = connect(session)
    deal = open_deal(client, parties)
    headers = {**auth(client, parties.sme_user), "Idempotency-Key": "pay-card-once"}
    created = stripe_double.created()
    first = client.post(f"/api/v1/deals/{deal['id']}/pay", json={"provider": "stripe_card"}, headers=headers)
    again = client.post(f"/api/v1/deals/{deal['id']}/pay", json={"provider": "stripe_card"}, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert stripe_double.created() == created + 1
    assert _count(session, Payment, deal_id=deal["id"]) == 1


def test_malformed_keys_are_422(client, session):
    parties = connect(session)
    headers = auth(client, parties.sme_user)
    before = db_snapshot(session)
    for key in ["", "x" * 256, "has space", "na\xefve".encode("latin-1")]:
        response = client.post(
            "/api/v1/deals", json=deal_body(parties.match.id), headers={**headers, "Idempotency-Key": key}
        )
        body = assert_problem(response, 422)
        assert any(e["field"].lower() == "idempotency-key" for e in body["errors"]), body
    assert db_snapshot(session) == before


# --- real concurrency on a committed PostgreSQL database -----------------------------------------


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=60, every=0.02, what="uvicorn to start")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(committed_database, committed_session, stripe_double) -> Iterator[tuple[LiveServer, Any]]:
    url, _engine = committed_database
    settings = make_settings(
        database_url=url,
        stripe_secret_key="sk_test_double",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_double.url,
        cookie_secure=False,
    )
    database = Database(settings)
    server = LiveServer(create_app(settings, database=database))
    yield server, committed_session
    server.stop()
    database.dispose()
    stripe_double.latency_seconds = 0.0


def _simultaneously(calls: list[Any]) -> list[httpx.Response]:
    """Run each call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, httpx.Response) for r in results), results
    return results


def _live_deal(server: LiveServer, session) -> tuple[int, dict[str, str]]:
    parties = connect(session)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        tokens = {}
        for user in (parties.sme_user, parties.partner_user):
            login = http.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            tokens[user.id] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = http.post("/api/v1/deals", json=deal_body(parties.match.id), headers=tokens[parties.partner_user.id])
        assert created.status_code == 201, created.text
    return created.json()["id"], tokens[parties.sme_user.id]


def _pay(server: LiveServer, deal_id: int, headers: dict[str, str]) -> Any:
    def call() -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            return http.post(f"/api/v1/deals/{deal_id}/pay", json={"provider": "stripe_card"}, headers=headers)

    return call


@pytest.mark.postgres
def test_two_simultaneous_pays_with_one_key_charge_once(live, stripe_double):
    server, session = live
    deal_id, sme = _live_deal(server, session)
    stripe_double.latency_seconds = 0.5  # the first request is still at Stripe when the second arrives
    created = stripe_double.created()
    headers = {**sme, "Idempotency-Key": "concurrent-pay-1"}
    first, second = _simultaneously([_pay(server, deal_id, headers), _pay(server, deal_id, headers)])
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in (first, second)) == ["no", "true"]
    assert stripe_double.created() == created + 1
    assert _count(session, Payment, deal_id=deal_id) == 1


@pytest.mark.postgres
def test_two_simultaneous_pays_with_different_keys_move_the_deal_once(live, stripe_double):
    server, session = live
    deal_id, sme = _live_deal(server, session)
    stripe_double.latency_seconds = 0.5
    created = stripe_double.created()
    calls = [_pay(server, deal_id, {**sme, "Idempotency-Key": f"different-{i}"}) for i in range(2)]
    responses = _simultaneously(calls)
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert_problem(next(r for r in responses if r.status_code == 409), 409, "invalid-transition")
    assert stripe_double.created() == created + 1
    assert _count(session, Payment, deal_id=deal_id) == 1

"""Capacity guard (issue 12): correctness under concurrency on PostgreSQL with several `abb serve` workers.

Not timing tests: they assert that every request completes (a client timeout would be a hang), that nothing
answers 500, that a row many requests race for changes exactly once, and that a stopped database gives 503s
and then 200s. The pool and the thread pool are deliberately small so that the waiting paths are exercised.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from abb.deals.models import DealEvent
from abb.matching.models import Match, MatchStatus
from tests.factories import PASSWORD
from tests.fixtures_deals import Parties, connect, deal_body
from tests.fixtures_observability import sample
from tests.harness.serve import Served, abb, serve_env
from tests.harness.services import PostgresServer, running_postgres
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKERS = 3
# Small on purpose: more requests than connections and threads, so that requests queue at every step.
SMALL = {"database_pool_size": "2", "database_max_overflow": "1", "threadpool_size": "2"}
CLIENT_TIMEOUT = 30.0  # far above any bounded wait (queue 10 s, lock 5 s): reaching it means a hang


@dataclass
class World:
    server: PostgresServer
    url: str
    env: dict[str, str]
    served: Served
    parties: Parties  # a connected match
    suggested: Parties  # a match nobody decided on yet


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("capacity")
    with running_postgres() as server:  # its own cluster: one test stops and starts it
        url = server.create_database("abb_capacity")
        env = serve_env(tmp, url, **SMALL)
        abb(env, "migrate")
        engine = create_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            parties = connect(session)
            suggested = connect(session, MatchStatus.SUGGESTED)
        engine.dispose()
        with Served(env, tmp / "serve.log", workers=WORKERS) as served:
            yield World(server, url, env, served, parties, suggested)


def token(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


Call = tuple[str, str, dict[str, str], dict[str, object] | None]


async def burst(base: str, calls: list[Call], *, shed_allowed: bool = False) -> list[int]:
    """Send every call at once (one connection each); the statuses in order. A timeout raises: a hang. A status
    of 500 or more fails at once, except 503 + Retry-After in problem+json when shedding is expected."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT, limits=limits) as client:

        async def one(method: str, path: str, headers: dict[str, str], body: dict[str, object] | None) -> int:
            response = await client.request(method, path, headers=headers, json=body)
            shed = response.status_code == 503 and "retry-after" in response.headers
            if shed and shed_allowed:
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["type"].endswith("/overloaded")
            elif response.status_code >= 500:
                raise AssertionError(f"{method} {path} answered {response.status_code}: {response.text}")
            return response.status_code

        return list(await asyncio.gather(*(one(*call) for call in calls)))


def test_hundreds_of_concurrent_requests_with_a_small_pool_all_complete_without_5xx(world: World):
    with httpx.Client(base_url=world.served.url, timeout=CLIENT_TIMEOUT) as client:
        sme = token(client, world.parties.sme_user.email)
        partner = token(client, world.parties.partner_user.email)
    calls = []
    for i in range(300):
        headers = sme if i % 2 else partner
        path = ("/api/v1/me", "/api/v1/matches", "/api/v1/deals", "/health/live")[i % 4]
        calls.append(("GET", path, headers, None))
    statuses = asyncio.run(burst(world.served.url, calls))
    assert Counter(statuses) == {200: 300}


def test_forty_concurrent_accepts_by_both_sides_make_exactly_one_decision_each(world: World):
    match_id = world.suggested.match.id
    with httpx.Client(base_url=world.served.url, timeout=CLIENT_TIMEOUT) as client:
        sides = [token(client, world.suggested.sme_user.email), token(client, world.suggested.partner_user.email)]
    calls = [("POST", f"/api/v1/matches/{match_id}/accept", sides[i % 2], None) for i in range(40)]
    statuses = asyncio.run(burst(world.served.url, calls))
    # Each side's first accept wins; every other one is refused as already decided.
    assert Counter(statuses) == {200: 2, 409: 38}
    engine = create_engine(world.url)
    with Session(engine) as session:
        assert session.get(Match, match_id).status is MatchStatus.CONNECTED  # type: ignore[union-attr]
    engine.dispose()


def test_twenty_concurrent_pays_without_a_key_start_exactly_one_payment(world: World):
    with httpx.Client(base_url=world.served.url, timeout=CLIENT_TIMEOUT) as client:
        partner = token(client, world.parties.partner_user.email)
        sme = token(client, world.parties.sme_user.email)
        opened = client.post("/api/v1/deals", json=deal_body(world.parties.match.id), headers=partner)
        assert opened.status_code == 201, opened.text
    deal_id = opened.json()["id"]
    calls = [("POST", f"/api/v1/deals/{deal_id}/pay", sme, {"provider": "bank_transfer"}) for _ in range(20)]
    statuses = asyncio.run(burst(world.served.url, calls))
    assert Counter(statuses) == {200: 1, 409: 19}
    engine = create_engine(world.url)
    with Session(engine) as session:
        transitions = session.scalar(
            select(func.count())
            .select_from(DealEvent)
            .where(DealEvent.deal_id == deal_id, DealEvent.to_state == "awaiting_payment")
        )
    engine.dispose()
    assert transitions == 1


def test_database_stopped_and_started_under_traffic_gives_503_then_200_never_a_hang(world: World):
    with httpx.Client(base_url=world.served.url, timeout=CLIENT_TIMEOUT) as client:
        headers = token(client, world.parties.sme_user.email)
    seen: list[tuple[float, int, str | None, str]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=world.served.url, timeout=CLIENT_TIMEOUT) as client:
            while not stop.is_set():
                response = client.get("/api/v1/me", headers=headers)  # a timeout here fails the test: a hang
                kind = response.headers.get("content-type", "")
                seen.append((time.monotonic(), response.status_code, response.headers.get("retry-after"), kind))

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: any(s == 200 for _, s, _, _ in seen), timeout=30, what="a first 200 before the stop")
        world.server.stop("fast")
        stopped = time.monotonic()
        wait_until(
            lambda: sum(1 for t, s, _, _ in seen if t > stopped and s == 503) >= 5,
            timeout=60,
            what="503s while PostgreSQL is stopped",
            detail=lambda: Counter(s for t, s, _, _ in seen if t > stopped),
        )
        world.server.start()
        started = time.monotonic()
        wait_until(
            lambda: sum(1 for t, s, _, _ in seen if t > started and s == 200) >= 5,
            timeout=60,
            what="200s again once PostgreSQL is back",
            detail=lambda: Counter(s for t, s, _, _ in seen if t > started),
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)
    assert not any(thread.is_alive() for thread in threads), "a request never completed"
    assert {s for _, s, _, _ in seen} <= {200, 503}, Counter(s for _, s, _, _ in seen)
    unavailable_answers = [(retry, kind) for _, s, retry, kind in seen if s == 503]
    assert all(retry and int(retry) > 0 for retry, _ in unavailable_answers)
    assert all(kind.startswith("application/problem+json") for _, kind in unavailable_answers)


def test_past_capacity_requests_are_shed_with_503_and_retry_after_and_counted(world: World, tmp_path: Path):
    # One request at a time per worker and no queue: a burst must be shed, never answered 500 or left hanging.
    env = {**world.env, "ABB_REQUEST_CONCURRENCY": "1", "ABB_REQUEST_QUEUE_MAX": "0"}
    with Served(env, tmp_path / "shed.log", workers=1) as served:
        with httpx.Client(base_url=served.url, timeout=CLIENT_TIMEOUT) as client:
            headers = token(client, world.parties.sme_user.email)
            calls = [("GET", "/api/v1/matches", headers, None) for _ in range(60)]
            statuses = asyncio.run(burst(served.url, calls, shed_allowed=True))
            shed = client.get("/metrics").text
        counts = Counter(statuses)
        assert set(counts) <= {200, 503} and counts[503] > 0 and counts[200] > 0, counts
        assert sample(shed, "abb_http_requests_shed_total", reason="queue_full") == counts[503]


def test_sigterm_stops_the_server_within_its_grace_period_even_with_a_request_stuck(world: World, tmp_path: Path):
    # The test holds the match's row lock, so an accept waits in PostgreSQL (for up to a minute here).
    env = {**world.env, "ABB_SHUTDOWN_GRACE_SECONDS": "2", "ABB_DATABASE_LOCK_TIMEOUT_SECONDS": "60"}
    log_path = tmp_path / "stopping.log"
    served = Served(env, log_path, workers=2).start()
    plain_url = world.url.replace("postgresql+psycopg://", "postgresql://")
    blocker = psycopg.connect(plain_url)
    stuck: list[BaseException | int] = []
    stopped_after = float("inf")
    try:
        with httpx.Client(base_url=served.url, timeout=CLIENT_TIMEOUT) as client:
            headers = token(client, world.parties.sme_user.email)
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        blocker.execute("SELECT id FROM matches WHERE id = %s FOR UPDATE", (world.parties.match.id,))

        def accept() -> None:
            try:
                url = f"{served.url}/api/v1/matches/{world.parties.match.id}/accept"
                stuck.append(httpx.post(url, headers=headers, timeout=CLIENT_TIMEOUT).status_code)
            except httpx.HTTPError as exc:
                stuck.append(exc)

        caller = threading.Thread(target=accept)
        caller.start()
        with psycopg.connect(plain_url, autocommit=True) as watcher:  # pg_stat_activity is read afresh each time
            wait_until(
                lambda: watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0],  # type: ignore[index]
                timeout=30,
                what="the accept waiting for the row lock",
            )
        sent = time.monotonic()
        status = served.terminate(timeout=20)  # grace 2 s; raises if the server outlives 20 s
        stopped_after = time.monotonic() - sent
        caller.join(timeout=CLIENT_TIMEOUT)
    finally:
        blocker.rollback()
        blocker.close()
        served.__exit__()  # stops it if the test failed before the SIGTERM under test
    assert stopped_after < 15, f"the server took {stopped_after:.1f}s to stop (exit status {status})"
    assert stuck, "the stuck request's caller never returned"
    # The request answered just before SIGTERM is in the access log: batched lines were flushed on the way out.
    assert '"message":"GET /api/v1/me 200"' in log_path.read_text()

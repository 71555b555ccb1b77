"""Brute force and credential stuffing: progressive delay, lockout (429 + Retry-After), expiry, admin unlock,
stuffing events; counters in process and in a real Redis (issue 15)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from abb.accounts.models import Role
from abb.core.database import utcnow
from abb.security import bruteforce
from abb.security.bruteforce import LoginGuard, MemoryStore, RedisStore
from abb.security.models import Lockout
from tests.conftest import make_settings
from tests.factories import PASSWORD, assert_problem, auth, make_user

WRONG = "definitely-not-it"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(bruteforce, "time", fake)
    return fake


@pytest.fixture
def settings():
    return make_settings(
        login_delay_after=3,
        login_lock_after=6,
        login_ip_lock_after=40,
        login_lock_seconds=600,
        stuffing_accounts_per_ip=4,
        stuffing_ips_per_account=3,
    )


def _login(client: TestClient, email: str, password: str = WRONG):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_failures_bring_a_growing_delay_then_a_lockout_that_even_the_right_password_cannot_pass(
    client, session, audit, clock
):
    user = make_user(session, Role.SME)
    for _ in range(3):
        assert _login(client, user.email).status_code == 401
    too_soon = _login(client, user.email, PASSWORD)  # the delay applies before the password is even checked
    body = assert_problem(too_soon, 429, "too-many-requests")
    assert too_soon.headers["Retry-After"] == "1" and "Try again in 1 s" in body["detail"]
    delays = []
    for _ in range(3):
        clock.now += 60  # well past each delay
        assert _login(client, user.email).status_code == 401
        delays.append(int(_login(client, user.email).headers.get("Retry-After", "0")))
    assert delays[:2] == [2, 4]  # 2^(n - 3) seconds after the n-th failure
    locked = _login(client, user.email, PASSWORD)
    assert_problem(locked, 429)
    assert 590 <= int(locked.headers["Retry-After"]) <= 600  # the lockout, not the delay
    lockout = audit.events("lockout")[0]
    assert json.loads(lockout.details)["scope"] == "account" and lockout.user_id == user.id
    assert [e.outcome for e in audit.events("login")].count("failure") == 6
    assert audit.events("login.refused")


def test_a_lockout_expires_by_itself(client, session, clock):
    user = make_user(session)
    for _ in range(6):
        clock.now += 60
        _login(client, user.email)
    assert _login(client, user.email, PASSWORD).status_code == 429
    session.execute(update(Lockout).values(locked_until=utcnow()))  # its time has come
    session.commit()
    clock.now += 10_000  # and the failures have left the window
    assert _login(client, user.email, PASSWORD).status_code == 200


def test_an_admin_lists_and_lifts_a_lockout(client, session, audit, clock):
    user = make_user(session)
    admin_headers = auth(client, make_user(session, Role.ADMIN))
    for _ in range(6):
        clock.now += 60
        _login(client, user.email)
    listed = client.get("/api/v1/admin/security/lockouts", headers=admin_headers).json()
    assert [(item["scope"], item["key"]) for item in listed] == [("account", user.email)]
    someone = auth(client, make_user(session))
    assert_problem(client.post(f"/api/v1/admin/security/lockouts/{listed[0]['id']}/unlock", headers=someone), 403)
    unlocked = client.post(f"/api/v1/admin/security/lockouts/{listed[0]['id']}/unlock", headers=admin_headers)
    assert unlocked.status_code == 200 and unlocked.json()["unlocked_at"]
    assert _login(client, user.email, PASSWORD).status_code == 200
    assert audit.events("lockout.unlock")[0].entity_id == str(listed[0]["id"])
    assert client.get("/api/v1/admin/security/lockouts", headers=admin_headers).json() == []


def test_unknown_accounts_are_counted_the_same_so_answers_reveal_nothing(client, session, clock):
    for _ in range(3):
        assert _login(client, "nobody@example.com").status_code == 401
    assert _login(client, "nobody@example.com").status_code == 429


def test_the_sign_in_page_says_when_to_retry(client, session, clock):
    user = make_user(session)
    page = client.get("/login")
    csrf = page.cookies.get("abb_csrf") or client.cookies.get("abb_csrf")
    for _ in range(3):
        client.post("/login", data={"email": user.email, "password": WRONG, "csrf_token": csrf})
    refused = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf}, headers={"Accept": "text/html"}
    )
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Try again in 1 s" in refused.text and "UTC" in refused.text
    italian = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf},
        headers={"Accept": "text/html", "Accept-Language": "it-IT,it;q=0.9"},
    )
    assert italian.status_code == 429 and "Riprova tra 1 s" in italian.text and "UTC" in italian.text


def test_many_accounts_from_one_address_and_one_account_from_many_addresses_raise_events(app, session, audit, clock):
    with TestClient(app, base_url="https://testserver", client=("198.51.100.9", 4000)) as attacker:
        for n in range(4):
            _login(attacker, f"victim{n}@example.com")
    stuffing = audit.events("credential_stuffing.many_accounts_one_ip")
    assert len(stuffing) == 1 and stuffing[0].source_ip == "198.51.100.9"
    user = make_user(session)
    for n in range(3):
        with TestClient(app, base_url="https://testserver", client=(f"203.0.113.{n}", 4000)) as botnet:
            _login(botnet, user.email)
            clock.now += 60
    spread = audit.events("credential_stuffing.one_account_many_ips")
    assert len(spread) == 1 and spread[0].user_id == user.id


def test_a_legitimate_user_who_mistypes_once_signs_in_without_delay(client, session, audit, clock):
    user = make_user(session)
    assert _login(client, user.email).status_code == 401
    assert _login(client, user.email, PASSWORD).status_code == 200
    assert _login(client, user.email).status_code == 401  # the success cleared the count
    assert _login(client, user.email).status_code == 401
    assert _login(client, user.email, PASSWORD).status_code == 200


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_failure_stores_count_a_sliding_window_and_distinct_members(backend, request):
    if backend == "redis":
        server = request.getfixturevalue("redis_server")
        store = RedisStore(server.url)
        store._redis.flushdb()
    else:
        store = MemoryStore()
    now = 1_000_000.0
    assert [store.add("k", now + i, 10) for i in range(3)] == [1, 2, 3]
    assert store.count("k", now + 11, 10) == 1  # the first two left the window
    assert store.last("k") == now + 2
    assert [store.add("d", now, 10, member) for member in ("a", "b", "a")] == [1, 2, 2]
    store.clear("k")
    assert store.last("k") is None and store.count("k", now, 10) == 0


def test_counters_in_redis_are_shared_by_every_process(redis_server, session, clock):
    settings = make_settings(redis_url=redis_server.url, login_delay_after=3)
    RedisStore(redis_server.url)._redis.flushdb()
    first, second = (
        LoginGuard(settings, RedisStore(redis_server.url)),
        LoginGuard(settings, RedisStore(redis_server.url)),
    )
    for guard in (first, second, first):
        guard.failed(session, email="shared@example.com", ip="192.0.2.1", user_id=None, reason="bad_password")
    refusal = second.refusal(session, email="shared@example.com", ip="192.0.2.1")
    assert refusal is not None and refusal.reason == "too_soon"

"""The Redis cache (real Redis): read-through with a TTL, invalidation on write, and the database answering
when Redis is unreachable. Also the partner directory API on top of it."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.orm import Session

from abb.accounts.models import Role
from abb.core.cache import PARTNER_DIRECTORY_CACHE, Cache, redis_client
from abb.core.config import Settings, get_settings
from abb.matching import service as matching
from abb.matching.models import Match
from abb.tasks import RECOMPUTE_PROFILE_MATCHES
from tests.factories import auth, make_partner, make_sme, make_user
from tests.fixtures_redis import use_environment
from tests.harness.redis import RedisServer
from tests.harness.services import free_port, unavailable
from tests.test_web_pages import sign_in


class Item(BaseModel):
    value: int


class Loader:
    """Counts database loads; each load returns the next number."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Item:
        self.calls += 1
        return Item(value=self.calls)


def cache_on_test_redis() -> Cache:
    """A cache on the test Redis that `redis_env` put into the settings."""
    return Cache(redis_client(get_settings().redis_url), ttl_seconds=30)


def requests_counted(cache: str, result: str) -> float:
    return REGISTRY.get_sample_value("abb_cache_requests_total", {"cache": cache, "result": result}) or 0.0


def test_a_read_is_loaded_once_then_served_from_redis_with_a_ttl(redis_env: redis.Redis) -> None:
    cache = cache_on_test_redis()
    load = Loader()
    misses, hits = requests_counted("test_items", "miss"), requests_counted("test_items", "hit")

    assert cache.fetch("test_items", "page-1", load, Item) == Item(value=1)
    assert cache.fetch("test_items", "page-1", load, Item) == Item(value=1)
    assert cache.fetch("test_items", "page-2", load, Item) == Item(value=2)

    assert load.calls == 2
    assert requests_counted("test_items", "miss") == misses + 2
    assert requests_counted("test_items", "hit") == hits + 1
    entries = redis_env.keys("abb:cache:test_items:v*")
    assert len(entries) == 2
    assert all(0 < redis_env.ttl(key) <= 30 for key in entries)


def test_invalidation_drops_a_whole_cache_or_one_scope(redis_env: redis.Redis) -> None:
    cache = cache_on_test_redis()
    load = Loader()
    alice = cache.fetch("test_lists", "p1", load, Item, scope="alice")
    bob = cache.fetch("test_lists", "p1", load, Item, scope="bob")
    assert (alice.value, bob.value) == (1, 2)

    cache.invalidate("test_lists", "alice")  # only Alice's entries go
    assert cache.fetch("test_lists", "p1", load, Item, scope="alice") == Item(value=3)
    assert cache.fetch("test_lists", "p1", load, Item, scope="bob") == Item(value=2)

    cache.invalidate("test_lists")  # everything in the cache goes
    assert cache.fetch("test_lists", "p1", load, Item, scope="alice") == Item(value=4)
    assert cache.fetch("test_lists", "p1", load, Item, scope="bob") == Item(value=5)


def test_an_entry_that_no_longer_fits_its_schema_is_reloaded(redis_env: redis.Redis) -> None:
    cache = cache_on_test_redis()
    cache.fetch("test_schema", "k", Loader(), Item)
    (key,) = redis_env.keys("abb:cache:test_schema:v*")
    redis_env.set(key, json.dumps({"value": "not a number"}))
    assert cache.fetch("test_schema", "k", lambda: Item(value=42), Item) == Item(value=42)


def test_unreachable_redis_means_answers_from_the_database(caplog: pytest.LogCaptureFixture) -> None:
    cache = Cache(redis_client(f"redis://127.0.0.1:{free_port()}/0"), ttl_seconds=30)
    load = Loader()
    errors = requests_counted("test_down", "error")
    with caplog.at_level(logging.WARNING, logger="abb.cache"):
        assert cache.fetch("test_down", "k", load, Item) == Item(value=1)
        assert cache.fetch("test_down", "k", load, Item) == Item(value=2)  # skipped Redis: no second wait
        cache.invalidate("test_down")
    assert load.calls == 2
    assert requests_counted("test_down", "error") == errors + 2
    warnings = [r.getMessage() for r in caplog.records if r.name == "abb.cache"]
    assert len(warnings) == 2  # one failed read (then Redis is skipped), one failed invalidation
    assert "answering from the database" in warnings[0]
    assert "not invalidated" in warnings[1]


def test_redis_going_away_mid_run_falls_back_to_the_database() -> None:
    try:
        server = RedisServer()
    except Exception as exc:
        unavailable(f"a second Redis could not be started: {exc}")
    try:
        cache = Cache(redis_client(server.url), ttl_seconds=30)
        load = Loader()
        assert cache.fetch("test_gone", "k", load, Item) == Item(value=1)
        assert cache.fetch("test_gone", "k", load, Item) == Item(value=1)
    finally:
        server.close()
    assert cache.fetch("test_gone", "k", load, Item) == Item(value=2)


# --- the partner directory API ---------------------------------------------------------------------


def _names(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/partners", headers=headers)
    assert response.status_code == 200, response.text
    return [p["organization_name"] for p in response.json()["items"]]


def test_partner_directory_is_cached_and_an_edit_invalidates_it(
    client: TestClient, session: Session, redis_env: redis.Redis
) -> None:
    reader = auth(client, make_user(session, Role.SME))
    owner = make_user(session, Role.PARTNER)
    partner = make_partner(session, owner=owner, organization_name="Savanna Foods")
    hits = requests_counted(PARTNER_DIRECTORY_CACHE, "hit")

    assert _names(client, reader) == ["Savanna Foods"]
    # A change that bypasses the service (so nothing invalidates) stays unseen: the answer is the cached one.
    partner.organization_name = "Changed Behind The Cache"
    session.commit()
    assert _names(client, reader) == ["Savanna Foods"]
    assert requests_counted(PARTNER_DIRECTORY_CACHE, "hit") == hits + 1

    response = client.patch(
        f"/api/v1/partners/{partner.id}",
        json={"organization_name": "Savanna Foods Kenya"},
        headers={**auth(client, owner), "X-Request-ID": "req-cache-edit-1"},
    )
    assert response.status_code == 200, response.text
    assert _names(client, reader) == ["Savanna Foods Kenya"]

    # With a broker configured the edit queued the profile's match recompute on Redis, carrying the request id.
    queued = [json.loads(raw) for raw in redis_env.lrange("celery", 0, -1)]
    assert [m["headers"]["task"] for m in queued] == [RECOMPUTE_PROFILE_MATCHES]
    assert queued[0]["headers"]["abb_request_id"] == "req-cache-edit-1"
    args, _kwargs, _options = json.loads(base64.b64decode(queued[0]["body"]))
    assert args == ["partner", partner.id]


def test_the_web_directory_shares_the_cached_pages(
    client: TestClient, session: Session, redis_env: redis.Redis
) -> None:
    reader = make_user(session, Role.SME)
    owner = make_user(session, Role.PARTNER)
    partner = make_partner(session, owner=owner, organization_name="Kilimanjaro Coffee Traders")
    assert _names(client, auth(client, reader)) == ["Kilimanjaro Coffee Traders"]  # the API fills the cache
    partner.organization_name = "Changed Behind The Cache"
    session.commit()

    assert sign_in(client, reader.email).status_code == 303
    page = client.get("/partners")
    assert page.status_code == 200
    assert "Kilimanjaro Coffee Traders" in page.text and "Changed Behind" not in page.text


def test_directory_and_edits_work_while_redis_is_down(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_environment(monkeypatch, ABB_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    reader = auth(client, make_user(session, Role.SME))
    owner = make_user(session, Role.PARTNER)
    partner = make_partner(session, owner=owner, organization_name="Rift Valley Traders")
    errors = requests_counted(PARTNER_DIRECTORY_CACHE, "error")

    with caplog.at_level(logging.WARNING):
        assert _names(client, reader) == ["Rift Valley Traders"]
        response = client.patch(f"/api/v1/partners/{partner.id}", json={"city": "Nakuru"}, headers=auth(client, owner))
        assert response.status_code == 200, response.text
        assert response.json()["city"] == "Nakuru"
        assert _names(client, reader) == ["Rift Valley Traders"]

    assert requests_counted(PARTNER_DIRECTORY_CACHE, "error") >= errors + 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("answering from the database" in m for m in messages)
    assert any("not queued: broker unreachable" in m for m in messages)


# --- a user's match list ----------------------------------------------------------------------------


def test_match_lists_are_cached_per_user_and_a_decision_refreshes_both_sides(
    client: TestClient, session: Session, redis_env: redis.Redis, settings: Settings
) -> None:
    sme_owner, partner_owner = make_user(session, Role.SME), make_user(session, Role.PARTNER)
    sme = make_sme(session, owner=sme_owner)
    make_partner(session, owner=partner_owner)
    (match_id,) = matching.recompute_for_profile(session, role=Role.SME, profile_id=sme.id, settings=settings)
    sme_headers, partner_headers = auth(client, sme_owner), auth(client, partner_owner)

    def listed(headers: dict[str, str]) -> dict[str, object]:
        response = client.get("/api/v1/matches", headers=headers)
        assert response.status_code == 200, response.text
        (item,) = response.json()["items"]
        return dict(item)

    first = listed(sme_headers)
    assert (first["status"], listed(partner_headers)["status"]) == ("suggested", "suggested")
    # A change that bypasses the service stays unseen: each user's list comes from the cache.
    session.get(Match, match_id).score = 1.0  # type: ignore[union-attr]
    session.commit()
    assert listed(sme_headers)["score"] == first["score"]

    accepted = client.post(f"/api/v1/matches/{match_id}/accept", headers=sme_headers)
    assert accepted.status_code == 200, accepted.text
    mine, theirs = listed(sme_headers), listed(partner_headers)
    assert (mine["status"], mine["your_decision"], mine["score"]) == ("accepted", "accepted", 1.0)
    assert (theirs["status"], theirs["their_decision"]) == ("accepted", "accepted")

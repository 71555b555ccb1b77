"""Redis cache for hot reads (partner directory pages, a user's match list): short TTL, invalidation on write.

Entries are stored under version numbers: one for the whole cache ("partner_directory") and one per scope
(a user id). A write bumps a version with one INCR, so every entry under it (all filters and pages) stops
being read at once and expires by itself after the TTL. A reader that loaded data before a write and
stores it afterwards stores it under the old version, where nobody looks.

Redis unreachable: the answer comes from the loader (the database), a warning is logged, and Redis is
left alone for a few seconds so a dead server costs one failed connection, not one per request.
Embedded mode (no ABB_REDIS_URL): there is no cache and every read goes to the loader.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

import redis
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from abb.core.config import get_settings

log = logging.getLogger("abb.cache")
CACHE_REQUESTS = Counter(
    "abb_cache_requests_total", "Cache look-ups, by cache and result (hit|miss|error)", ["cache", "result"]
)

M = TypeVar("M", bound=BaseModel)

# The caches (the `cache` label of abb_cache_requests_total).
PARTNER_DIRECTORY_CACHE = "partner_directory"
MATCH_LIST_CACHE = "match_list"  # scope: the user id

KEY_PREFIX = "abb:cache"
# A request waits at most this long on Redis; after an error Redis is skipped for BACKOFF_SECONDS.
SOCKET_TIMEOUT_SECONDS = 0.25
BACKOFF_SECONDS = 5.0


class Cache:
    """Read-through cache of pydantic models in Redis; `client=None` is the embedded mode (no cache)."""

    def __init__(self, client: redis.Redis | None, ttl_seconds: int) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def fetch(self, cache: str, key: str, load: Callable[[], M], model: type[M], *, scope: str = "") -> M:
        """The cached value for `key`, else `load()` (stored for the TTL). Never raises because of Redis."""
        client = self._usable_client(cache)
        if client is None:
            return load()
        try:
            entry_key = self._entry_key(client, cache, scope, key)
            raw = client.get(entry_key)
        except redis.RedisError as exc:
            self._failed(cache, "read", exc)
            return load()
        if raw is not None:
            try:
                value = model.model_validate_json(raw)
            except ValidationError:
                log.info("cache entry of %s no longer fits its schema; reloading", cache)
            else:
                CACHE_REQUESTS.labels(cache=cache, result="hit").inc()
                return value
        CACHE_REQUESTS.labels(cache=cache, result="miss").inc()
        value = load()
        try:
            client.set(entry_key, value.model_dump_json(), ex=self.ttl_seconds)
        except redis.RedisError as exc:
            self._failed(cache, "write", exc, count=False)
        return value

    def invalidate(self, cache: str, scope: str = "") -> None:
        """Drop every entry of `cache` (or of one scope in it); call it after the write is committed."""
        if self.client is None:
            return
        try:
            self.client.incr(_version_key(cache, scope))
        except redis.RedisError as exc:
            # Entries then live until their TTL: stale for at most cache_ttl_seconds.
            log.warning(
                "cache %s not invalidated (Redis unreachable: %s); stale for up to %ss", cache, exc, self.ttl_seconds
            )

    def _usable_client(self, cache: str) -> redis.Redis | None:
        if self.client is None:
            return None
        if time.monotonic() < self._skip_until:
            CACHE_REQUESTS.labels(cache=cache, result="error").inc()
            return None
        return self.client

    def _entry_key(self, client: redis.Redis, cache: str, scope: str, key: str) -> str:
        cache_version, scope_version = client.mget(_version_key(cache, ""), _version_key(cache, scope))
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return f"{KEY_PREFIX}:{cache}:v{_int(cache_version)}:{scope}:v{_int(scope_version)}:{digest}"

    def _failed(self, cache: str, action: str, exc: Exception, *, count: bool = True) -> None:
        if count:
            CACHE_REQUESTS.labels(cache=cache, result="error").inc()
        with self._lock:
            self._skip_until = time.monotonic() + BACKOFF_SECONDS
        log.warning(
            "cache %s %s failed (%s); answering from the database, Redis skipped for %ss",
            cache,
            action,
            exc,
            BACKOFF_SECONDS,
        )


def _version_key(cache: str, scope: str) -> str:
    return f"{KEY_PREFIX}:{cache}:version" + (f":{scope}" if scope else "")


def _int(raw: bytes | str | None) -> int:
    return int(raw) if raw is not None else 0


def redis_client(url: str) -> redis.Redis:
    """A client that fails fast: short timeouts and no retries (callers fall back to the database)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


@lru_cache(maxsize=8)
def _cache_for(url: str, ttl_seconds: int) -> Cache:
    return Cache(redis_client(url) if url else None, ttl_seconds)


def get_cache() -> Cache:
    """This process's cache, from its settings (ABB_REDIS_URL, ABB_CACHE_TTL_SECONDS)."""
    settings = get_settings()
    return _cache_for(settings.redis_url, settings.cache_ttl_seconds)

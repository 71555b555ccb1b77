"""Rate limits with the `limits` library (moving windows; Redis when ABB_REDIS_URL is set, else per process):
per source address on everything but static files, health and metrics (`rate_limit_ip`), stricter on the
sign-in, registration and token endpoints (`rate_limit_auth_ip`), and per signed-in user (`rate_limit_user`,
checked where the user is known: `accounts.deps` and the pages' session). A refusal is 429 with Retry-After
and counts in `abb_rate_limited_total{limit}`. If Redis is unreachable the limits are not applied (logged):
an outage of the counters must not take the API down with it.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from abb.core.config import Settings
from abb.core.errors import TooManyRequests
from abb.security.metrics import RATE_LIMITED

log = logging.getLogger("abb.security")
AUTH_PATHS = ("/api/v1/auth/", "/login", "/register")
EXEMPT_PREFIXES = ("/static/", "/health/", "/metrics")


def _uri(settings: Settings, *, asynchronous: bool) -> str:
    if settings.redis_url:
        return ("async+" if asynchronous else "") + settings.redis_url
    return "async+memory://" if asynchronous else "memory://"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.ip: RateLimitItem = parse(settings.rate_limit_ip)
        self.auth: RateLimitItem = parse(settings.rate_limit_auth_ip)
        self.user: RateLimitItem = parse(settings.rate_limit_user)
        self._settings = settings
        self.start_afresh()

    def start_afresh(self) -> None:
        """New counters in this process (with Redis, new clients: the shared counters stay where they are)."""
        options = {"implementation": "redispy"} if self._settings.redis_url else {}
        self._async = AsyncMovingWindow(storage_from_string(_uri(self._settings, asynchronous=True), **options))
        self._sync = MovingWindowRateLimiter(storage_from_string(_uri(self._settings, asynchronous=False)))

    async def retry_after_for_address(self, path: str, method: str, ip: str) -> int | None:
        """Seconds to wait when this request from `ip` is over a limit, else None (and it is counted)."""
        if path.startswith(EXEMPT_PREFIXES):
            return None
        checks = [("ip", self.ip)]
        if method == "POST" and path.startswith(AUTH_PATHS):
            checks.append(("auth", self.auth))
        for name, item in checks:
            try:
                allowed = await self._async.hit(item, name, ip)
                if allowed:
                    continue
                stats = await self._async.get_window_stats(item, name, ip)
            except Exception:  # the Redis client's errors: fail open, loudly
                log.warning("rate limits unavailable", exc_info=True)
                return None
            RATE_LIMITED.labels(name).inc()
            return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    def check_user(self, user_id: int) -> None:
        try:
            if self._sync.hit(self.user, "user", str(user_id)):
                return
            stats = self._sync.get_window_stats(self.user, "user", str(user_id))
        except Exception:
            log.warning("rate limits unavailable", exc_info=True)
            return
        RATE_LIMITED.labels("user").inc()
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(f"Too many requests; try again in {retry} s.", headers={"Retry-After": str(retry)})

"""Brute force and credential stuffing: failure counters per account and per source address over a sliding
window, a progressive delay, temporary lockouts, and events for one address failing on many accounts or one
account failing from many addresses.

Counters live in Redis when ABB_REDIS_URL is set (shared by every process), in this process otherwise
(the embedded default). Lockouts are rows (`lockouts`): every process sees them, they expire by themselves,
an admin can lift them, and the console lists them.

Policy (settings `login_*`): after `login_delay_after` failures of an account in the window, each further
attempt must wait 2^(n - delay_after) seconds (at most `login_delay_max_seconds`) after the last failure, or
is answered 429 with Retry-After without checking the password; at `login_lock_after` failures the account
is locked for `login_lock_seconds`; at `login_ip_lock_after` failures from one address, that address is.
A success clears the account's counter. The account counts by the e-mail given, existing or not, so the
answers reveal nothing about which accounts exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from abb.core.config import Settings
from abb.core.database import utcnow
from abb.core.errors import NotFound, TooManyRequests
from abb.security.events import emit
from abb.security.metrics import LOCKOUTS, LOGIN_ATTEMPTS
from abb.security.models import Lockout, LockoutScope

log = logging.getLogger("abb.security")


class FailureStore(Protocol):
    def add(self, key: str, now: float, window: float, member: str | None = None) -> int:
        """Record a failure (or, with `member`, that member: distinct members count once); the count in the window."""

    def count(self, key: str, now: float, window: float) -> int: ...

    def last(self, key: str) -> float | None: ...

    def clear(self, key: str) -> None: ...


class MemoryStore:
    """One process's counters (the embedded mode)."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def add(self, key: str, now: float, window: float, member: str | None = None) -> int:
        with self._lock:
            entries = self._entries.setdefault(key, {})
            for old in [m for m, at in entries.items() if at <= now - window]:
                del entries[old]
            entries[member or secrets.token_hex(8)] = now
            if len(self._entries) > 100_000:  # bound memory under a flood of distinct keys
                self._entries = {k: v for k, v in self._entries.items() if v and max(v.values()) > now - window}
            return len(entries)

    def count(self, key: str, now: float, window: float) -> int:
        with self._lock:
            return sum(1 for at in self._entries.get(key, {}).values() if at > now - window)

    def last(self, key: str) -> float | None:
        with self._lock:
            entries = self._entries.get(key)
            return max(entries.values()) if entries else None

    def clear(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class RedisStore:
    """Sorted sets scored by time: the window is what is left after removing older scores."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def add(self, key: str, now: float, window: float, member: str | None = None) -> int:
        name = f"abb:bf:{key}"
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(name, "-inf", now - window)
        pipe.zadd(name, {member or secrets.token_hex(8): now})
        pipe.zcard(name)
        pipe.expire(name, math.ceil(window) + 1)
        return int(pipe.execute()[2])

    def count(self, key: str, now: float, window: float) -> int:
        return int(self._redis.zcount(f"abb:bf:{key}", f"({now - window}", "+inf"))

    def last(self, key: str) -> float | None:
        top = self._redis.zrevrange(f"abb:bf:{key}", 0, 0, withscores=True)
        return float(top[0][1]) if top else None

    def clear(self, key: str) -> None:
        self._redis.delete(f"abb:bf:{key}")


@lru_cache(maxsize=8)
def store_for(redis_url: str) -> FailureStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    reason: str  # locked, too_soon


class LoginGuard:
    def __init__(self, settings: Settings, store: FailureStore | None = None) -> None:
        self.settings = settings
        self.store = store or store_for(settings.redis_url)

    def refusal(self, session: Session, *, email: str, ip: str | None) -> Refusal | None:
        """Why this attempt is refused before its password is checked, or None."""
        now = utcnow()
        keys = [(LockoutScope.ACCOUNT, email)] + ([(LockoutScope.IP, ip)] if ip else [])
        for scope, key in keys:
            until = session.scalar(
                select(Lockout.locked_until)
                .where(
                    Lockout.scope == scope,
                    Lockout.key == key,
                    Lockout.locked_until > now,
                    Lockout.unlocked_at.is_(None),
                )
                .order_by(Lockout.locked_until.desc())
                .limit(1)
            )
            if until is not None:
                return Refusal(max(1, math.ceil((until - now).total_seconds())), "locked")
        wait = self._wait_after_last_failure(email)
        if wait > 0:
            return Refusal(math.ceil(wait), "too_soon")
        return None

    def check(self, session: Session, *, email: str, ip: str | None) -> None:
        refused = self.refusal(session, email=email, ip=ip)
        if refused is None:
            return
        emit("authentication", "login.refused", "failure", reason=refused.reason, email_hash=_pseudonym(email))
        LOGIN_ATTEMPTS.labels("failure", "locked" if refused.reason == "locked" else "too_soon").inc()
        when = (utcnow() + timedelta(seconds=refused.retry_after)).strftime("%H:%M:%S UTC")
        message = (
            "Too many failed sign-ins: this sign-in is locked for now."
            if refused.reason == "locked"
            else "Too many failed sign-ins in a row."
        )
        raise TooManyRequests(
            f"{message} Try again in {refused.retry_after} s (at {when}).",
            headers={"Retry-After": str(refused.retry_after)},
        )

    def _wait_after_last_failure(self, email: str) -> float:
        key = f"acct:{email}"
        last = self._safe(lambda: self.store.last(key), None)
        if last is None:
            return 0.0
        count = self._safe(lambda: self.store.count(key, time.time(), self.settings.login_window_seconds), 0)
        if count < self.settings.login_delay_after:
            return 0.0
        delay = min(2.0 ** (count - self.settings.login_delay_after), self.settings.login_delay_max_seconds)
        return last + delay - time.time()

    def failed(self, session: Session, *, email: str, ip: str | None, user_id: int | None, reason: str) -> None:
        now, window = time.time(), self.settings.login_window_seconds
        account = self._safe(lambda: self.store.add(f"acct:{email}", now, window), 0)
        by_ip = self._safe(lambda: self.store.add(f"ip:{ip}", now, window), 0) if ip else 0
        emit(
            "authentication",
            "login",
            "failure",
            user_id=user_id,
            reason=reason,
            failures=account,
            email_hash=_pseudonym(email),
        )
        if account >= self.settings.login_lock_after:
            self._lock(session, LockoutScope.ACCOUNT, email, account, user_id)
        if ip and by_ip >= self.settings.login_ip_lock_after:
            self._lock(session, LockoutScope.IP, ip, by_ip, None)
        if ip:
            accounts = self._safe(lambda: self.store.add(f"accts-of-ip:{ip}", now, window, email), 0)
            if accounts == self.settings.stuffing_accounts_per_ip:
                emit("intrusion_detection", "credential_stuffing.many_accounts_one_ip", "unknown", accounts=accounts)
            addresses = self._safe(lambda: self.store.add(f"ips-of-acct:{email}", now, window, ip), 0)
            if addresses == self.settings.stuffing_ips_per_account:
                emit(
                    "intrusion_detection",
                    "credential_stuffing.one_account_many_ips",
                    "unknown",
                    user_id=user_id,
                    addresses=addresses,
                    email_hash=_pseudonym(email),
                )

    def succeeded(self, *, email: str) -> None:
        self._safe(lambda: self.store.clear(f"acct:{email}"), None)

    def _lock(self, session: Session, scope: LockoutScope, key: str, failures: int, user_id: int | None) -> None:
        until = utcnow() + timedelta(seconds=self.settings.login_lock_seconds)
        session.add(Lockout(scope=scope, key=key, failures=failures, locked_until=until))
        session.commit()
        LOCKOUTS.labels(scope.value).inc()
        emit(
            "authentication",
            "lockout",
            "success",
            user_id=user_id,
            scope=scope.value,
            locked_until=until.isoformat(),
            failures=failures,
            **({"email_hash": _pseudonym(key)} if scope is LockoutScope.ACCOUNT else {}),
        )

    def _safe(self, call: Callable[[], Any], default: Any) -> Any:
        """A counter store that is down must not stop sign-in: the lockout rows still apply."""
        try:
            return call()
        except Exception:  # redis.RedisError and connection errors
            log.warning("brute-force counters unavailable", exc_info=True)
            return default


def _pseudonym(email: str) -> str:
    """Events name an attempted e-mail by a short digest: the audit chain must not keep addresses that are
    later erased, while the same address still gives the same digest for an investigation."""
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def unlock(session: Session, *, lockout_id: int, admin_id: int, settings: Settings) -> Lockout:
    lockout = session.get(Lockout, lockout_id)
    if lockout is None:
        raise NotFound("No such lockout.")
    now = utcnow()
    if lockout.unlocked_at is None and lockout.locked_until > now:
        session.execute(
            update(Lockout)
            .where(Lockout.scope == lockout.scope, Lockout.key == lockout.key, Lockout.unlocked_at.is_(None))
            .values(unlocked_at=now, unlocked_by=admin_id)
        )
        session.commit()
        session.refresh(lockout)
    # The counters go too, or the next failure would lock the account again at once.
    with contextlib.suppress(Exception):
        store_for(settings.redis_url).clear(("acct:" if lockout.scope is LockoutScope.ACCOUNT else "ip:") + lockout.key)
    emit(
        "iam",
        "lockout.unlock",
        "success",
        user_id=admin_id,
        entity_type="lockouts",
        entity_id=lockout.id,
        scope=lockout.scope.value,
    )
    return lockout


def active_lockouts(session: Session) -> list[Lockout]:
    return list(
        session.scalars(
            select(Lockout)
            .where(Lockout.locked_until > utcnow(), Lockout.unlocked_at.is_(None))
            .order_by(Lockout.locked_until.desc())
            .limit(500)
        )
    )

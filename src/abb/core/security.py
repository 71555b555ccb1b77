"""Password hashing (Argon2id), the common-password check, and signed tokens (JWT, HS256)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from abb.core.config import Settings
from abb.core.errors import Unauthorized

JWT_ALGORITHM = "HS256"


@lru_cache(maxsize=4)
def _argon2(time_cost: int, memory_kib: int, parallelism: int) -> tuple[PasswordHasher, str]:
    """The hasher for one cost, and a real hash at that cost to verify against when the account does not exist,
    so that the time a failed sign-in takes does not reveal whether the account exists."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher, hasher.hash("not-a-real-password-just-for-timing")


def _argon2_for(settings: Settings) -> tuple[PasswordHasher, str]:
    return _argon2(
        settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism
    )


# One Argon2 computation at a time per process: each already runs on `parallelism` (4) threads of its own and
# takes 64 MiB, so a second one at once only competes for the same cores, doubles the memory, and starves the
# event loop's thread (/health/live answered in 50-580 ms during 20 concurrent sign-ins without this bound).
# Callers wait here holding a request thread but no database connection or lock (the services hash outside
# their transactions).
_hashing = threading.Lock()
_yielding = threading.local()


def _yield_to_the_event_loop() -> None:
    """Lower this thread's CPU priority once (Linux: nice is per thread; Argon2's lane threads inherit it), so
    that the event loop's thread, which answers probes and hands out work, is scheduled first when the cores
    are busy hashing. Request threads only ever give priority away; the loop keeps the process's.

    The main thread never does: it runs the event loop (uvicorn) or the process's own work (a command, the
    test suite), and every thread and child process it starts afterwards would inherit the lower priority
    (the suite's workers and servers ran at nice 10, a tenth of the CPU beside a busy neighbour)."""
    if getattr(_yielding, "done", False) or threading.current_thread() is threading.main_thread():
        return
    _yielding.done = True
    with contextlib.suppress(AttributeError, OSError):  # not Linux: nothing to do
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + 5)


def hash_password(password: str, *, settings: Settings) -> str:
    """An Argon2id hash at the configured cost."""
    hasher, _ = _argon2_for(settings)
    _yield_to_the_event_loop()
    with _hashing:
        return hasher.hash(password)


def verify_password(password_hash: str | None, password: str, *, settings: Settings) -> bool:
    """Whether the password matches; a hash is checked at the cost it was made with, a missing one (no such
    account) against a dummy hash at the configured cost."""
    hasher, dummy_hash = _argon2_for(settings)
    _yield_to_the_event_loop()
    try:
        with _hashing:
            return hasher.verify(password_hash or dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache
def common_passwords() -> frozenset[str]:
    text = resources.files("abb.core").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, *, min_length: int, email: str = "") -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if len(password) > 256:
        return "must be at most 256 characters long"
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) < 4:
        return "is too common; choose a less predictable password"
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in lowered:
        return "must not contain your e-mail address"
    return None


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Only a digest of refresh tokens is stored, so a database leak does not leak sessions."""
    return hashlib.sha256(token.encode()).hexdigest()


def encode_jwt(claims: dict[str, Any], *, secret: str, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    payload = {**claims, "iat": now, "nbf": now, "exp": now + lifetime}
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


def decode_jwt(token: str, *, secret: str, expected_type: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "iat", "sub", "typ"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is not valid.") from exc
    if claims.get("typ") != expected_type:
        raise Unauthorized("The token is not valid.")
    return claims

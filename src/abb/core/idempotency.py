"""`Idempotency-Key` for POST endpoints: the same key and request give the stored answer, never a second effect.

Keys are scoped per user. The key's row is inserted in the same transaction as the business change, so
the unique index serializes concurrent requests with one key: on PostgreSQL the second insert waits for
the first transaction and then fails, and that request replays the stored answer. A request that ends
in an error stores nothing, so the client may retry it with the same key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from abb.core.database import Base, UTCDateTime, utcnow
from abb.core.errors import Conflict, Unprocessable

REPLAY_HEADER = "Idempotent-Replayed"
_POLL_SECONDS = 0.05

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique printable string (a UUID is ideal): retrying with it never repeats the effect",
    ),
]


class IdempotencyKeyReused(Unprocessable):
    slug, title = "idempotency-key-reused", "This Idempotency-Key was used for a different request"


class IdempotencyKeyInUse(Conflict):
    slug, title = "idempotency-key-in-use", "A request with this Idempotency-Key is still being processed"


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: tells a retry from a different request under the same key.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None while in progress
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _find(session: Session, user_id: int, key: str) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def run_idempotent(
    session: Session,
    *,
    user_id: int,
    key: str | None,
    fingerprint: str,
    action: Callable[[], tuple[int, Any]],
    wait_seconds: float,
) -> tuple[int, Any, bool]:
    """Run `action` (which commits) once per (user, key); return (status, body, replayed)."""
    if key is None:
        return (*action(), False)
    deadline = time.monotonic() + wait_seconds
    while True:
        existing = _find(session, user_id, key)
        if existing is None:
            record = IdempotencyRecord(user_id=user_id, key=key, request_hash=fingerprint)
            session.add(record)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()  # another request holds the key: read its answer below
                continue
            return (*_execute(session, record, action), False)
        if existing.request_hash != fingerprint:
            raise IdempotencyKeyReused("Use a new Idempotency-Key for a different request.")
        if existing.status_code is not None:
            return existing.status_code, existing.response_body, True
        if time.monotonic() >= deadline:
            raise IdempotencyKeyInUse("Retry in a moment to get its answer.")
        session.rollback()  # end this snapshot so the next read sees the other request's commit
        time.sleep(_POLL_SECONDS)


def _execute(session: Session, record: IdempotencyRecord, action: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    record_id = record.id
    try:
        status, body = action()
    except Exception:
        session.rollback()
        # The action may have committed the key before failing: free it so that a retry can run.
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        session.commit()
        raise
    record.status_code, record.response_body = status, body
    session.commit()
    return status, body


def idempotent_response(
    session: Session,
    *,
    user_id: int,
    key: str | None,
    method: str,
    path: str,
    body: Any,
    action: Callable[[], tuple[int, Any]],
    wait_seconds: float,
) -> JSONResponse:
    """`run_idempotent` for a JSON endpoint; a replayed answer carries `Idempotent-Replayed: true`."""
    status, content, replayed = run_idempotent(
        session,
        user_id=user_id,
        key=key,
        fingerprint=request_fingerprint(method, path, body),
        action=action,
        wait_seconds=wait_seconds,
    )
    headers = {REPLAY_HEADER: "true"} if replayed else None
    return JSONResponse(content, status_code=status, headers=headers)

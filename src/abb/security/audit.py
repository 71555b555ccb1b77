"""The audit chain: security events written in batches off the request path, each row hashed with the
previous row's hash, and the verification that finds the first broken link.

Why batches: like the access lines (observability/recorder.py), an event costs the request only an append to
a deque; a writer thread inserts the waiting events every ABB_SECURITY_FLUSH_SECONDS in one transaction. The
transaction first updates the single `audit_head` row, which serializes every writer of every process (a row
lock on PostgreSQL, the write lock on SQLite), then reads the last row's hash and links the batch to it.
The same events go to the JSON log (logger `abb.security`) when their batch is written.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from abb.core.database import utcnow
from abb.security.models import AuditHead, AuditRecord, AuditVerification

log = logging.getLogger("abb.security")
GENESIS = "0" * 64
MAX_WAITING = 100_000  # events kept while the database is unreachable; beyond that the oldest are dropped
SessionScope = Callable[[], contextlib.AbstractContextManager[Session]]


@dataclass(frozen=True)
class SecurityEvent:
    category: str  # ECS event.category: authentication, iam, web, database, intrusion_detection, configuration
    action: str
    outcome: str  # success, failure, unknown
    created_at: datetime = field(default_factory=utcnow)
    user_id: int | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def canonical_details(details: dict[str, Any]) -> str:
    return orjson.dumps(details, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # UTC, microseconds: both backends keep them


def row_hash(row: Any, prev_hash: str) -> str:
    """`row`: an AuditRecord or a row of its columns."""
    content = [
        row.id,
        _timestamp(row.created_at),
        row.category,
        row.action,
        row.outcome,
        row.user_id,
        row.source_ip,
        row.user_agent,
        row.request_id,
        row.entity_type,
        row.entity_id,
        row.details,
        prev_hash,
    ]
    return hashlib.sha256(orjson.dumps(content)).hexdigest()


def append(session: Session, events: list[SecurityEvent]) -> list[AuditRecord]:
    """Insert `events` at the end of the chain and commit (the caller's session; used by the writer)."""
    # First statement: take the chain's lock (creating its row the first time).
    taken = cast(
        CursorResult[Any], session.execute(update(AuditHead).where(AuditHead.id == 1).values(appended_at=utcnow()))
    ).rowcount
    if not taken:
        session.add(AuditHead(id=1, appended_at=utcnow()))
        session.flush()
    last = session.execute(select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)).first()
    next_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    rows = []
    for event in events:
        row = AuditRecord(
            id=next_id,
            created_at=event.created_at,
            category=event.category,
            action=event.action,
            outcome=event.outcome,
            user_id=event.user_id,
            source_ip=event.source_ip,
            user_agent=(event.user_agent or None) and event.user_agent[:256],
            request_id=event.request_id,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            details=canonical_details(event.details),
            prev_hash=prev,
        )
        row.hash = prev = row_hash(row, row.prev_hash)
        rows.append(row)
        next_id += 1
    session.add_all(rows)
    session.commit()
    return rows


@dataclass
class VerificationResult:
    ok: bool
    rows_checked: int
    last_id: int | None
    last_hash: str | None
    broken_at_id: int | None = None
    reason: str = ""


def verify(session: Session, *, batch: int = 5000) -> VerificationResult:
    """Walk the chain from the start; report the first row whose hash or link does not hold.

    An edited row fails its own hash; a deleted row breaks the next row's link (and a gap in the ids shows
    it); rows deleted from the end are caught against the last verification's anchor (its id and hash).
    """
    prev, expected_id, checked = GENESIS, 1, 0
    last_id: int | None = None
    after = 0
    while True:
        rows = session.execute(
            select(*AuditRecord.__table__.columns).where(AuditRecord.id > after).order_by(AuditRecord.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.id != expected_id:
                return VerificationResult(
                    False, checked, last_id, prev, row.id, f"rows {expected_id}..{row.id - 1} are missing"
                )
            if row.prev_hash != prev:
                return VerificationResult(
                    False, checked, last_id, prev, row.id, "the link to the previous row is broken"
                )
            if row_hash(row, row.prev_hash) != row.hash:
                return VerificationResult(
                    False, checked, last_id, prev, row.id, "the row's content does not match its hash"
                )
            prev, last_id, expected_id, checked = row.hash, row.id, row.id + 1, checked + 1
        after = rows[-1].id
    anchor = session.execute(
        select(AuditVerification.last_id, AuditVerification.last_hash)
        .where(AuditVerification.ok.is_(True), AuditVerification.last_id.is_not(None))
        .order_by(AuditVerification.id.desc())
        .limit(1)
    ).first()
    anchor_id = anchor[0] if anchor is not None else None
    if anchor_id is not None and (last_id is None or last_id < anchor_id):
        return VerificationResult(False, checked, last_id, prev, anchor_id, f"rows after {last_id or 0} were removed")
    return VerificationResult(True, checked, last_id, prev if last_id else None)


def verify_and_record(session: Session) -> VerificationResult:
    result = verify(session)
    session.add(
        AuditVerification(
            ok=result.ok,
            rows_checked=result.rows_checked,
            last_id=result.last_id if result.ok else None,
            last_hash=result.last_hash if result.ok else None,
            broken_at_id=result.broken_at_id,
            reason=result.reason,
        )
    )
    session.commit()
    if not result.ok:
        log.error(
            "audit chain broken",
            extra={
                "event.action": "audit.chain_broken",
                "abb.audit.broken_at_id": result.broken_at_id,
                "abb.audit.reason": result.reason,
            },
        )
    return result


class AuditWriter:
    """Queues events and writes them in batches on a thread of its own (at once when flush_seconds is 0:
    then the middleware writes a request's events when the request has been answered)."""

    def __init__(self) -> None:
        self.flush_seconds = 1.0
        self._session_scope: SessionScope | None = None
        self._waiting: deque[SecurityEvent] = deque(maxlen=MAX_WAITING)
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self.quiet: Callable[[], bool] = lambda: True

    def configure(
        self, session_scope: SessionScope, flush_seconds: float, quiet: Callable[[], bool] | None = None
    ) -> None:
        """Where events go from now on; events still waiting for an earlier configuration (a finished test's
        app) are dropped rather than written to the wrong database."""
        self.discard()
        self._session_scope = session_scope
        self.flush_seconds = flush_seconds
        self.quiet = quiet or (lambda: True)

    def discard(self) -> None:
        """Drop the events waiting (a test's, once its database is gone)."""
        self._waiting.clear()

    def add(self, event: SecurityEvent) -> None:
        self._waiting.append(event)  # atomic: the request thread takes no lock
        if self.flush_seconds and self._flusher is None:
            self._start_flusher()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def flush(self) -> None:
        if not self._waiting:
            return
        with self._lock:
            events: list[SecurityEvent] = []
            while self._waiting:
                events.append(self._waiting.popleft())
            if not events:
                return
            try:
                with self._scope() as session:
                    append(session, events)
            except SQLAlchemyError:
                log.exception("security events not written; kept for the next batch", extra={"abb.events": len(events)})
                self._waiting.extendleft(reversed(events))
                return
            for event in events:
                _log_event(event)

    def _scope(self) -> contextlib.AbstractContextManager[Session]:
        if self._session_scope is None:
            self._session_scope = _default_scope()
        return self._session_scope()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="abb-audit", daemon=True)
        self._flusher.start()

    def periodic_flush_due(self) -> bool:
        """Whether the writer's thread should write now. Not once the writer has been configured to write at once
        (interval 0): then the middleware writes each request's events, and a thread started under an earlier
        configuration would otherwise write in the same session at the same moment."""
        return bool(self.flush_seconds) and self.quiet()

    def _flush_periodically(self) -> None:
        while True:
            time.sleep(self.flush_seconds or 1.0)
            if self.periodic_flush_due():
                self.flush()


def _default_scope() -> SessionScope:
    """Outside the API (CLI, Celery workers): a database of the process's own settings."""
    from abb.core.config import get_settings
    from abb.core.database import Database

    database = Database(get_settings())
    return database.session_factory  # a Session is its own context manager


def _log_event(event: SecurityEvent) -> None:
    level = logging.WARNING if event.outcome == "failure" else logging.INFO
    if not log.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "event.kind": "event",
        "event.category": event.category,
        "event.action": event.action,
        "event.outcome": event.outcome,
    }
    if event.user_id is not None:
        fields["user.id"] = event.user_id
    if event.source_ip:
        fields["source.ip"] = event.source_ip
    if event.user_agent:
        fields["user_agent.original"] = event.user_agent
    if event.request_id:
        fields["http.request.id"] = event.request_id
    if event.entity_type:
        fields["abb.entity.type"] = event.entity_type
        fields["abb.entity.id"] = event.entity_id
    for key, value in event.details.items():
        fields[f"abb.{key}"] = value
    log.log(level, f"security event {event.action} {event.outcome}", extra=fields)


# On SQLite the API's security middleware writes the batches between requests (`quiet` keeps this thread out;
# see SecurityMiddleware); PostgreSQL needs no such care.
writer = AuditWriter()
atexit.register(writer.flush)

"""Fixtures for the security tests: the audit writer pointed at the test's transaction, and the events it wrote."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from abb.security.audit import writer
from abb.security.bruteforce import store_for
from abb.security.models import AuditRecord


class AuditTrail:
    def __init__(self, session: Session) -> None:
        self.session = session

    def events(self, action: str | None = None, **where: Any) -> list[AuditRecord]:
        writer.flush()
        query = select(AuditRecord).order_by(AuditRecord.id)
        if action is not None:
            query = query.where(AuditRecord.action == action)
        for column, value in where.items():
            query = query.where(getattr(AuditRecord, column) == value)
        self.session.expire_all()
        return list(self.session.scalars(query))


@pytest.fixture
def audit(session: Session) -> Iterator[AuditTrail]:
    """Security events written into the test's own transaction (requests made through `client` also are)."""
    writer.configure(lambda: contextlib.nullcontext(session), 0)
    yield AuditTrail(session)


@pytest.fixture(autouse=True)
def _fresh_security_state() -> Iterator[None]:
    """The in-process brute-force counters and the event queue live as long as the process: each test starts
    with none and leaves none."""
    store_for.cache_clear()
    yield
    store_for.cache_clear()
    writer.discard()  # events no request wrote: their test's transaction is gone

"""Raising security events: `emit(...)` from any code, with the caller's address, user agent and request id
taken from the request being served (set once by the security middleware).

An event costs its caller a counter increment and a deque append; `audit.writer` writes it to the audit
table and the JSON log in a batch.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from abb.core.context import request_id_var
from abb.security.audit import SecurityEvent, writer
from abb.security.metrics import SECURITY_EVENTS


@dataclass(frozen=True)
class Caller:
    ip: str | None
    user_agent: str | None
    # The request's `scope["state"]`: dependencies put the signed-in user's id there (`user_id`) from a
    # thread of the pool, where a context variable they set would not reach the request's other code.
    state: dict[str, Any] | None = None

    @property
    def user_id(self) -> int | None:
        value = self.state.get("user_id") if self.state else None
        return int(value) if value is not None else None


caller_var: ContextVar[Caller | None] = ContextVar("abb_security_caller", default=None)


def current_caller() -> Caller:
    return caller_var.get() or Caller(None, None)


def emit(
    category: str,
    action: str,
    outcome: str,
    *,
    user_id: int | None = None,
    entity_type: str | None = None,
    entity_id: object = None,
    source_ip: str | None = None,
    **details: Any,
) -> None:
    caller = current_caller()
    SECURITY_EVENTS.labels(action, outcome).inc()
    writer.add(
        SecurityEvent(
            category=category,
            action=action,
            outcome=outcome,
            user_id=user_id if user_id is not None else caller.user_id,
            source_ip=source_ip or caller.ip,
            user_agent=caller.user_agent,
            request_id=request_id_var.get(),
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            details=details,
        )
    )

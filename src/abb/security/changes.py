"""Every data modification made through the ORM becomes an audit event once its transaction commits:
actor, table, id, the names of the changed columns, and values only for columns that can hold neither
secrets nor personal data (numbers, booleans, enums, timestamps; never text).

Bulk statements (`update(...)`, `insert(...)` on the Core) are the system's own maintenance (activity
stamps, match recomputes, token revocation, which has its own events) and are not recorded here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Enum, Integer, Numeric, event, inspect
from sqlalchemy.orm import Session, UOWTransaction

from abb.core.database import UTCDateTime
from abb.security.events import emit

# Tables whose rows are the system's bookkeeping, recorded elsewhere or too noisy to be worth an event.
SKIPPED_TABLES = frozenset(
    {
        "audit_log",
        "audit_head",
        "audit_verifications",
        "refresh_tokens",
        "idempotency_keys",
        "outbox",
        "match_notifications",
        "personal_data_access",
        "lockouts",
    }
)
NOISE_COLUMNS = frozenset({"updated_at", "last_seen_at"})
PENDING = "abb_audit_changes"
_VALUE_TYPES = (Integer, Boolean, Enum, Numeric, UTCDateTime)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _describe(obj: Any, *, new: bool) -> tuple[str, list[str], dict[str, Any]] | None:
    table = getattr(obj, "__tablename__", None)
    if table is None or table in SKIPPED_TABLES:
        return None
    state = inspect(obj)
    changed: list[str] = []
    values: dict[str, Any] = {}
    for column in state.mapper.columns:
        key = column.key
        if key in NOISE_COLUMNS:
            continue
        history = state.attrs[key].history
        if not (history.added if new else history.has_changes()):
            continue
        changed.append(key)
        if isinstance(column.type, _VALUE_TYPES) and history.added:
            values[key] = _value(history.added[0])
    if not changed and not new:
        return None
    return table, changed, values


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    pending: list[tuple[str, str, object, list[str], dict[str, Any]]] = session.info.setdefault(PENDING, [])
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            described = _describe(obj, new=action == "create")
            if described is None:
                continue
            table, changed, values = described
            identity = inspect(obj).identity
            entity_id = identity[0] if identity and len(identity) == 1 else None
            if entity_id is None and action == "create":
                entity_id = getattr(obj, "id", None)
            pending.append((action, table, entity_id, changed if action != "delete" else [], values))


def _after_commit(session: Session) -> None:
    for action, table, entity_id, changed, values in session.info.pop(PENDING, ()):
        detail: dict[str, Any] = {"fields": changed}
        if values:
            detail["values"] = values
        emit("database", f"data.{action}", "success", entity_type=table, entity_id=entity_id, **detail)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def install_change_audit() -> None:
    """Once per process (idempotent): listen on every Session."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))

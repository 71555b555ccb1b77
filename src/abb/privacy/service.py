"""GDPR rights (Art. 15-17, 20), consents (Art. 7) and the personal-data access log; retention (Art. 5(1)(e)).

Export walks the schema: every row that points at the user (a foreign key to `users`) or at one of the user's
company profiles, with secrets left out, plus the user's security events. Erasure anonymizes the person and
deletes what only served them, but keeps financial records (deals, payments, enrollments) for their legal
retention period and consent records as proof (docs/compliance.md).
"""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, func, select, update
from sqlalchemy.orm import Session

from abb.accounts.models import RefreshToken, User
from abb.accounts.service import revoke_all_for_user
from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.config import Settings
from abb.core.database import Base, utcnow
from abb.core.errors import Conflict, Forbidden
from abb.core.security import verify_password
from abb.privacy.models import Consent
from abb.security.audit import writer
from abb.security.events import emit
from abb.security.models import AuditRecord, PersonalDataAccess

SECRET_COLUMN = re.compile(r"hash|token|secret|storage_key|password", re.I)
ERASED_DOMAIN = "erased.invalid"
PURPOSES = ("terms", "marketing")
# Rows that the security or finance rules must keep, exported but never deleted on erasure.
EXPORT_SKIPPED_TABLES = frozenset({"audit_log", "audit_head", "audit_verifications", "idempotency_keys"})


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _rows(session: Session, table: Table, column: Any, values: list[int]) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if not SECRET_COLUMN.search(c.name)]
    result = session.execute(select(*columns).where(column.in_(values)).order_by(*table.primary_key.columns)).all()
    return [{c.name: _json(v) for c, v in zip(columns, row, strict=True)} for row in result]


def export(session: Session, *, user: User) -> dict[str, Any]:
    """Everything held about `user`, machine-readable (Art. 15 and 20)."""
    writer.flush()  # the user's latest security events are part of it
    profiles = {
        "sme_profiles": list(session.scalars(select(SmeProfile.id).where(SmeProfile.owner_id == user.id))),
        "partner_profiles": list(session.scalars(select(PartnerProfile.id).where(PartnerProfile.owner_id == user.id))),
    }
    data: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in EXPORT_SKIPPED_TABLES:
            continue
        if table.name == "users":
            data["account"] = _rows(session, table, table.c.id, [user.id])[0]
            continue
        for fk in table.foreign_keys:
            target = fk.column.table.name
            ids = [user.id] if target == "users" else profiles.get(target)
            if not ids:
                continue
            rows = _rows(session, table, fk.parent, ids)
            if rows:
                seen = data.setdefault(table.name, [])
                seen.extend(r for r in rows if r not in seen)
    data["security_events"] = [
        {
            "at": _json(e.created_at),
            "action": e.action,
            "outcome": e.outcome,
            "source_ip": e.source_ip,
            "user_agent": e.user_agent,
        }
        for e in session.scalars(
            select(AuditRecord).where(AuditRecord.user_id == user.id).order_by(AuditRecord.id.desc()).limit(1000)
        )
    ]
    emit("iam", "privacy.export", "success", user_id=user.id, entity_type="users", entity_id=user.id)
    return {"format": "abb-personal-data/1", "exported_at": utcnow().isoformat(), "user_id": user.id, "data": data}


def correct(session: Session, *, user: User, full_name: str) -> User:
    user.full_name = full_name
    session.commit()
    return user


def erase(session: Session, *, user: User, password: str, storage: Any, settings: Settings) -> None:
    """Art. 17 on the user's own request (password confirmed)."""
    if not verify_password(user.password_hash, password, settings=settings):
        emit("iam", "privacy.erasure", "failure", user_id=user.id, reason="wrong_password")
        raise Forbidden("The password is wrong.")
    anonymize(session, user=user, storage=storage, reason="request")


def anonymize(session: Session, *, user: User, storage: Any, reason: str) -> None:
    if user.email.endswith("@" + ERASED_DOMAIN):
        raise Conflict("This account has already been erased.")
    user.email = f"erased-{user.id}@{ERASED_DOMAIN}"
    user.full_name = "Erased user"
    user.password_hash = "!erased:" + secrets.token_hex(16)  # matches no password: argon2 refuses the format
    user.is_active = False
    user.last_seen_at = None
    revoke_all_for_user(session, user=user)
    # Company profiles: the free text and the website go; the company's name and VAT number stay, as the
    # deals and payments kept for their legal retention name them.
    session.execute(update(SmeProfile).where(SmeProfile.owner_id == user.id).values(products="", website=None))
    session.execute(update(PartnerProfile).where(PartnerProfile.owner_id == user.id).values(services="", website=None))
    from abb.uploads.models import Document

    keys = list(session.scalars(select(Document.storage_key).where(Document.owner_id == user.id)))
    session.execute(delete(Document).where(Document.owner_id == user.id))
    session.execute(delete(PersonalDataAccess).where(PersonalDataAccess.subject_user_id == user.id))
    session.commit()
    for key in keys:  # after the commit: a failed commit must not have lost the files
        with contextlib.suppress(Exception):  # a file already gone is what erasure wants
            storage.delete(key)
    emit("iam", "privacy.erasure", "success", user_id=user.id, entity_type="users", entity_id=user.id, reason=reason)


def record_consent(session: Session, *, user: User, purpose: str, granted: bool, version: str) -> Consent:
    consent = Consent(user_id=user.id, purpose=purpose, granted=granted, version=version)
    session.add(consent)
    session.commit()
    return consent


def consents(session: Session, *, user: User) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.user_id == user.id).order_by(Consent.id)))


def access_log(
    session: Session, *, subject_user_id: int | None, limit: int, offset: int
) -> tuple[list[PersonalDataAccess], int]:
    query = select(PersonalDataAccess)
    if subject_user_id is not None:
        query = query.where(PersonalDataAccess.subject_user_id == subject_user_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.order_by(PersonalDataAccess.id.desc()).limit(limit).offset(offset)))
    return items, total


def apply_retention(session: Session, *, settings: Settings, storage: Any) -> dict[str, int]:
    """Delete or anonymize what is past its retention period, per kind (ABB_RETENTION_*_DAYS)."""
    now = utcnow()
    sessions = cast(
        CursorResult[Any],
        session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < now - timedelta(days=settings.retention_sessions_days))
        ),
    ).rowcount
    accesses = cast(
        CursorResult[Any],
        session.execute(
            delete(PersonalDataAccess).where(
                PersonalDataAccess.at < now - timedelta(days=settings.retention_data_access_log_days)
            )
        ),
    ).rowcount
    session.commit()
    cutoff = now - timedelta(days=settings.retention_inactive_accounts_days)
    stale = list(
        session.scalars(
            select(User).where(
                func.coalesce(User.last_seen_at, User.created_at) < cutoff,
                User.email.not_like(f"%@{ERASED_DOMAIN}"),
            )
        )
    )
    for user in stale:
        anonymize(session, user=user, storage=storage, reason="retention")
    counts = {"sessions": sessions or 0, "data_access_log": accesses or 0, "inactive_accounts": len(stale)}
    emit("configuration", "privacy.retention", "success", counts=counts)
    return counts

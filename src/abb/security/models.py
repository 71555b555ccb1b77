"""The append-only audit table (a hash chain), lockouts, verifications and incidents."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from abb.core.database import Base, UTCDateTime, utcnow


class AuditRecord(Base):
    """One security event. Rows are only ever inserted: each carries a SHA-256 over its content and the
    previous row's hash (`abb audit verify`); on PostgreSQL a trigger refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action_created", "action", "created_at"),
        Index("ix_audit_log_user_created", "user_id", "created_at"),
        Index("ix_audit_log_ip_created", "source_ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    category: Mapped[str] = mapped_column(String(32))  # ECS event.category
    action: Mapped[str] = mapped_column(String(64))  # ECS event.action
    outcome: Mapped[str] = mapped_column(String(16))  # success, failure, unknown
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no foreign key: rows outlive users
    source_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(256), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    entity_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row, updated first by every batch of audit inserts: the lock that keeps the chain linear
    across processes (a row lock on PostgreSQL, the write lock on SQLite). The chain is never read from it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditVerification(Base):
    """The result of one `abb audit verify` (also run nightly): shown on the console, read by the alert."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    rows_checked: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    last_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    broken_at_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    reason: Mapped[str] = mapped_column(String(255), default="")


class LockoutScope(enum.StrEnum):
    ACCOUNT = "account"
    IP = "ip"


class Lockout(Base):
    """A temporary sign-in lockout of one account (by e-mail, existing or not) or one source address."""

    __tablename__ = "lockouts"
    __table_args__ = (Index("ix_lockouts_scope_key_until", "scope", "key", "locked_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[LockoutScope] = mapped_column(
        Enum(LockoutScope, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    key: Mapped[str] = mapped_column(String(254))
    failures: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime())
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unlocked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Incident(Base):
    __tablename__ = "security_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[IncidentStatus] = mapped_column(
        Enum(IncidentStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        index=True,
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IncidentEntry(Base):
    """The incident's timeline: status changes, notes, and links to audit events (`audit_id`)."""

    __tablename__ = "security_incident_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("security_incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # status, note, event
    text: Mapped[str] = mapped_column(Text, default="")
    audit_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)


class PersonalDataAccess(Base):
    """Someone viewed another person's profile or document: shown to that person and to admins."""

    __tablename__ = "personal_data_access"
    __table_args__ = (Index("ix_personal_data_access_subject_at", "subject_user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    subject_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    what: Mapped[str] = mapped_column(String(32))  # sme_profile, partner_profile, document
    object_id: Mapped[int] = mapped_column(Integer)

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from abb.core.database import Base, UTCDateTime, utcnow


class Consent(Base):
    """One consent decision (given or withdrawn) for a purpose and a version of its text; never edited,
    so the history proves what was agreed when."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_user_purpose_at", "user_id", "purpose", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))  # terms, marketing
    version: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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

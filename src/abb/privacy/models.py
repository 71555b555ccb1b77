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

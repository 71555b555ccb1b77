from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from abb.core.database import Base, UTCDateTime, utcnow


class MatchNotification(Base):
    """One match announced to one user by e-mail: a retried notification task skips pairs recorded here."""

    __tablename__ = "match_notifications"
    __table_args__ = (UniqueConstraint("match_id", "user_id", name="uq_match_notifications_match_id_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key to matches: this table's migration does not depend on the matching one's.
    match_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

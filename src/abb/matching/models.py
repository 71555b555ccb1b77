from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.database import Base, TimestampMixin, UTCDateTime, string_enum, utcnow
from abb.matching.wording import explanation


class Side(enum.StrEnum):
    SME = "sme"
    PARTNER = "partner"


class MatchStatus(enum.StrEnum):
    SUGGESTED = "suggested"  # nobody has decided yet; recomputes may still rescore it
    ACCEPTED = "accepted"  # one side accepted, the other has not decided
    DECLINED = "declined"  # a side declined: final
    CONNECTED = "connected"  # both accepted: they can meet
    CLOSED = "closed"  # a connected side ended it: final


class Decision(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class MeetingStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"  # either side called it off (a proposal or an agreed time); new times may follow


class Match(TimestampMixin, Base):
    """One suggested SME ↔ partner pair, its score and explanation, and each side's decision."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("sme_id", "partner_id", name="uq_matches_sme_id_partner_id"),
        Index("ix_matches_partner_id_score", "partner_id", "score"),
        Index("ix_matches_sme_id_score", "sme_id", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sme_id: Mapped[int] = mapped_column(ForeignKey("sme_profiles.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_profiles.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    # Points each factor contributed to the score (they add up to it), e.g. {"sector": 30.0, ...}.
    factors: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The same reasons, worded for each reader ("you target Kenya, they are in Nairobi").
    sme_explanation: Mapped[str] = mapped_column(Text)
    partner_explanation: Mapped[str] = mapped_column(Text)
    # The facts behind those words (see matching/wording.py), worded at display time in the reader's language;
    # None for matches stored before they were kept, which show their stored English text.
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    status: Mapped[MatchStatus] = mapped_column(string_enum(MatchStatus), default=MatchStatus.SUGGESTED, index=True)
    sme_decision: Mapped[Decision] = mapped_column(string_enum(Decision), default=Decision.PENDING)
    partner_decision: Mapped[Decision] = mapped_column(string_enum(Decision), default=Decision.PENDING)
    sme_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    partner_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[Side | None] = mapped_column(string_enum(Side), nullable=True)
    # Why a side declined (shown to the other side), and who asked to meet from a profile page (None: suggested).
    decline_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    requested_by: Mapped[Side | None] = mapped_column(string_enum(Side), nullable=True)

    sme: Mapped[SmeProfile] = relationship(lazy="joined", innerjoin=True)
    partner: Mapped[PartnerProfile] = relationship(lazy="joined", innerjoin=True)

    def decision_of(self, side: Side) -> Decision:
        return self.sme_decision if side is Side.SME else self.partner_decision

    def explanation_for(self, side: Side) -> str:
        """The stored English wording (the API's)."""
        return self.sme_explanation if side is Side.SME else self.partner_explanation

    def explanation_in_current_language(self, side: Side) -> str:
        """The reasons worded for this side in the language in force (pages and e-mails)."""
        if self.reasons is None:
            return self.explanation_for(side)
        return explanation(self.reasons, reader_is_sme=side is Side.SME)


class Meeting(TimestampMixin, Base):
    """A meeting proposed by one side of a connected match: 2-5 UTC start times; the other side picks one."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    proposed_by: Mapped[Side] = mapped_column(string_enum(Side))
    # ISO 8601 UTC start times ("2026-12-01T09:00:00+00:00"), in the order proposed.
    slots: Mapped[list[str]] = mapped_column(JSON)
    video_link: Mapped[str] = mapped_column(String(500))
    status: Mapped[MeetingStatus] = mapped_column(string_enum(MeetingStatus), default=MeetingStatus.PROPOSED)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)

    match: Mapped[Match] = relationship(lazy="joined", innerjoin=True)

    def start_times(self) -> list[datetime]:
        """The proposed start times, as datetimes."""
        return [datetime.fromisoformat(slot) for slot in self.slots]


class MatchMessage(Base):
    """A message between the two sides of a connected match; the other side is e-mailed a copy."""

    __tablename__ = "match_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    author_side: Mapped[Side] = mapped_column(string_enum(Side))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

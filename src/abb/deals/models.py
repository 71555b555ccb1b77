from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.database import Base, TimestampMixin, UTCDateTime, string_enum, utcnow
from abb.deals.money import Currency


class DealState(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SETTLED = "settled"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDED = "refunded"


class ProviderName(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    STRIPE_CARD = "stripe_card"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the money (a transfer, a card confirmation)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # this attempt failed; a retry may follow


class Deal(TimestampMixin, Base):
    """A deal between the two parties of a connected match; the SME pays, the partner is paid."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="RESTRICT"), index=True)
    sme_id: Mapped[int] = mapped_column(ForeignKey("sme_profiles.id", ondelete="RESTRICT"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_profiles.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    description: Mapped[str] = mapped_column(Text)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(string_enum(Currency))
    due_date: Mapped[date] = mapped_column(Date)
    state: Mapped[DealState] = mapped_column(string_enum(DealState), default=DealState.DRAFT, index=True)
    # ISO 11649 creditor reference ("RF" + 2 check digits): what the payer writes on a bank transfer.
    payment_reference: Mapped[str] = mapped_column(String(25), unique=True)
    provider: Mapped[ProviderName | None] = mapped_column(string_enum(ProviderName), nullable=True)
    received_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Money received beyond the amount, waiting to be refunded to the payer.
    excess_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    sme: Mapped[SmeProfile] = relationship(lazy="joined", innerjoin=True)
    partner: Mapped[PartnerProfile] = relationship(lazy="joined", innerjoin=True)

    # What a payment provider shows and tags (see abb.deals.providers.base.Payable).
    @property
    def payment_description(self) -> str:
        return f"Africa Business Bridge deal {self.id}"

    @property
    def payment_metadata(self) -> dict[str, str]:
        return {"deal_id": str(self.id)}


class DealEvent(Base):
    """One line of a deal's history: a state change, or a payment that did not change the state."""

    __tablename__ = "deal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[DealState | None] = mapped_column(string_enum(DealState), nullable=True)
    to_state: Mapped[DealState] = mapped_column(string_enum(DealState))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(160))  # kept readable if the account goes away
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payment(TimestampMixin, Base):
    """A payment attempt or a received transfer; `external_id` is the bank's or Stripe's id for it.

    It pays either a deal or a course enrollment (training), exactly one of them.
    """

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "external_id", name="uq_payments_provider_external_id"),
        CheckConstraint("(deal_id IS NULL) <> (enrollment_id IS NULL)", name="pays_one_thing"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True, nullable=True)
    enrollment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True, nullable=True
    )
    provider: Mapped[ProviderName] = mapped_column(string_enum(ProviderName))
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[Currency] = mapped_column(string_enum(Currency))
    status: Mapped[PaymentStatus] = mapped_column(string_enum(PaymentStatus), default=PaymentStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class WebhookEvent(Base):
    """Provider events already handled: a repeated delivery of the same id has no second effect."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_webhook_events_provider_event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[ProviderName] = mapped_column(string_enum(ProviderName))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

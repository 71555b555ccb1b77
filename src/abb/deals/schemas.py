"""Deal and payment API shapes. Amounts travel as decimal strings ("1250.50"), never JSON numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from abb.deals.models import Deal, DealEvent, DealState, ProviderName
from abb.deals.money import Currency, format_amount, parse_amount

AmountText = Annotated[
    StrictStr, Field(min_length=1, max_length=24, examples=["1250.50"], description="Decimal string in major units")
]
Reason = Annotated[str | None, Field(default=None, max_length=500)]
# Bank transaction ids are printable text without spaces (e.g. "20261127-KCB-00042").
BankTransactionId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]
MAX_DUE_DAYS = 5 * 366


class ParsedAmount(str):
    """An amount's text as it was sent, carrying its value in minor units: the schema parses it once."""

    minor: int


class AmountIn(BaseModel):
    """A request with a `currency` and an `amount` in it (declared by each subclass, in its own order);
    `amount_minor` is the amount in the currency's minor units."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("amount", check_fields=False)
    @classmethod
    def _parse_amount(cls, value: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if not isinstance(currency, Currency):  # a bad currency is reported on its own field
            return value
        parsed = ParsedAmount(value)
        parsed.minor = parse_amount(value, currency)
        return parsed

    @property
    def amount_minor(self) -> int:
        amount = getattr(self, "amount", None)
        assert isinstance(amount, ParsedAmount), "validated with its currency"
        return amount.minor


class DealIn(AmountIn):
    match_id: int = Field(ge=1, le=2_147_483_647)
    description: str = Field(min_length=3, max_length=2000)
    currency: Currency
    amount: AmountText
    due_date: date

    @field_validator("due_date")
    @classmethod
    def _due_date(cls, value: date) -> date:
        today = datetime.now(UTC).date()
        if value < today:
            raise ValueError("must not be in the past")
        if value > today + timedelta(days=MAX_DUE_DAYS):
            raise ValueError("must be within five years")
        return value


class PayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName = ProviderName.BANK_TRANSFER


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Reason


class ReconciliationIn(AmountIn):
    reference: str = Field(min_length=5, max_length=40, examples=["RF18 ABB4 K7QX 2M"])
    currency: Currency
    amount: AmountText
    bank_transaction_id: BankTransactionId


class DealEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime = Field(validation_alias="created_at")
    from_state: DealState | None
    to_state: DealState
    by: str = Field(validation_alias="actor_label")
    reason: str


class DealOut(BaseModel):
    id: int
    match_id: int
    sme_id: int
    partner_id: int
    sme_name: str
    partner_name: str
    description: str
    amount: str
    currency: Currency
    due_date: date
    state: DealState
    payment_reference: str
    provider: ProviderName | None
    received: str
    outstanding: str
    excess_to_refund: str
    platform_fee: str
    created_at: datetime
    history: list[DealEventOut]

    @classmethod
    def build(cls, deal: Deal, events: list[DealEvent]) -> DealOut:
        money = _money(deal)
        return cls(
            id=deal.id,
            match_id=deal.match_id,
            sme_id=deal.sme_id,
            partner_id=deal.partner_id,
            sme_name=deal.sme.company_name,
            partner_name=deal.partner.organization_name,
            description=deal.description,
            currency=deal.currency,
            due_date=deal.due_date,
            state=deal.state,
            payment_reference=deal.payment_reference,
            provider=deal.provider,
            created_at=deal.created_at,
            history=[DealEventOut.model_validate(e) for e in events],
            **money,
        )


def _money(deal: Deal) -> dict[str, str]:
    def fmt(minor: int) -> str:
        return format_amount(minor, deal.currency)

    return {
        "amount": fmt(deal.amount_minor),
        "received": fmt(deal.received_minor),
        "outstanding": fmt(max(deal.amount_minor - deal.received_minor, 0)),
        "excess_to_refund": fmt(deal.excess_minor),
        "platform_fee": fmt(deal.fee_minor),
    }


class PaymentOut(BaseModel):
    deal: DealOut
    payment_id: int | None
    instructions: dict[str, Any]


class ReconciliationOut(BaseModel):
    payment_id: int
    outcome: Literal["exact", "partial", "overpaid"]
    amount: str
    excess_to_refund: str
    deal: DealOut

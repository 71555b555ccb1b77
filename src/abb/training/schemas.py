from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from abb.deals.models import ProviderName
from abb.deals.money import Currency
from abb.training.models import CourseKind, CourseLevel, EnrollmentStatus

CourseLanguage = Literal["it", "en", "sw", "am"]
COURSE_LANGUAGES: dict[str, str] = {"it": "Italian", "en": "English", "sw": "Swahili", "am": "Amharic"}
CourseCurrency = Literal["EUR", "USD", "KES", "TZS", "ETB"]
# ISO 4217 minor units of every accepted currency: prices are stored as integers of these.
MINOR_UNITS: dict[str, int] = {"EUR": 2, "USD": 2, "KES": 2, "TZS": 2, "ETB": 2}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=160)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
Capacity = Annotated[int, Field(ge=1, le=10_000)]
PriceMinor = Annotated[int, Field(ge=0, le=100_000_000, description="Price in the currency's minor units")]
UserId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CourseIn(_In):
    title: Title
    description: Description
    kind: CourseKind = CourseKind.COURSE
    language: CourseLanguage
    level: CourseLevel
    starts_at: UtcTime
    ends_at: UtcTime
    capacity: Capacity
    price_minor: PriceMinor = 0
    currency: CourseCurrency = "EUR"
    instructor_id: UserId | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> CourseIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CourseUpdate(_In):
    """Partial update: only the fields sent change; null only clears the instructor."""

    title: Title | None = None
    description: Description | None = None
    kind: CourseKind | None = None
    language: CourseLanguage | None = None
    level: CourseLevel | None = None
    starts_at: UtcTime | None = None
    ends_at: UtcTime | None = None
    capacity: Capacity | None = None
    price_minor: PriceMinor | None = None
    currency: CourseCurrency | None = None
    instructor_id: UserId | None = None

    @model_validator(mode="after")
    def _no_null(self) -> CourseUpdate:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None and name != "instructor_id"]
        if nulls:
            raise ValueError(f"may not be null: {', '.join(sorted(nulls))}")
        return self


class CourseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    kind: CourseKind
    language: str
    level: CourseLevel
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    waitlist_length: int
    price_minor: int
    currency: str
    instructor_id: int | None
    created_at: datetime
    updated_at: datetime


class EnrollIn(_In):
    waitlist: bool = Field(default=False, description="Join the waitlist if the course is full")


class EnrollmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    course_id: int
    user_id: int
    status: EnrollmentStatus
    queued_at: datetime
    cancelled_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Paid courses (all zero / null for a free one).
    amount_minor: int = Field(description="The price when the seat was held, in the currency's minor units")
    currency: Currency
    received_minor: int
    payment_reference: str | None = Field(description="ISO 11649 reference to quote on a bank transfer")
    provider: ProviderName | None
    hold_expires_at: datetime | None = Field(description="When an unpaid held seat is released")
    paid_at: datetime | None


class EnrollmentPaymentOut(BaseModel):
    enrollment: EnrollmentOut
    payment_id: int | None
    instructions: dict[str, Any]


class EnrollmentReconciliationOut(BaseModel):
    payment_id: int
    outcome: Literal["exact", "partial", "overpaid"]
    amount: str
    excess_to_refund: str
    enrollment: EnrollmentOut

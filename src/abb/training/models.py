"""Courses and webinars, and who enrolled in them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from abb.core.database import Base, TimestampMixin, UTCDateTime, string_enum, utcnow
from abb.deals.models import ProviderName
from abb.deals.money import Currency


class CourseKind(enum.StrEnum):
    COURSE = "course"
    WEBINAR = "webinar"


class CourseLevel(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class EnrollmentStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # a paid course's seat, held until `hold_expires_at`
    EXPIRED = "expired"  # the hold ran out unpaid; the seat went back
    ENROLLED = "enrolled"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class Course(TimestampMixin, Base):
    """A course or webinar with a fixed number of seats; the price is in the currency's minor units."""

    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[CourseKind] = mapped_column(string_enum(CourseKind))
    language: Mapped[str] = mapped_column(String(2), index=True)
    level: Mapped[CourseLevel] = mapped_column(string_enum(CourseLevel))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    instructor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class Enrollment(TimestampMixin, Base):
    """One person's place in a course: one row per (course, person), revived if they enroll again."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("course_id", "user_id", name="uq_enrollments_course_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(string_enum(EnrollmentStatus))
    # Waitlist order: first come, first promoted.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Paying for a paid course: the price when the seat was held, what arrived, and how.
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[Currency] = mapped_column(string_enum(Currency), default=Currency.EUR)
    received_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # ISO 11649 reference quoted on a bank transfer (the same scheme as deals'); new for every hold.
    payment_reference: Mapped[str | None] = mapped_column(String(25), unique=True, nullable=True)
    provider: Mapped[ProviderName | None] = mapped_column(string_enum(ProviderName), nullable=True)
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # What a payment provider shows and tags (see abb.deals.providers.base.Payable).
    @property
    def payment_description(self) -> str:
        return f"Africa Business Bridge course {self.course_id} enrollment {self.id}"

    @property
    def payment_metadata(self) -> dict[str, str]:
        return {"enrollment_id": str(self.id), "course_id": str(self.course_id)}

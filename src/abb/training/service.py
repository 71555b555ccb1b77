"""Training rules: admins run the catalogue; people enroll, cancel and join a waitlist; seats never oversell.

Every change to a course's seats happens while holding that course's row (see `_lock_course`), so
concurrent enrollments are serialized per course on PostgreSQL and SQLite alike.

Paid courses: enrolling holds a seat (`awaiting_payment`) until `hold_expires_at`; the person pays by card
(Stripe, confirmed by its webhook) or bank transfer (an admin reconciles it), through abb.deals.payments'
providers. Paid in full -> `enrolled`. An unpaid hold that runs out becomes `expired` and frees its seat for
the waitlist: lazily (an expired hold never counts as taken, and the next change to the course releases it)
and by the `release_expired_holds` task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.config import Settings
from abb.core.database import fetch_page, utcnow
from abb.core.errors import AppError, Conflict, Forbidden, InvalidTransition, NotFound, NotOwner, Unprocessable
from abb.deals import payments
from abb.deals.models import Payment, PaymentStatus, ProviderName
from abb.deals.money import Currency, to_major
from abb.deals.schemas import ReconciliationIn
from abb.observability import business
from abb.observability.business import record_enrollment
from abb.training.models import Course, Enrollment, EnrollmentStatus

E = EnrollmentStatus
SEAT_HOLDING = (E.ENROLLED, E.COMPLETED, E.AWAITING_PAYMENT)
ACTIVE = (*SEAT_HOLDING, E.WAITLISTED)
Outcome = Literal["exact", "partial", "overpaid"]


def _holds_seat(now: datetime) -> ColumnElement[bool]:
    """Enrolled, completed, or awaiting payment with the hold still running."""
    return or_(
        Enrollment.status.in_((E.ENROLLED, E.COMPLETED)),
        and_(Enrollment.status == E.AWAITING_PAYMENT, Enrollment.hold_expires_at > now),
    )


class PaymentUnderWay(Conflict):
    slug, title = "payment-under-way", "A payment for this seat is already under way"


@dataclass(frozen=True)
class SeatCount:
    taken: int = 0
    waiting: int = 0


def seat_counts(session: Session, course_ids: list[int]) -> dict[int, SeatCount]:
    if not course_ids:
        return {}
    holding = func.sum(case((_holds_seat(utcnow()), 1), else_=0))
    waiting = func.sum(case((Enrollment.status == EnrollmentStatus.WAITLISTED, 1), else_=0))
    rows = session.execute(
        select(Enrollment.course_id, holding, waiting)
        .where(Enrollment.course_id.in_(course_ids))
        .group_by(Enrollment.course_id)
    ).all()
    return {course_id: SeatCount(int(taken or 0), int(queued or 0)) for course_id, taken, queued in rows}


def _check_instructor(session: Session, instructor_id: int | None) -> None:
    if instructor_id is not None and session.get(User, instructor_id) is None:
        raise Unprocessable("The instructor is not a known user.", extra={"errors": [_field_error("instructor_id")]})


def _field_error(field: str, message: str = "not valid") -> dict[str, str]:
    return {"field": field, "message": message, "code": "value_error"}


def create_course(session: Session, *, data: dict[str, Any]) -> Course:
    if data["starts_at"] <= utcnow():
        raise Unprocessable(
            "A new course must start in the future.", extra={"errors": [_field_error("starts_at", "in the past")]}
        )
    _check_instructor(session, data.get("instructor_id"))
    course = Course(**data)
    session.add(course)
    session.commit()
    return course


def get_course(session: Session, *, course_id: int) -> Course:
    course = session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.")
    return course


def list_courses(
    session: Session, *, language: str | None, upcoming: bool, limit: int, offset: int
) -> tuple[list[Course], int]:
    query = select(Course)
    if language:
        query = query.where(Course.language == language)
    if upcoming:
        query = query.where(Course.starts_at > utcnow())
    return fetch_page(session, query, Course.starts_at, Course.id, limit=limit, offset=offset)


def _lock_course(session: Session, course_id: int, *, fresh: bool = True) -> Course:
    """Hold the course row until the caller commits or rolls back.

    PostgreSQL: SELECT ... FOR UPDATE, so a second enrollment waits and then sees the first one's rows.
    SQLite has no row locks but serializes writers: a no-op write as the first statement of a fresh
    transaction takes the database write lock before anything is read (a read snapshot taken earlier
    could not be upgraded to a write once another writer committed).
    """
    if fresh:  # end any read-only transaction left open by the request (e.g. loading the user)
        session.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Course).where(Course.id == course_id).values(id=Course.id))
    course = session.scalar(
        select(Course).where(Course.id == course_id).with_for_update().execution_options(populate_existing=True)
    )
    if course is None:
        session.rollback()
        raise NotFound("No such course.")
    return course


def _seats_taken(session: Session, course_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Enrollment.id)).where(Enrollment.course_id == course_id, _holds_seat(utcnow()))
        )
        or 0
    )


def _release_expired(session: Session, course: Course, settings: Settings) -> tuple[int, list[Enrollment]]:
    """Expire the course's unpaid holds that ran out and let the waitlist into the freed seats (caller holds the
    course lock); returns how many expired and who was promoted."""
    now = utcnow()
    expired = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.course_id == course.id,
                Enrollment.status == E.AWAITING_PAYMENT,
                Enrollment.hold_expires_at <= now,
            )
        )
    )
    for enrollment in expired:
        enrollment.status, enrollment.cancelled_at = E.EXPIRED, now
    session.flush()
    return len(expired), (_promote_waitlist(session, course, settings) if expired else [])


def _hold_seat(enrollment: Enrollment, course: Course, minutes: int) -> None:
    """Hold a seat of a paid course until it is paid, with a fresh bank-transfer reference.

    Money already received on this row (a payment that came after an earlier hold lapsed, still owed back)
    counts towards the new seat rather than being forgotten; when it covers the price the seat is paid.
    """
    now = utcnow()
    enrollment.amount_minor, enrollment.currency = course.price_minor, Currency(course.currency)
    enrollment.received_minor = enrollment.received_minor or 0
    enrollment.provider, enrollment.paid_at = None, None
    enrollment.payment_reference = payments.new_payment_reference()
    if enrollment.received_minor >= course.price_minor:
        enrollment.status, enrollment.paid_at, enrollment.hold_expires_at = E.ENROLLED, now, None
    else:
        enrollment.status, enrollment.hold_expires_at = E.AWAITING_PAYMENT, now + timedelta(minutes=minutes)


def _seat_status(enrollment: Enrollment, course: Course, *, hold_minutes: int) -> None:
    """Give `enrollment` a seat: enrolled for a free course, held awaiting payment for a paid one."""
    if course.price_minor > 0:
        _hold_seat(enrollment, course, hold_minutes)
    else:
        enrollment.status = E.ENROLLED


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error


def update_course(
    session: Session, *, course_id: int, changes: dict[str, Any], settings: Settings
) -> tuple[Course, list[Enrollment]]:
    """Edit a course; raising the capacity promotes people from the waitlist."""
    course = _lock_course(session, course_id)
    _expired, released_to = _release_expired(session, course, settings)
    starts_at = changes.get("starts_at", course.starts_at)
    if changes.get("ends_at", course.ends_at) <= starts_at:
        _refuse(session, Unprocessable("ends_at must be after starts_at.", extra={"errors": [_field_error("ends_at")]}))
    if "capacity" in changes and changes["capacity"] < _seats_taken(session, course_id):
        _refuse(session, Conflict("The capacity cannot go below the number of people already enrolled."))
    if "instructor_id" in changes:
        try:
            _check_instructor(session, changes["instructor_id"])
        except Unprocessable as exc:
            _refuse(session, exc)
    for field, value in changes.items():
        setattr(course, field, value)
    session.flush()
    promoted = [*released_to, *_promote_waitlist(session, course, settings)]
    session.commit()
    _record_seated(promoted)
    return course, promoted


def _record_seated(enrollments: list[Enrollment]) -> None:
    """Count committed enrollments (a held seat counts when it is paid)."""
    for enrollment in enrollments:
        if enrollment.status == E.ENROLLED:
            record_enrollment()


def enroll(session: Session, *, course_id: int, user: User, settings: Settings, waitlist: bool = False) -> Enrollment:
    """Take a seat (free course), hold one until paid (paid course), or join the waitlist when full."""
    course = _lock_course(session, course_id)
    now = utcnow()
    if course.starts_at <= now:
        _refuse(session, Conflict("This course has already started; enrollment is closed."))
    _expired, promoted = _release_expired(session, course, settings)  # the waitlist goes before newcomers
    existing = session.scalar(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user.id)
    )
    if existing is not None and existing.status in ACTIVE:
        _refuse(session, Conflict(f"You are already {existing.status.value} in this course."))
    seat_free = _seats_taken(session, course_id) < course.capacity
    if not seat_free and not waitlist:
        _refuse(session, Conflict("This course is full; enroll with waitlist=true to join the waitlist."))
    enrollment = existing or Enrollment(course_id=course_id, user_id=user.id)
    if seat_free:
        _seat_status(enrollment, course, hold_minutes=settings.seat_hold_card_minutes)
    else:
        enrollment.status = E.WAITLISTED
    enrollment.queued_at = now
    enrollment.cancelled_at = None
    session.add(enrollment)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("You are already enrolled in this course.") from exc
    _record_seated([*promoted, enrollment])
    return enrollment


def get_enrollment(session: Session, *, enrollment_id: int, user: User) -> Enrollment:
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No such enrollment.")
    if enrollment.user_id != user.id and not _runs_course(session, user, enrollment.course_id):
        raise NotOwner("Only the enrolled person, the instructor and admins can see this enrollment.")
    return enrollment


def _runs_course(session: Session, user: User, course_id: int) -> bool:
    if user.role == Role.ADMIN:
        return True
    course = session.get(Course, course_id)
    return course is not None and course.instructor_id == user.id


def cancel(session: Session, *, enrollment_id: int, user: User, settings: Settings) -> Enrollment:
    """Give up a seat, a held seat or a waitlist place; the first person waiting takes a freed seat."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No such enrollment.")
    if enrollment.user_id != user.id and user.role != Role.ADMIN:
        raise NotOwner("You can only cancel your own enrollment.")
    course = _lock_course(session, enrollment.course_id)
    session.refresh(enrollment)
    if enrollment.status not in (E.ENROLLED, E.WAITLISTED, E.AWAITING_PAYMENT):
        _refuse(session, InvalidTransition(f"An enrollment that is {enrollment.status.value} cannot be cancelled."))
    if course.starts_at <= utcnow():
        _refuse(session, InvalidTransition("This course has already started; the enrollment can no longer change."))
    enrollment.status = E.CANCELLED
    enrollment.cancelled_at = utcnow()
    session.flush()
    promoted = _promote_waitlist(session, course, settings)
    session.commit()
    _record_seated(promoted)
    return enrollment


def _promote_waitlist(session: Session, course: Course, settings: Settings) -> list[Enrollment]:
    """Move people from the waitlist into free seats, first come first served (caller holds the course lock).

    On a paid course the seat is held for them for the bank-transfer time: they were not there to pay at once.
    """
    free = course.capacity - _seats_taken(session, course.id)
    if free <= 0 or course.starts_at <= utcnow():
        return []
    waiting = list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.WAITLISTED)
            .order_by(Enrollment.queued_at, Enrollment.id)
            .limit(free)
        )
    )
    for enrollment in waiting:
        _seat_status(enrollment, course, hold_minutes=settings.seat_hold_transfer_minutes)
    return waiting


def complete(session: Session, *, enrollment_id: int, user: User) -> Enrollment:
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No such enrollment.")
    if not _runs_course(session, user, enrollment.course_id):
        raise Forbidden("Only the course's instructor and admins can mark completion.")
    course = get_course(session, course_id=enrollment.course_id)
    if enrollment.status != EnrollmentStatus.ENROLLED:
        raise InvalidTransition(f"An enrollment that is {enrollment.status.value} cannot be completed.")
    if course.starts_at > utcnow():
        raise InvalidTransition("A course cannot be completed before it starts.")
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.completed_at = utcnow()
    session.commit()
    return enrollment


def list_enrollments(
    session: Session, *, user_id: int | None = None, course_id: int | None = None, limit: int, offset: int
) -> tuple[list[Enrollment], int]:
    query = select(Enrollment)
    if user_id is not None:
        query = query.where(Enrollment.user_id == user_id)
    if course_id is not None:
        query = query.where(Enrollment.course_id == course_id)
    return fetch_page(session, query, Enrollment.id, limit=limit, offset=offset)


def course_enrollments(
    session: Session, *, course_id: int, user: User, limit: int, offset: int
) -> tuple[list[Enrollment], int]:
    get_course(session, course_id=course_id)
    if not _runs_course(session, user, course_id):
        raise Forbidden("Only the course's instructor and admins can list its enrollments.")
    return list_enrollments(session, course_id=course_id, limit=limit, offset=offset)


def my_enrollments_by_course(session: Session, *, user: User, course_ids: list[int]) -> dict[int, Enrollment]:
    if not course_ids:
        return {}
    rows = session.scalars(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id.in_(course_ids))
    )
    return {e.course_id: e for e in rows}


# --- paying for a paid course ------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentPayment:
    enrollment: Enrollment
    payment: Payment | None
    instructions: dict[str, Any]


def pay(
    session: Session, *, enrollment_id: int, user: User, provider_name: ProviderName, settings: Settings
) -> EnrollmentPayment:
    """The enrolled person pays their held seat by card or bank transfer (a transfer's hold lasts longer).

    The provider is called after the course lock is released, so a slow card provider never blocks others
    enrolling; money that lands after the hold ran out is handled where it is received.
    """
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No such enrollment.")
    if enrollment.user_id != user.id:
        raise NotOwner("Only the enrolled person pays their seat.")
    payments.provider_offered(provider_name, settings)
    course = _lock_course(session, enrollment.course_id)
    expired, promoted = _release_expired(session, course, settings)
    session.refresh(enrollment)
    if enrollment.status != E.AWAITING_PAYMENT:
        if expired:
            session.commit()  # keep the expiry just applied: it is true whatever this request wanted
            _record_seated(promoted)
        else:
            session.rollback()
        raise InvalidTransition(
            "Your seat hold has expired; enroll again to hold a new seat."
            if enrollment.status == E.EXPIRED
            else f"An enrollment that is {enrollment.status.value} has nothing to pay."
        )
    if payment_under_way(session, enrollment_id=enrollment.id) is not None:
        # A second attempt, by card or transfer, could take the money twice (checked under the course lock).
        if expired:
            session.commit()
            _record_seated(promoted)
        else:
            session.rollback()
        raise PaymentUnderWay(
            "A card payment for this seat is already under way; wait for its outcome (you can pay again if it fails)."
        )
    enrollment.provider = provider_name
    if provider_name == ProviderName.BANK_TRANSFER:
        assert enrollment.hold_expires_at is not None
        enrollment.hold_expires_at = max(
            enrollment.hold_expires_at, utcnow() + timedelta(minutes=settings.seat_hold_transfer_minutes)
        )
    payment = payments.open_payment(
        session,
        enrollment,
        provider_name=provider_name,
        settings=settings,
        payer=user,
        link={"enrollment_id": enrollment.id},
    )
    session.commit()  # the pending row is in before the lock goes: a concurrent second attempt sees it
    _record_seated(promoted)
    attempt = payments.start_payment(enrollment, payment, provider_name=provider_name, settings=settings)
    session.commit()
    if attempt.failure is not None:
        business.record_payment_failed(provider_name.value)
    return EnrollmentPayment(enrollment=enrollment, payment=attempt.payment, instructions=attempt.instructions)


def payment_under_way(session: Session, *, enrollment_id: int) -> Payment | None:
    """The card payment of this seat still waiting for the card company's answer, if any."""
    return session.scalars(
        select(Payment).where(Payment.enrollment_id == enrollment_id, Payment.status == PaymentStatus.PENDING)
    ).first()


def transfer_instructions(enrollment: Enrollment, settings: Settings) -> dict[str, Any] | None:
    """Bank details and reference while an enrollment awaits a transfer (for the pay page)."""
    if enrollment.status != E.AWAITING_PAYMENT or enrollment.provider != ProviderName.BANK_TRANSFER:
        return None
    return payments.transfer_instructions(enrollment, settings)


def _take_money(
    session: Session, course: Course, enrollment: Enrollment, amount_minor: int, settings: Settings
) -> Outcome | None:
    """Count money received for an enrollment (caller holds the course lock); None when it cannot buy a seat.

    A hold that ran out still gets its seat back when one is free and the course has not started: the
    person paid in good faith. Cancelled, or already paid: None (the money is owed back).
    """
    now = utcnow()
    if enrollment.paid_at is not None or enrollment.status not in (E.AWAITING_PAYMENT, E.EXPIRED):
        return None
    hold_running = enrollment.status == E.AWAITING_PAYMENT and (enrollment.hold_expires_at or now) > now
    if not hold_running:
        if course.starts_at <= now or _seats_taken(session, course.id) >= course.capacity:
            return None
        enrollment.status, enrollment.cancelled_at = E.AWAITING_PAYMENT, None
        enrollment.hold_expires_at = now + timedelta(minutes=settings.seat_hold_transfer_minutes)
    enrollment.received_minor += amount_minor
    if enrollment.received_minor < enrollment.amount_minor:
        return "partial"
    enrollment.status, enrollment.paid_at, enrollment.hold_expires_at = E.ENROLLED, now, None
    return "overpaid" if enrollment.received_minor > enrollment.amount_minor else "exact"


def settle_card_payment(
    session: Session, payment: Payment, *, succeeded: bool, received_minor: int, settings: Settings
) -> None:
    """Apply a card payment's outcome (from Stripe's webhook, via abb.deals.payments) to its enrollment.

    Failed: the seat stays held; the person may pay again until the hold runs out. Succeeded: enrolled, or,
    when no seat can be had any more, the money stays recorded on the enrollment for an admin to refund.
    """
    assert payment.enrollment_id is not None
    enrollment = session.get(Enrollment, payment.enrollment_id)
    assert enrollment is not None  # the payment row cascades with it
    course = _lock_course(session, enrollment.course_id, fresh=False)  # keeps the webhook event in this commit
    session.refresh(enrollment)
    outcome = _take_money(session, course, enrollment, received_minor, settings) if succeeded else None
    if succeeded and outcome is None:
        enrollment.received_minor += received_minor  # a refund is owed: shown on the admin's enrollments page
    session.commit()
    _record_seated([enrollment] if outcome in ("exact", "overpaid") else [])


payments.handle_card_outcomes("enrollment_id", settle_card_payment)


@dataclass(frozen=True)
class EnrollmentReconciliation:
    enrollment: Enrollment
    payment: Payment
    outcome: Outcome
    excess_minor: int


def reconcile_transfer(
    session: Session, *, admin: User, reconciliation_in: ReconciliationIn, settings: Settings
) -> EnrollmentReconciliation:
    """Match an incoming bank transfer to the enrollment with its reference (admins; API and console alike)."""
    compact = payments.parse_reference(reconciliation_in.reference)
    enrollment = session.scalar(select(Enrollment).where(Enrollment.payment_reference == compact))
    if enrollment is None:
        raise NotFound("No enrollment has this payment reference.")
    course = _lock_course(session, enrollment.course_id)
    session.refresh(enrollment)
    if reconciliation_in.currency != enrollment.currency:
        _refuse(
            session,
            Unprocessable(
                f"This enrollment is in {enrollment.currency.value}, not {reconciliation_in.currency.value}."
            ),
        )
    try:
        payments.check_not_reconciled(session, reconciliation_in.bank_transaction_id)
    except AppError as exc:
        _refuse(session, exc)
    if enrollment.provider != ProviderName.BANK_TRANSFER:
        _refuse(session, InvalidTransition("This enrollment is not being paid by bank transfer."))
    outcome = _take_money(session, course, enrollment, reconciliation_in.amount_minor, settings)
    if outcome is None:
        _refuse(
            session,
            InvalidTransition(
                f"This enrollment is '{enrollment.status.value}' and no seat can be had for it; "
                "return the money to the sender."
            ),
        )
    payment = Payment(
        enrollment_id=enrollment.id,
        provider=ProviderName.BANK_TRANSFER,
        external_id=reconciliation_in.bank_transaction_id,
        amount_minor=reconciliation_in.amount_minor,
        currency=enrollment.currency,
        status=PaymentStatus.SUCCEEDED,
        attempts=1,
        recorded_by_id=admin.id,
    )
    session.add(payment)
    try:
        session.commit()
    except IntegrityError as exc:  # the same transaction reconciled concurrently
        session.rollback()
        raise payments.AlreadyReconciled(
            f"Bank transaction {reconciliation_in.bank_transaction_id!r} is already recorded."
        ) from exc
    business.record_payment_received(
        provider=ProviderName.BANK_TRANSFER.value,
        currency=enrollment.currency.value,
        amount=to_major(reconciliation_in.amount_minor, enrollment.currency),
    )
    _record_seated([enrollment])
    excess = max(enrollment.received_minor - enrollment.amount_minor, 0)
    return EnrollmentReconciliation(enrollment=enrollment, payment=payment, outcome=outcome, excess_minor=excess)


def release_expired_holds(session: Session, *, settings: Settings) -> int:
    """Expire every unpaid hold that ran out, course by course under its lock; returns how many."""
    course_ids = list(
        session.scalars(
            select(Enrollment.course_id)
            .where(Enrollment.status == E.AWAITING_PAYMENT, Enrollment.hold_expires_at <= utcnow())
            .distinct()
        )
    )
    released = 0
    for course_id in course_ids:
        course = _lock_course(session, course_id)
        expired, promoted = _release_expired(session, course, settings)
        session.commit()
        released += expired
        _record_seated(promoted)
    return released


def awaiting_payment(session: Session, *, limit: int = 100) -> list[Enrollment]:
    """Held seats of paid courses, oldest first (the admin's reconciliation list)."""
    return list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.status == E.AWAITING_PAYMENT)
            .order_by(Enrollment.hold_expires_at, Enrollment.id)
            .limit(limit)
        )
    )

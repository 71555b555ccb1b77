from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from abb.accounts.deps import AdminUser, CurrentUser
from abb.core.http import IdPath, Page, PageDep, SessionDep, SettingsDep
from abb.core.openapi import links_to, problem_responses
from abb.deals.money import format_amount
from abb.deals.schemas import PayIn, ReconciliationIn
from abb.training import service
from abb.training.models import Course
from abb.training.schemas import (
    CourseIn,
    CourseLanguage,
    CourseOut,
    CourseUpdate,
    EnrollIn,
    EnrollmentOut,
    EnrollmentPaymentOut,
    EnrollmentReconciliationOut,
)

router = APIRouter(prefix="/api/v1", tags=["training"])
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)


def course_out(course: Course, counts: service.SeatCount) -> CourseOut:
    return CourseOut.model_validate(
        {
            **{name: getattr(course, name) for name in CourseOut.model_fields if hasattr(course, name)},
            "seats_taken": counts.taken,
            "waitlist_length": counts.waiting,
        }
    )


def _one_course_out(session: SessionDep, course: Course) -> CourseOut:
    return course_out(course, service.seat_counts(session, [course.id]).get(course.id, service.SeatCount()))


@router.get("/courses", response_model=Page[CourseOut], responses=problem_responses(401, 422))
def list_courses(
    _user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    language: CourseLanguage | None = None,
    upcoming: Annotated[bool, Query(description="Only courses that have not started yet")] = False,
) -> Page[CourseOut]:
    items, total = service.list_courses(
        session, language=language, upcoming=upcoming, limit=page.limit, offset=page.offset
    )
    counts = service.seat_counts(session, [c.id for c in items])
    return Page[CourseOut](
        items=[course_out(c, counts.get(c.id, service.SeatCount())) for c in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/courses",
    status_code=status.HTTP_201_CREATED,
    response_model=CourseOut,
    responses={
        **WRITE_ERRORS,
        **links_to(
            "course_id",
            ("get", "/api/v1/courses/{course_id}"),
            ("patch", "/api/v1/courses/{course_id}"),
            ("post", "/api/v1/courses/{course_id}/enrollments"),
            ("get", "/api/v1/courses/{course_id}/enrollments"),
        ),
    },
)
def create_course(body: CourseIn, _admin: AdminUser, session: SessionDep) -> CourseOut:
    return _one_course_out(session, service.create_course(session, data=body.model_dump()))


@router.get("/courses/{course_id}", response_model=CourseOut, responses=problem_responses(401, 404, 422))
def get_course(course_id: IdPath, _user: CurrentUser, session: SessionDep) -> CourseOut:
    return _one_course_out(session, service.get_course(session, course_id=course_id))


@router.patch("/courses/{course_id}", response_model=CourseOut, responses=WRITE_ERRORS)
def update_course(
    course_id: IdPath, body: CourseUpdate, _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> CourseOut:
    changes = body.model_dump(exclude_unset=True)
    course, _promoted = service.update_course(session, course_id=course_id, changes=changes, settings=settings)
    return _one_course_out(session, course)


@router.post(
    "/courses/{course_id}/enrollments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentOut,
    responses={
        **WRITE_ERRORS,
        **links_to(
            "enrollment_id",
            ("get", "/api/v1/enrollments/{enrollment_id}"),
            ("post", "/api/v1/enrollments/{enrollment_id}/pay"),
            ("post", "/api/v1/enrollments/{enrollment_id}/cancel"),
            ("post", "/api/v1/enrollments/{enrollment_id}/complete"),
        ),
    },
)
def enroll(
    course_id: IdPath,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[EnrollIn | None, Body()] = None,
) -> EnrollmentOut:
    """Enroll; on a paid course the seat is held (`awaiting_payment`) until `hold_expires_at`: pay it next."""
    waitlist = body.waitlist if body is not None else False
    enrollment = service.enroll(session, course_id=course_id, user=user, waitlist=waitlist, settings=settings)
    return EnrollmentOut.model_validate(enrollment)


@router.get(
    "/courses/{course_id}/enrollments",
    response_model=Page[EnrollmentOut],
    responses=problem_responses(401, 403, 404, 422),
)
def course_enrollments(course_id: IdPath, user: CurrentUser, session: SessionDep, page: PageDep) -> Page[EnrollmentOut]:
    items, total = service.course_enrollments(
        session, course_id=course_id, user=user, limit=page.limit, offset=page.offset
    )
    return Page[EnrollmentOut](
        items=[EnrollmentOut.model_validate(e) for e in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/enrollments", response_model=Page[EnrollmentOut], responses=problem_responses(401, 422))
def my_enrollments(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[EnrollmentOut]:
    items, total = service.list_enrollments(session, user_id=user.id, limit=page.limit, offset=page.offset)
    return Page[EnrollmentOut](
        items=[EnrollmentOut.model_validate(e) for e in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/enrollments/{enrollment_id}", response_model=EnrollmentOut, responses=problem_responses(401, 403, 404, 422)
)
def get_enrollment(enrollment_id: IdPath, user: CurrentUser, session: SessionDep) -> EnrollmentOut:
    return EnrollmentOut.model_validate(service.get_enrollment(session, enrollment_id=enrollment_id, user=user))


@router.post("/enrollments/{enrollment_id}/cancel", response_model=EnrollmentOut, responses=WRITE_ERRORS)
def cancel_enrollment(
    enrollment_id: IdPath, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> EnrollmentOut:
    return EnrollmentOut.model_validate(
        service.cancel(session, enrollment_id=enrollment_id, user=user, settings=settings)
    )


@router.post("/enrollments/{enrollment_id}/pay", response_model=EnrollmentPaymentOut, responses=WRITE_ERRORS)
def pay_enrollment(
    enrollment_id: IdPath, body: PayIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> EnrollmentPaymentOut:
    """Pay a held seat: `stripe_card` answers with the PaymentIntent's client secret (confirmed by Stripe's
    webhook), `bank_transfer` with the bank details and the reference to quote (reconciled by an admin)."""
    result = service.pay(
        session, enrollment_id=enrollment_id, user=user, provider_name=body.provider, settings=settings
    )
    return EnrollmentPaymentOut(
        enrollment=EnrollmentOut.model_validate(result.enrollment),
        payment_id=result.payment.id if result.payment else None,
        instructions=result.instructions,
    )


@router.get(
    "/admin/enrollment-reconciliations",
    response_model=list[EnrollmentOut],
    responses=problem_responses(401, 403),
)
def enrollments_awaiting_payment(_admin: AdminUser, session: SessionDep) -> list[EnrollmentOut]:
    """Held seats of paid courses: what an incoming transfer can be reconciled against."""
    return [EnrollmentOut.model_validate(e) for e in service.awaiting_payment(session)]


@router.post(
    "/admin/enrollment-reconciliations",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollmentReconciliationOut,
    responses=WRITE_ERRORS,
)
def reconcile_enrollment_transfer(
    body: ReconciliationIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> EnrollmentReconciliationOut:
    """Record a bank transfer paying a course seat, matched by its reference."""
    result = service.reconcile_transfer(session, admin=admin, reconciliation_in=body, settings=settings)
    currency = result.enrollment.currency
    return EnrollmentReconciliationOut(
        payment_id=result.payment.id,
        outcome=result.outcome,
        amount=format_amount(result.payment.amount_minor, currency),
        excess_to_refund=format_amount(result.excess_minor, currency),
        enrollment=EnrollmentOut.model_validate(result.enrollment),
    )


@router.post("/enrollments/{enrollment_id}/complete", response_model=EnrollmentOut, responses=WRITE_ERRORS)
def complete_enrollment(enrollment_id: IdPath, user: CurrentUser, session: SessionDep) -> EnrollmentOut:
    return EnrollmentOut.model_validate(service.complete(session, enrollment_id=enrollment_id, user=user))

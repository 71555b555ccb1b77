"""Course catalogue pages: browse, read, enroll (or join the waitlist), pay a held seat, cancel; CSRF-checked forms.

Paying is two steps: choose the method (card or bank transfer), then confirm the amount; a bank transfer then
shows its instructions, a card its state until Stripe's webhook confirms it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from abb.accounts.models import User
from abb.core.config import Settings
from abb.core.database import utcnow
from abb.core.errors import AppError, NotFound, NotOwner, Unprocessable
from abb.core.http import IdPath, SessionDep, SettingsDep
from abb.deals import payments
from abb.deals.models import ProviderName
from abb.training import service
from abb.training.models import Course, Enrollment, EnrollmentStatus
from abb.training.schemas import COURSE_LANGUAGES
from abb.web.forms import require_confirmation
from abb.web.kit import CheckedForm, SignedInUser, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _course_rows(session: Session, user: User, courses: list[Course]) -> list[dict[str, Any]]:
    ids = [c.id for c in courses]
    counts = service.seat_counts(session, ids)
    mine = service.my_enrollments_by_course(session, user=user, course_ids=ids)
    now = utcnow()
    rows = []
    for course in courses:
        count = counts.get(course.id, service.SeatCount())
        rows.append(
            {
                "course": course,
                "seats_left": max(0, course.capacity - count.taken),
                "waiting": count.waiting,
                "mine": mine.get(course.id),
                "open": course.starts_at > now,
            }
        )
    return rows


@router.get("/courses", response_class=HTMLResponse)
def catalogue(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    language = request.query_params.get("language")
    language = language if language in COURSE_LANGUAGES else None
    courses, total = service.list_courses(session, language=language, upcoming=True, limit=PER_PAGE, offset=0)
    context = {"user": user, "rows": _course_rows(session, user, courses), "total": total, "language": language}
    return render(request, "courses.html", {**context, "COURSE_LANGUAGES": COURSE_LANGUAGES})


def _detail(
    request: Request, user: User, session: Session, course_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    course = service.get_course(session, course_id=course_id)
    row = _course_rows(session, user, [course])[0]
    context = {"user": user, **row, "error": error, "COURSE_LANGUAGES": COURSE_LANGUAGES}
    return render(request, "course_detail.html", context, status=status)


@router.get("/courses/{course_id}", response_class=HTMLResponse)
def course_page(request: Request, course_id: IdPath, user: SignedInUser, session: SessionDep) -> Response:
    return _detail(request, user, session, course_id)


@router.post("/courses/{course_id}/enroll", response_class=HTMLResponse)
def enroll_submit(
    request: Request,
    course_id: IdPath,
    user: SignedInUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        enrollment = service.enroll(
            session, course_id=course_id, user=user, waitlist=form.get("waitlist") == "1", settings=settings
        )
    except NotFound:
        raise
    except AppError as exc:
        return _detail(request, user, session, course_id, error=exc.detail, status=exc.status)
    if enrollment.status == EnrollmentStatus.AWAITING_PAYMENT:
        return RedirectResponse(f"/enrollments/{enrollment.id}/pay", status_code=303)
    return RedirectResponse(f"/courses/{course_id}", status_code=303)


@router.post("/courses/{course_id}/cancel", response_class=HTMLResponse)
def cancel_submit(
    request: Request,
    course_id: IdPath,
    user: SignedInUser,
    _form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    mine = service.my_enrollments_by_course(session, user=user, course_ids=[course_id]).get(course_id)
    try:
        if mine is None:
            raise NotFound("You are not enrolled in this course.")
        service.cancel(session, enrollment_id=mine.id, user=user, settings=settings)
    except AppError as exc:
        service.get_course(session, course_id=course_id)  # an unknown course is a plain 404 page
        return _detail(request, user, session, course_id, error=exc.detail, status=exc.status)
    return RedirectResponse(f"/courses/{course_id}", status_code=303)


def _my_enrollment(session: Session, enrollment_id: int, user: User) -> Enrollment:
    enrollment = service.get_enrollment(session, enrollment_id=enrollment_id, user=user)
    if enrollment.user_id != user.id:
        raise NotOwner("Only the enrolled person pays their seat.")
    return enrollment


def _pay_page(
    request: Request,
    user: User,
    session: Session,
    settings: Settings,
    enrollment: Enrollment,
    *,
    method: str | None = None,
    card_state: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    under_way = service.payment_under_way(session, enrollment_id=enrollment.id) is not None
    methods = [ProviderName.BANK_TRANSFER.value]
    if payments.provider_available(ProviderName.STRIPE_CARD, settings):
        methods.insert(0, ProviderName.STRIPE_CARD.value)
    context = {
        "user": user,
        "enrollment": enrollment,
        "course": service.get_course(session, course_id=enrollment.course_id),
        "methods": methods,
        # The confirmation step: the method chosen (validated against what is offered), not yet paid.
        "method": method if method in methods else None,
        "transfer": service.transfer_instructions(enrollment, settings),
        # A card payment still waiting for its answer: its state, and no second way to pay (it would pay twice).
        "under_way": under_way,
        "card_state": card_state or ({"status": "pending"} if under_way else None),
        "error": error,
    }
    return render(request, "enrollment_pay.html", context, status=status)


@router.get("/enrollments/{enrollment_id}/pay", response_class=HTMLResponse)
def pay_page(
    request: Request, enrollment_id: IdPath, user: SignedInUser, session: SessionDep, settings: SettingsDep
) -> Response:
    enrollment = _my_enrollment(session, enrollment_id, user)
    method = request.query_params.get("method")
    return _pay_page(request, user, session, settings, enrollment, method=method)


@router.post("/enrollments/{enrollment_id}/pay", response_class=HTMLResponse)
def pay_submit(
    request: Request,
    enrollment_id: IdPath,
    user: SignedInUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    enrollment = _my_enrollment(session, enrollment_id, user)
    method = str(form.get("method", ""))
    try:
        require_confirmation(form)
        provider = ProviderName(method) if method in {p.value for p in ProviderName} else None
        if provider is None:
            raise Unprocessable("Choose how to pay: card or bank transfer.")
        result = service.pay(session, enrollment_id=enrollment.id, user=user, provider_name=provider, settings=settings)
    except AppError as exc:
        return _pay_page(
            request, user, session, settings, enrollment, method=method, error=exc.detail, status=exc.status
        )
    if provider == ProviderName.STRIPE_CARD:
        return _pay_page(request, user, session, settings, result.enrollment, card_state=result.instructions)
    return RedirectResponse(f"/enrollments/{enrollment.id}/pay", status_code=303)

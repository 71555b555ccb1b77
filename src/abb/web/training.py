"""Course catalogue pages: browse, read, enroll (or join the waitlist) and cancel, with CSRF-checked forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from abb.accounts.models import User
from abb.core.database import utcnow
from abb.core.errors import AppError, NotFound
from abb.core.http import IdPath, SessionDep
from abb.training import service
from abb.training.models import Course
from abb.training.schemas import COURSE_LANGUAGES, MINOR_UNITS
from abb.web.kit import CheckedForm, SignedInUser, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def price_label(course: Course) -> str:
    if course.price_minor == 0:
        return "Free"
    digits = MINOR_UNITS[course.currency]
    major, minor = divmod(course.price_minor, 10**digits)
    return f"{course.currency} {major:,}.{minor:0{digits}d}"


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
                "price": price_label(course),
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
    request: Request, course_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep
) -> Response:
    try:
        service.enroll(session, course_id=course_id, user=user, waitlist=form.get("waitlist") == "1")
    except NotFound:
        raise
    except AppError as exc:
        return _detail(request, user, session, course_id, error=exc.detail, status=exc.status)
    return RedirectResponse(f"/courses/{course_id}", status_code=303)


@router.post("/courses/{course_id}/cancel", response_class=HTMLResponse)
def cancel_submit(
    request: Request, course_id: IdPath, user: SignedInUser, _form: CheckedForm, session: SessionDep
) -> Response:
    mine = service.my_enrollments_by_course(session, user=user, course_ids=[course_id]).get(course_id)
    try:
        if mine is None:
            raise NotFound("You are not enrolled in this course.")
        service.cancel(session, enrollment_id=mine.id, user=user)
    except AppError as exc:
        service.get_course(session, course_id=course_id)  # an unknown course is a plain 404 page
        return _detail(request, user, session, course_id, error=exc.detail, status=exc.status)
    return RedirectResponse(f"/courses/{course_id}", status_code=303)

"""Training rules: admins run the catalogue; people enroll, cancel and join a waitlist; seats never oversell.

Every change to a course's seats happens while holding that course's row (see `_lock_course`), so
concurrent enrollments are serialized per course on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.database import fetch_page, utcnow
from abb.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, NotOwner, Unprocessable
from abb.observability.business import record_enrollment
from abb.training.models import Course, Enrollment, EnrollmentStatus

SEAT_HOLDING = (EnrollmentStatus.ENROLLED, EnrollmentStatus.COMPLETED)
ACTIVE = (*SEAT_HOLDING, EnrollmentStatus.WAITLISTED)


@dataclass(frozen=True)
class SeatCount:
    taken: int = 0
    waiting: int = 0


def seat_counts(session: Session, course_ids: list[int]) -> dict[int, SeatCount]:
    if not course_ids:
        return {}
    holding = func.sum(case((Enrollment.status.in_(SEAT_HOLDING), 1), else_=0))
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


def _lock_course(session: Session, course_id: int) -> Course:
    """Hold the course row until the caller commits or rolls back.

    PostgreSQL: SELECT ... FOR UPDATE, so a second enrollment waits and then sees the first one's rows.
    SQLite has no row locks but serializes writers: a no-op write as the first statement of a fresh
    transaction takes the database write lock before anything is read (a read snapshot taken earlier
    could not be upgraded to a write once another writer committed).
    """
    session.commit()  # end any read-only transaction left open by the request (e.g. loading the user)
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
            select(func.count(Enrollment.id)).where(
                Enrollment.course_id == course_id, Enrollment.status.in_(SEAT_HOLDING)
            )
        )
        or 0
    )


def _refuse(session: Session, error: Exception) -> NoReturn:
    session.rollback()
    raise error


def update_course(session: Session, *, course_id: int, changes: dict[str, Any]) -> tuple[Course, list[Enrollment]]:
    """Edit a course; raising the capacity promotes people from the waitlist."""
    course = _lock_course(session, course_id)
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
    promoted = _promote_waitlist(session, course)
    session.commit()
    for _ in promoted:
        record_enrollment()
    return course, promoted


def enroll(session: Session, *, course_id: int, user: User, waitlist: bool = False) -> Enrollment:
    course = _lock_course(session, course_id)
    now = utcnow()
    if course.starts_at <= now:
        _refuse(session, Conflict("This course has already started; enrollment is closed."))
    existing = session.scalar(
        select(Enrollment).where(Enrollment.course_id == course_id, Enrollment.user_id == user.id)
    )
    if existing is not None and existing.status in ACTIVE:
        _refuse(session, Conflict(f"You are already {existing.status.value} in this course."))
    if _seats_taken(session, course_id) < course.capacity:
        status = EnrollmentStatus.ENROLLED
    elif waitlist:
        status = EnrollmentStatus.WAITLISTED
    else:
        _refuse(session, Conflict("This course is full; enroll with waitlist=true to join the waitlist."))
    enrollment = existing or Enrollment(course_id=course_id, user_id=user.id)
    enrollment.status = status
    enrollment.queued_at = now
    enrollment.cancelled_at = None
    session.add(enrollment)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("You are already enrolled in this course.") from exc
    if status == EnrollmentStatus.ENROLLED:
        record_enrollment()
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


def cancel(session: Session, *, enrollment_id: int, user: User) -> Enrollment:
    """Give up a seat (or a waitlist place); the first person waiting takes a freed seat."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("No such enrollment.")
    if enrollment.user_id != user.id and user.role != Role.ADMIN:
        raise NotOwner("You can only cancel your own enrollment.")
    course = _lock_course(session, enrollment.course_id)
    session.refresh(enrollment)
    if enrollment.status not in (EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED):
        _refuse(session, InvalidTransition(f"An enrollment that is {enrollment.status.value} cannot be cancelled."))
    if course.starts_at <= utcnow():
        _refuse(session, InvalidTransition("This course has already started; the enrollment can no longer change."))
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.cancelled_at = utcnow()
    session.flush()
    promoted = _promote_waitlist(session, course)
    session.commit()
    for _ in promoted:
        record_enrollment()
    return enrollment


def _promote_waitlist(session: Session, course: Course) -> list[Enrollment]:
    """Move people from the waitlist into free seats, first come first served (caller holds the course lock)."""
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
        enrollment.status = EnrollmentStatus.ENROLLED
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

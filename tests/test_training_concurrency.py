"""Capacity under concurrency: many people enroll at once, each thread with its own session and connection,
against a committed database (not the rolled-back test transaction), and seats never oversell — held seats of
paid courses included, and seats freed by holds that ran out."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.database import make_engine, utcnow
from abb.core.errors import Conflict
from abb.core.migrate import upgrade
from abb.training import service
from abb.training.models import Enrollment, EnrollmentStatus
from tests.conftest import make_settings
from tests.factories import make_user
from tests.fixtures_training import make_course


def _migrated(url: str, pool_size: int) -> Engine:
    engine = make_engine(make_settings(database_url=url, database_pool_size=pool_size, database_max_overflow=0))
    with engine.begin() as conn:
        upgrade(connection=conn)
    return engine


SETTINGS = make_settings()


def _race(
    engine: Engine, *, people: int, capacity: int, waitlist: bool, price_minor: int = 0, course_id: int | None = None
) -> tuple[int, Counter[str]]:
    with Session(engine, expire_on_commit=False) as setup:
        if course_id is None:
            course_id = make_course(setup, capacity=capacity, price_minor=price_minor).id
        users = [make_user(setup, Role.SME) for _ in range(people)]
    barrier = threading.Barrier(people)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def attempt(user: User) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=30)
            try:
                enrollment = service.enroll(
                    session, course_id=course_id, user=user, waitlist=waitlist, settings=SETTINGS
                )
                outcome = enrollment.status.value
            except Conflict:
                outcome = "refused"
            except Exception as exc:  # anything else is a failure the assertions below must show
                outcome = f"error: {type(exc).__name__}: {exc}"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=attempt, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an enrollment thread hung"
    return course_id, outcomes


def _stored(engine: Engine, course_id: int) -> dict[EnrollmentStatus, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(Enrollment.status, func.count()).where(Enrollment.course_id == course_id).group_by(Enrollment.status)
        ).all()
    return {status: count for status, count in rows}


@pytest.fixture(scope="module")
def committed_postgresql(postgres_server) -> Engine:
    engine = _migrated(postgres_server.create_database(f"abb_race_{uuid.uuid4().hex[:8]}"), pool_size=50)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_fifty_simultaneous_enrollments_fill_ten_seats_exactly_on_postgresql(committed_postgresql):
    course_id, outcomes = _race(committed_postgresql, people=50, capacity=10, waitlist=False)
    assert outcomes == Counter({"enrolled": 10, "refused": 40})
    assert _stored(committed_postgresql, course_id) == {EnrollmentStatus.ENROLLED: 10}


@pytest.mark.postgres
def test_simultaneous_waitlist_joins_queue_everyone_past_capacity_on_postgresql(committed_postgresql):
    course_id, outcomes = _race(committed_postgresql, people=30, capacity=5, waitlist=True)
    assert outcomes == Counter({"enrolled": 5, "waitlisted": 25})
    assert _stored(committed_postgresql, course_id) == {EnrollmentStatus.ENROLLED: 5, EnrollmentStatus.WAITLISTED: 25}


@pytest.mark.postgres
def test_held_seats_of_a_paid_course_never_oversell_and_expired_holds_free_them_on_postgresql(committed_postgresql):
    course_id, outcomes = _race(committed_postgresql, people=40, capacity=8, waitlist=False, price_minor=14900)
    assert outcomes == Counter({"awaiting_payment": 8, "refused": 32})
    # The holds run out unpaid: the next crowd gets exactly the freed seats (released lazily under the lock).
    with committed_postgresql.begin() as conn:
        conn.execute(update(Enrollment).where(Enrollment.course_id == course_id).values(hold_expires_at=utcnow()))
    _, again = _race(committed_postgresql, people=20, capacity=8, waitlist=False, course_id=course_id)
    assert again == Counter({"awaiting_payment": 8, "refused": 12})
    stored = _stored(committed_postgresql, course_id)
    assert stored == {EnrollmentStatus.EXPIRED: 8, EnrollmentStatus.AWAITING_PAYMENT: 8}


def test_simultaneous_enrollments_never_oversell_on_sqlite(tmp_path: Path):
    engine = _migrated(f"sqlite:///{tmp_path / 'race.sqlite3'}", pool_size=20)
    try:
        course_id, outcomes = _race(engine, people=20, capacity=5, waitlist=False)
        assert outcomes == Counter({"enrolled": 5, "refused": 15})
        assert _stored(engine, course_id) == {EnrollmentStatus.ENROLLED: 5}
    finally:
        engine.dispose()

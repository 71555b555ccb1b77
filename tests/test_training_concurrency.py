"""Capacity under concurrency: many people enroll at once, each thread with its own session and connection,
against a committed database (not the rolled-back test transaction), and seats never oversell — held seats of
paid courses included, and seats freed by holds that ran out."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.database import make_engine, utcnow
from abb.core.errors import Conflict
from abb.core.migrate import upgrade
from abb.deals.models import Payment, ProviderName
from abb.training import service
from abb.training.models import Enrollment, EnrollmentStatus
from tests.conftest import make_settings
from tests.factories import make_user
from tests.fixtures_deals import WEBHOOK_SECRET
from tests.fixtures_training import make_course


def _migrated(url: str, pool_size: int) -> Engine:
    engine = make_engine(make_settings(database_url=url, database_pool_size=pool_size, database_max_overflow=0))
    with engine.begin() as conn:
        upgrade(connection=conn)
    return engine


SETTINGS = make_settings()


def _at_once(engine: Engine, attempts: list[Callable[[Session], str]]) -> Counter[str]:
    """Each attempt in a thread of its own with its own session, all released together; the outcomes counted
    (a Conflict counts as "refused", anything else unexpected by its name, for the assertions to show)."""
    barrier = threading.Barrier(len(attempts))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(attempt: Callable[[Session], str]) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=30)
            try:
                outcome = attempt(session)
            except Conflict:
                outcome = "refused"
            except Exception as exc:
                outcome = f"error: {type(exc).__name__}: {exc}"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread of the race hung"
    return outcomes


def _race(
    engine: Engine, *, people: int, capacity: int, waitlist: bool, price_minor: int = 0, course_id: int | None = None
) -> tuple[int, Counter[str]]:
    with Session(engine, expire_on_commit=False) as setup:
        if course_id is None:
            course_id = make_course(setup, capacity=capacity, price_minor=price_minor).id
        users = [make_user(setup, Role.SME) for _ in range(people)]

    def enroll(user: User) -> Callable[[Session], str]:
        return lambda session: (
            service.enroll(session, course_id=course_id, user=user, waitlist=waitlist, settings=SETTINGS).status.value
        )

    return course_id, _at_once(engine, [enroll(user) for user in users])


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


@pytest.mark.postgres
def test_simultaneous_payments_of_a_held_seat_open_one_card_payment_on_postgresql(committed_postgresql, stripe_double):
    settings = make_settings(
        stripe_secret_key="sk_test_double", stripe_webhook_secret=WEBHOOK_SECRET, stripe_api_base=stripe_double.url
    )
    with Session(committed_postgresql, expire_on_commit=False) as setup:
        user = make_user(setup, Role.SME)
        course = make_course(setup, capacity=2, price_minor=14900)
        held = service.enroll(setup, course_id=course.id, user=user, waitlist=False, settings=settings)
    intents_before = len(stripe_double.intents)  # the double lives as long as the test process

    def pay(session: Session) -> str:
        paid = service.pay(
            session, enrollment_id=held.id, user=user, provider_name=ProviderName.STRIPE_CARD, settings=settings
        )
        return "started" if paid.payment is not None and paid.payment.external_id else "not started"

    assert _at_once(committed_postgresql, [pay] * 8) == Counter({"started": 1, "refused": 7})
    with Session(committed_postgresql) as session:
        assert session.scalar(select(func.count()).where(Payment.enrollment_id == held.id)) == 1
    assert len(stripe_double.intents) == intents_before + 1


def test_simultaneous_enrollments_never_oversell_on_sqlite(tmp_path: Path):
    engine = _migrated(f"sqlite:///{tmp_path / 'race.sqlite3'}", pool_size=20)
    try:
        course_id, outcomes = _race(engine, people=20, capacity=5, waitlist=False)
        assert outcomes == Counter({"enrolled": 5, "refused": 15})
        assert _stored(engine, course_id) == {EnrollmentStatus.ENROLLED: 5}
    finally:
        engine.dispose()

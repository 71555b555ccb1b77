"""The course catalogue in the browser: an SME finds a course, enrolls, joins a waitlist, cancels."""

from __future__ import annotations

from datetime import timedelta

from abb.accounts.models import Role
from abb.core.database import utcnow
from abb.training.demo import DEMO_COURSES, add_demo_courses
from tests.factories import db_snapshot, make_user
from tests.fixtures_training import make_course
from tests.test_web_pages import CSRF, sign_in


def test_sme_enrolls_from_the_catalogue_and_cancels(client, session):
    course = make_course(session, title="Doing business in Tanzania", price_minor=14900, capacity=2)
    make_course(session, title="Already started", starts_in=timedelta(hours=-1))
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303

    catalogue = client.get("/courses")
    assert catalogue.status_code == 200
    assert "Doing business in Tanzania" in catalogue.text and "€149.00" in catalogue.text
    assert "Already started" not in catalogue.text  # the catalogue lists upcoming courses
    assert f'action="/courses/{course.id}/enroll"' in catalogue.text
    token = CSRF.search(catalogue.text).group(1)

    # A paid course: enrolling holds the seat and leads to the pay step (tests/test_training_payments.py).
    held = client.post(f"/courses/{course.id}/enroll", data={"csrf_token": token}, follow_redirects=True)
    assert held.status_code == 200 and held.url.path.endswith("/pay")
    assert 'data-status="awaiting_payment">Seat held, awaiting payment</span>' in held.text
    enrolled = client.get(f"/courses/{course.id}")
    assert "1 of 2 left" in enrolled.text and "Cancel my enrollment" in enrolled.text

    cancelled = client.post(f"/courses/{course.id}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert cancelled.status_code == 200 and "2 of 2 left" in cancelled.text
    assert f'action="/courses/{course.id}/enroll"' in cancelled.text


def test_a_full_course_offers_the_waitlist_and_refusals_show_on_the_page(client, session):
    course = make_course(session, capacity=1)
    first = make_user(session)
    assert sign_in(client, first.email).status_code == 303
    token = CSRF.search(client.get(f"/courses/{course.id}").text).group(1)
    enrolled = client.post(f"/courses/{course.id}/enroll", data={"csrf_token": token}, follow_redirects=False)
    assert enrolled.status_code == 303
    client.cookies.clear()

    second = make_user(session)
    assert sign_in(client, second.email).status_code == 303
    page = client.get(f"/courses/{course.id}")
    assert "join the waiting list" in page.text
    token = CSRF.search(page.text).group(1)
    before = db_snapshot(session)
    refused = client.post(f"/courses/{course.id}/enroll", data={"csrf_token": token})
    assert refused.status_code == 409 and "This course is full" in refused.text
    assert db_snapshot(session) == before
    joined = client.post(
        f"/courses/{course.id}/enroll", data={"csrf_token": token, "waitlist": "1"}, follow_redirects=True
    )
    assert "On the waiting list" in joined.text and "Leave the waiting list" in joined.text


def test_enroll_form_needs_a_csrf_token_and_a_session(client, session):
    course = make_course(session)
    before = db_snapshot(session)
    anonymous = client.post(f"/courses/{course.id}/enroll", data={}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    user = make_user(session)
    assert sign_in(client, user.email).status_code == 303
    before = db_snapshot(session)
    forged = client.post(f"/courses/{course.id}/enroll", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert db_snapshot(session) == before
    assert client.get("/courses/999999").status_code == 404


def test_demo_courses_are_upcoming_and_open_to_the_demo_sme(client, session):
    add_demo_courses(session, utcnow())
    add_demo_courses(session, utcnow())  # a second seeding adds nothing
    session.commit()
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303
    catalogue = client.get("/courses")
    assert f"{len(DEMO_COURSES)} upcoming courses" in catalogue.text
    assert catalogue.text.count('action="/courses/') == len(DEMO_COURSES)
    assert "KES\xa02,500.00" in catalogue.text and "Free" in catalogue.text

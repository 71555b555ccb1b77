"""Courses and enrollments through the API: catalogue, enroll, waitlist, cancel, complete; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from abb.accounts.models import Role
from abb.core.database import utcnow
from tests.factories import assert_problem, db_snapshot, make_user
from tests.fixtures_training import course_payload, make_course


def enrollments_counted() -> float:
    return REGISTRY.get_sample_value("abb_course_enrollments_total") or 0.0


def enroll(client, headers, course_id, **body):
    return client.post(f"/api/v1/courses/{course_id}/enrollments", headers=headers, json=body or None)


def test_admin_creates_a_course_and_members_see_it(client, session, signed_in):
    admin = signed_in(make_user(session, Role.ADMIN))
    created = client.post("/api/v1/courses", headers=admin, json=course_payload(language="sw", price_minor=0))
    assert created.status_code == 201, created.text
    course = created.json()
    assert course["language"] == "sw" and course["price_minor"] == 0 and course["seats_taken"] == 0
    assert course["starts_at"].endswith("Z")
    member = signed_in(make_user(session, Role.PARTNER))
    listed = client.get("/api/v1/courses?upcoming=true&language=sw", headers=member).json()
    assert [c["id"] for c in listed["items"]] == [course["id"]]
    assert client.get("/api/v1/courses?language=am", headers=member).json()["total"] == 0
    assert client.get(f"/api/v1/courses/{course['id']}", headers=member).json()["title"] == course["title"]


def test_times_are_stored_in_utc(client, session, signed_in):
    admin = signed_in(make_user(session, Role.ADMIN))
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0, tzinfo=None)
    body = course_payload(starts_at=f"{start.isoformat()}+03:00", ends_at=f"{start.isoformat()}+01:00")
    course = client.post("/api/v1/courses", headers=admin, json=body).json()
    assert course["starts_at"] == (start - timedelta(hours=3)).isoformat() + "Z"
    assert course["ends_at"] == (start - timedelta(hours=1)).isoformat() + "Z"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -5}, "capacity"),
        ({"price_minor": -1}, "price_minor"),
        ({"price_minor": 12.5}, "price_minor"),  # never a float: minor units are integers
        ({"language": "fr"}, "language"),
        ({"currency": "GBP"}, "currency"),
        ({"level": "expert"}, "level"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),  # no time zone
        ({"title": ""}, "title"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "body"),  # ends before it starts
        ({"seats": 3}, "seats"),  # unknown field
    ],
)
def test_invalid_course_is_422_and_changes_nothing(client, session, overrides, field, signed_in):
    admin = signed_in(make_user(session, Role.ADMIN))
    before = db_snapshot(session)
    body = assert_problem(client.post("/api/v1/courses", headers=admin, json=course_payload(**overrides)), 422)
    assert any(e["field"].startswith(field) for e in body["errors"]), body
    assert db_snapshot(session) == before


def test_course_starting_in_the_past_or_with_unknown_instructor_is_422(client, session, signed_in):
    admin = signed_in(make_user(session, Role.ADMIN))
    before = db_snapshot(session)
    past = (utcnow() - timedelta(days=1)).replace(microsecond=0)
    body = course_payload(starts_at=past.isoformat(), ends_at=(past + timedelta(hours=1)).isoformat())
    assert_problem(client.post("/api/v1/courses", headers=admin, json=body), 422, "validation-error")
    assert_problem(client.post("/api/v1/courses", headers=admin, json=course_payload(instructor_id=999999)), 422)
    assert db_snapshot(session) == before


def test_only_admins_create_and_edit_courses(client, session, signed_in):
    course = make_course(session)
    sme = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    assert_problem(client.post("/api/v1/courses", headers=sme, json=course_payload()), 403, "forbidden")
    assert_problem(client.patch(f"/api/v1/courses/{course.id}", headers=sme, json={"capacity": 99}), 403)
    assert_problem(client.post("/api/v1/courses", json=course_payload()), 401)
    assert db_snapshot(session) == before


def test_admin_edits_a_course_within_the_rules(client, session, signed_in):
    course = make_course(session, capacity=2)
    admin = signed_in(make_user(session, Role.ADMIN))
    first, second = (signed_in(make_user(session)) for _ in range(2))
    assert enroll(client, first, course.id).status_code == 201
    assert enroll(client, second, course.id).status_code == 201
    before = db_snapshot(session)
    assert_problem(client.patch(f"/api/v1/courses/{course.id}", headers=admin, json={"capacity": 1}), 409)
    assert_problem(client.patch(f"/api/v1/courses/{course.id}", headers=admin, json={"capacity": 0}), 422)
    assert_problem(client.patch(f"/api/v1/courses/{course.id}", headers=admin, json={"title": None}), 422)
    bad_end = {"ends_at": (course.starts_at - timedelta(hours=1)).isoformat()}
    assert_problem(client.patch(f"/api/v1/courses/{course.id}", headers=admin, json=bad_end), 422)
    assert_problem(client.patch("/api/v1/courses/999999", headers=admin, json={"capacity": 5}), 404)
    assert db_snapshot(session) == before
    edited = client.patch(f"/api/v1/courses/{course.id}", headers=admin, json={"title": "Renamed", "capacity": 3})
    assert edited.status_code == 200 and edited.json()["title"] == "Renamed" and edited.json()["seats_taken"] == 2


def test_enroll_counts_the_seat_and_the_metric(client, session, signed_in):
    course = make_course(session, capacity=3, currency="KES")  # free: a paid one holds the seat first
    user = make_user(session, Role.SME)
    headers = signed_in(user)
    counted = enrollments_counted()
    response = enroll(client, headers, course.id)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "enrolled" and response.json()["user_id"] == user.id
    assert enrollments_counted() == counted + 1
    assert client.get(f"/api/v1/courses/{course.id}", headers=headers).json()["seats_taken"] == 1
    mine = client.get("/api/v1/enrollments", headers=headers).json()
    assert [e["course_id"] for e in mine["items"]] == [course.id]


def test_enrolling_twice_is_409(client, session, signed_in):
    course = make_course(session)
    headers = signed_in(make_user(session))
    assert enroll(client, headers, course.id).status_code == 201
    before = db_snapshot(session)
    assert_problem(enroll(client, headers, course.id), 409, "conflict")
    assert_problem(enroll(client, headers, course.id, waitlist=True), 409, "conflict")
    assert db_snapshot(session) == before


def test_enrolling_in_a_full_course_is_409(client, session, signed_in):
    course = make_course(session, capacity=1)
    assert enroll(client, signed_in(make_user(session)), course.id).status_code == 201
    late = signed_in(make_user(session))
    before = db_snapshot(session)
    counted = enrollments_counted()
    body = assert_problem(enroll(client, late, course.id), 409, "conflict")
    assert "full" in body["detail"]
    assert db_snapshot(session) == before
    assert enrollments_counted() == counted


@pytest.mark.parametrize("starts_in", [timedelta(days=-3), timedelta(minutes=-5)])
def test_enrolling_in_a_past_or_started_course_is_409(client, session, starts_in, signed_in):
    course = make_course(session, starts_in=starts_in)
    headers = signed_in(make_user(session))
    before = db_snapshot(session)
    assert_problem(enroll(client, headers, course.id), 409, "conflict")
    assert_problem(enroll(client, headers, course.id, waitlist=True), 409, "conflict")
    assert db_snapshot(session) == before


def test_enrolling_in_an_unknown_course_or_with_a_bad_body(client, session, signed_in):
    headers = signed_in(make_user(session))
    course = make_course(session)
    before = db_snapshot(session)
    assert_problem(enroll(client, headers, 999999), 404, "not-found")
    assert_problem(enroll(client, headers, 0), 422)
    assert_problem(enroll(client, headers, course.id, waitlist="maybe"), 422)
    assert_problem(enroll(client, headers, course.id, seats=2), 422)
    bad_json = client.post(
        f"/api/v1/courses/{course.id}/enrollments",
        headers={**headers, "Content-Type": "application/json"},
        content=b"{",
    )
    assert_problem(bad_json, 400, "malformed-json")
    assert db_snapshot(session) == before


def test_waitlist_promotes_the_first_in_line_on_cancellation(client, session, signed_in):
    course = make_course(session, capacity=1)
    seated, first, second = (make_user(session) for _ in range(3))
    seat = enroll(client, signed_in(seated), course.id).json()
    queued_first = enroll(client, signed_in(first), course.id, waitlist=True)
    queued_second = enroll(client, signed_in(second), course.id, waitlist=True)
    assert queued_first.status_code == 201 and queued_first.json()["status"] == "waitlisted"
    assert queued_second.json()["status"] == "waitlisted"
    admin = signed_in(make_user(session, Role.ADMIN))
    assert client.get(f"/api/v1/courses/{course.id}", headers=admin).json()["waitlist_length"] == 2

    counted = enrollments_counted()
    cancelled = client.post(f"/api/v1/enrollments/{seat['id']}/cancel", headers=signed_in(seated))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert enrollments_counted() == counted + 1
    first_now = client.get(f"/api/v1/enrollments/{queued_first.json()['id']}", headers=signed_in(first)).json()
    second_now = client.get(f"/api/v1/enrollments/{queued_second.json()['id']}", headers=signed_in(second)).json()
    assert first_now["status"] == "enrolled" and second_now["status"] == "waitlisted"
    roster = client.get(f"/api/v1/courses/{course.id}/enrollments", headers=admin).json()
    assert {(e["user_id"], e["status"]) for e in roster["items"]} == {
        (seated.id, "cancelled"),
        (first.id, "enrolled"),
        (second.id, "waitlisted"),
    }


def test_raising_the_capacity_promotes_from_the_waitlist(client, session, signed_in):
    course = make_course(session, capacity=1)
    enroll(client, signed_in(make_user(session)), course.id)
    waiting = enroll(client, signed_in(make_user(session)), course.id, waitlist=True).json()
    admin = signed_in(make_user(session, Role.ADMIN))
    edited = client.patch(f"/api/v1/courses/{course.id}", headers=admin, json={"capacity": 2}).json()
    assert edited["seats_taken"] == 2 and edited["waitlist_length"] == 0
    assert client.get(f"/api/v1/enrollments/{waiting['id']}", headers=admin).json()["status"] == "enrolled"


def test_cancel_then_enroll_again_reuses_the_place(client, session, signed_in):
    course = make_course(session, capacity=1)
    headers = signed_in(make_user(session))
    first = enroll(client, headers, course.id).json()
    assert client.post(f"/api/v1/enrollments/{first['id']}/cancel", headers=headers).status_code == 200
    again = enroll(client, headers, course.id)
    assert again.status_code == 201 and again.json()["id"] == first["id"] and again.json()["status"] == "enrolled"


def test_cancelling_someone_elses_enrollment_is_403(client, session, signed_in):
    course = make_course(session)
    mine = enroll(client, signed_in(make_user(session)), course.id).json()
    other = signed_in(make_user(session))
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/enrollments/{mine['id']}/cancel", headers=other), 403, "forbidden")
    assert_problem(client.get(f"/api/v1/enrollments/{mine['id']}", headers=other), 403, "forbidden")
    assert_problem(client.get(f"/api/v1/courses/{course.id}/enrollments", headers=other), 403, "forbidden")
    assert_problem(client.post("/api/v1/enrollments/999999/cancel", headers=other), 404, "not-found")
    assert db_snapshot(session) == before


def test_cancelling_twice_or_after_the_start_is_409(client, session, signed_in):
    course = make_course(session)
    headers = signed_in(make_user(session))
    enrollment = enroll(client, headers, course.id).json()
    assert client.post(f"/api/v1/enrollments/{enrollment['id']}/cancel", headers=headers).status_code == 200
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/enrollments/{enrollment['id']}/cancel", headers=headers), 409)
    assert db_snapshot(session) == before

    started = make_course(session, starts_in=timedelta(days=5))
    learner = signed_in(make_user(session))
    late = enroll(client, learner, started.id).json()
    started.starts_at = utcnow() - timedelta(minutes=1)
    started.ends_at = utcnow() + timedelta(hours=1)
    session.commit()
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/enrollments/{late['id']}/cancel", headers=learner), 409)
    assert db_snapshot(session) == before


def test_instructor_or_admin_marks_completion_after_the_start(client, session, signed_in):
    instructor = make_user(session, Role.PARTNER)
    course = make_course(session, instructor_id=instructor.id)
    learner = signed_in(make_user(session))
    enrollment = enroll(client, learner, course.id).json()
    teacher = signed_in(instructor)
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/enrollments/{enrollment['id']}/complete", headers=teacher), 409)
    assert_problem(client.post(f"/api/v1/enrollments/{enrollment['id']}/complete", headers=learner), 403)
    assert db_snapshot(session) == before

    course.starts_at = utcnow() - timedelta(hours=3)
    course.ends_at = utcnow() - timedelta(hours=1)
    session.commit()
    done = client.post(f"/api/v1/enrollments/{enrollment['id']}/complete", headers=teacher)
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["completed_at"]
    admin = signed_in(make_user(session, Role.ADMIN))
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/enrollments/{enrollment['id']}/complete", headers=admin), 409)
    assert db_snapshot(session) == before


def test_training_routes_declare_their_problems(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"403", "404", "409", "422"} <= set(paths["/api/v1/courses/{course_id}/enrollments"]["post"]["responses"])
    assert {"403", "409"} <= set(paths["/api/v1/enrollments/{enrollment_id}/cancel"]["post"]["responses"])

"""Training test data: course payloads, courses stored directly (e.g. in the past, which the API refuses), and
signed-in API headers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from abb.accounts.models import User
from abb.accounts.service import issue_tokens
from abb.core.config import Settings
from abb.core.database import utcnow
from abb.training.models import Course, CourseKind, CourseLevel

_serial = itertools.count(1)


def course_payload(**overrides: Any) -> dict[str, Any]:
    starts = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    payload: dict[str, Any] = {
        "title": f"Exporting machinery to Kenya {next(_serial)}",
        "description": "Customs, certification and distribution for Italian machinery in East Africa.",
        "kind": "webinar",
        "language": "en",
        "level": "beginner",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "capacity": 10,
        "price_minor": 4900,
        "currency": "EUR",
    }
    payload.update(overrides)
    return payload


def make_course(session: Session, *, starts_in: timedelta = timedelta(days=10), **fields: Any) -> Course:
    starts = utcnow() + starts_in
    values: dict[str, Any] = {
        "title": f"Course {next(_serial)}",
        "description": "A course for the tests.",
        "kind": CourseKind.COURSE,
        "language": "en",
        "level": CourseLevel.BEGINNER,
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "capacity": 10,
        "price_minor": 0,
        "currency": "EUR",
    }
    values.update(fields)
    course = Course(**values)
    session.add(course)
    session.commit()
    return course


@pytest.fixture
def signed_in(session: Session, settings: Settings) -> Callable[[User], dict[str, str]]:
    """Bearer headers for a user, from the real token issuer but without the deliberately slow password check
    (sign-in itself is tested in test_accounts_api.py)."""

    def headers(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_tokens(session, user=user, settings=settings).access_token}"}

    return headers

"""A few upcoming courses for the demo database, so that the demo SME can enroll in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abb.training.models import Course, CourseKind, CourseLevel

# (title, description, kind, language, level, days from now, hours long, capacity, price in minor units, currency)
DEMO_COURSES = [
    (
        "Exporting machinery to Kenya: customs and KEBS certification",
        "Pre-export verification of conformity, import declarations and duties, and choosing a clearing agent.",
        CourseKind.WEBINAR,
        "en",
        CourseLevel.BEGINNER,
        7,
        2,
        40,
        0,
        "EUR",
    ),
    (
        "Fare affari in Etiopia: distributori, pagamenti e lettere di credito",
        "Come scegliere un distributore ad Addis Abeba, gestire valuta e lettere di credito, evitare i ritardi.",
        CourseKind.COURSE,
        "it",
        CourseLevel.INTERMEDIATE,
        14,
        6,
        20,
        14900,
        "EUR",
    ),
    (
        "Kiswahili cha biashara: business Swahili for first meetings",
        "Greetings, introductions and negotiation phrases for meetings in Nairobi and Dar es Salaam.",
        CourseKind.COURSE,
        "sw",
        CourseLevel.BEGINNER,
        21,
        3,
        3,
        250000,
        "KES",
    ),
]


def add_demo_courses(session: Session, now: datetime) -> None:
    """Add the demo courses to a database that has none (the caller commits)."""
    if session.scalar(select(func.count(Course.id))):
        return
    start = now.replace(hour=9, minute=0, second=0, microsecond=0)
    for title, description, kind, language, level, days, hours, capacity, price, currency in DEMO_COURSES:
        starts_at = start + timedelta(days=days)
        session.add(
            Course(
                title=title,
                description=description,
                kind=kind,
                language=language,
                level=level,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                capacity=capacity,
                price_minor=price,
                currency=currency,
            )
        )

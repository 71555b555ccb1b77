"""The personal-data access log: who viewed another person's profile or documents (GDPR accountability; shown
to the data subject and to admins by abb.privacy)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from abb.security.models import PersonalDataAccess


def record_access(session: Session, *, viewer_id: int, subject_user_id: int, what: str, object_id: int) -> None:
    """Someone viewed another person's data; nothing is recorded for one's own."""
    if viewer_id == subject_user_id:
        return
    session.add(
        PersonalDataAccess(viewer_id=viewer_id, subject_user_id=subject_user_id, what=what, object_id=object_id)
    )
    session.commit()

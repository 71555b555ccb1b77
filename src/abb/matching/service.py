"""Matching rules: recompute suggestions, the accept/decline/close lifecycle, meetings.

Work in progress: the signatures below are the interface the Celery tasks call.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.config import Settings
from abb.matching.models import Match


def recompute_for_profile(session: Session, *, role: Role, profile_id: int, settings: Settings) -> list[int]:
    """Recompute one SME's or partner's suggestions, commit, and return the ids of matches newly created."""
    raise NotImplementedError


def recompute_all(session: Session, *, settings: Settings) -> int:
    """Recompute the top partners of every SME, committing in batches; return how many matches were created."""
    raise NotImplementedError


def list_matches_for_user(
    session: Session, *, user: User, status: str | None, limit: int, offset: int
) -> tuple[list[Match], int]:
    raise NotImplementedError

"""Match recomputes. Both are idempotent: a recompute stores only pairs that do not exist yet and never
touches a match somebody decided on, so running one twice (a redelivered message) changes nothing more."""

from __future__ import annotations

import logging

from abb.accounts.models import Role
from abb.core.config import get_settings
from abb.matching import service
from abb.tasks import NIGHTLY_RECOMPUTE, RECOMPUTE_PROFILE_MATCHES
from abb.tasks.celery_app import celery_app
from abb.tasks.runtime import task_session

log = logging.getLogger("abb.tasks")


@celery_app.task(name=RECOMPUTE_PROFILE_MATCHES)
def recompute_profile_matches(role: str, profile_id: int) -> list[int]:
    """Recompute one SME's or partner's suggestions after the profile changed; announce the new ones."""
    with task_session() as session:
        created = service.recompute_and_announce(
            session, role=Role(role), profile_id=profile_id, settings=get_settings()
        )
    log.info("recomputed matches of %s profile %d: %d new", role, profile_id, len(created))
    return created


@celery_app.task(name=NIGHTLY_RECOMPUTE)
def nightly_recompute() -> int:
    """Recompute every SME's suggestions (beat runs it nightly); profiles' activity ages, so scores move."""
    with task_session() as session:
        created = service.recompute_all(session, settings=get_settings())
    log.info("nightly match recompute: %d new matches", created)
    return created

"""E-mail tasks. Idempotent: each match is announced to each person once (see abb.notifications.service)."""

from __future__ import annotations

from abb.core.config import get_settings
from abb.notifications.service import send_new_match_emails
from abb.tasks import NOTIFY_NEW_MATCHES
from abb.tasks.celery_app import celery_app
from abb.tasks.runtime import task_session


@celery_app.task(
    name=NOTIFY_NEW_MATCHES,
    # A mail server that is down or refuses for now (smtplib's errors are OSErrors): try again later, backing off.
    autoretry_for=(OSError,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=5,
)
def notify_new_matches(match_ids: list[int]) -> int:
    """One e-mail per recipient with the matches of `match_ids` not yet announced to them."""
    with task_session() as session:
        return send_new_match_emails(session, match_ids=match_ids, settings=get_settings())

"""E-mail tasks. Idempotent: each match is announced to each person once (see abb.notifications.service)."""

from __future__ import annotations

from abb.core.config import get_settings
from abb.notifications.service import send_match_message_email, send_new_match_emails, send_password_reset_email
from abb.tasks import NOTIFY_MATCH_MESSAGE, NOTIFY_NEW_MATCHES, SEND_PASSWORD_RESET
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


@celery_app.task(
    name=SEND_PASSWORD_RESET, autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=120, max_retries=5
)
def send_password_reset(reset_id: int) -> bool:
    """The reset link's e-mail; a retry makes a new link (only the last one sent works)."""
    with task_session() as session:
        return send_password_reset_email(session, reset_id=reset_id, settings=get_settings())


@celery_app.task(
    name=NOTIFY_MATCH_MESSAGE, autoretry_for=(OSError,), retry_backoff=10, retry_backoff_max=600, max_retries=5
)
def notify_match_message(message_id: int) -> bool:
    """A copy of a message on a match for the other side's inbox (the message itself is on the match's page)."""
    with task_session() as session:
        return send_match_message_email(session, message_id=message_id, settings=get_settings())

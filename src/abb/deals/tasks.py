"""Background work for deals: retrying failed payment attempts with backoff, e-mailing a failure.

`abb.deals.payments` enqueues both by name after its commit. With a broker, a retry waits its backoff in
Redis (Celery's countdown); in the embedded mode (no broker) it runs at once in-process.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from celery import Task
from sqlalchemy import select

from abb.accounts.models import User
from abb.core.config import Settings, get_settings
from abb.core.i18n import format_money, gettext, use_locale
from abb.deals import payments, service
from abb.deals.models import Deal, DealEvent, DealState
from abb.notifications.email import compose, smtp_connection
from abb.tasks import NOTIFY_DEAL_FAILED, RETRY_FAILED_PAYMENT
from abb.tasks.celery_app import celery_app
from abb.tasks.runtime import task_session

NOTIFIED_REASON = "Both parties were e-mailed that the payment failed"
log = logging.getLogger("abb.deals")


@celery_app.task(name=RETRY_FAILED_PAYMENT, bind=True, max_retries=None)
def retry_failed_payment(self: Task, payment_id: int, delay: float = 0.0) -> str:
    """Retry one failed payment attempt once its backoff `delay` (seconds) has passed."""
    if delay > 0 and not self.request.is_eager:
        # First delivery: park the message in the broker until the backoff has passed.
        raise self.retry(args=(payment_id, 0.0), countdown=delay)
    with task_session() as session:
        return payments.retry_payment(session, payment_id=payment_id, settings=get_settings())


@celery_app.task(
    name=NOTIFY_DEAL_FAILED,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=5,
)
def notify_deal_failed(deal_id: int) -> int:
    """E-mail both parties that the deal's payment failed; recorded in the deal's history, sent once."""
    settings = get_settings()
    with task_session() as session:
        deal = session.get(Deal, deal_id)
        if deal is None or deal.state != DealState.FAILED:
            return 0
        if session.scalar(
            select(DealEvent.id).where(DealEvent.deal_id == deal_id, DealEvent.reason == NOTIFIED_REASON)
        ):
            return 0
        if not settings.smtp_host:
            log.info("no SMTP server configured (ABB_SMTP_HOST): deal %d failure not e-mailed", deal_id)
            return 0
        owners = (deal.sme.owner_id, deal.partner.owner_id)
        users = list(session.scalars(select(User).where(User.id.in_(owners), User.is_active.is_(True))))
        with smtp_connection(settings) as smtp:
            for user in users:
                smtp.send_message(_failure_message(deal, user, settings))
        session.add(
            DealEvent(
                deal_id=deal.id,
                from_state=deal.state,
                to_state=deal.state,
                actor_label=service.SYSTEM_ACTOR,
                reason=NOTIFIED_REASON,
            )
        )
        session.commit()
        return len(users)


def _failure_message(deal: Deal, user: User, settings: Settings) -> EmailMessage:
    """The failure notice in the recipient's language and money format."""
    with use_locale(user.locale, user.time_zone):
        return compose(
            settings,
            to=user.email,
            subject=gettext("Deal %(id)s: the payment failed") % {"id": deal.id},
            template="deal_failed.txt",
            message_id=f"deal-failed.{deal.id}.{user.id}",
            name=user.full_name,
            deal_id=deal.id,
            description=deal.description[:80],
            amount=format_money(deal.amount_minor, deal.currency.value),
        )

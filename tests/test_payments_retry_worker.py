"""The failed-payment retry on a real Celery worker: Redis holds each retry for its backoff, the worker retries
against the Stripe double, and when the retries are spent the deal fails and both parties get an e-mail.

Everything runs for real (PostgreSQL with committed data, Redis, an SMTP server, an `abb worker` subprocess);
only Stripe is the local double.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from abb.core.config import get_settings
from abb.deals import payments, service
from abb.deals.models import Deal, DealEvent, Payment, ProviderName
from abb.deals.money import Currency
from abb.deals.payments import enqueue_failure_notice
from abb.deals.schemas import DealIn
from abb.deals.tasks import NOTIFIED_REASON
from tests.conftest import make_settings
from tests.fixtures_deals import WEBHOOK_SECRET, connect
from tests.fixtures_redis import CeleryWorker, use_environment

RETRY_BASE = 0.5
MAX_RETRIES = 2


@pytest.fixture
def deal_worker(committed_database, redis_env, smtp_server, stripe_double, start_worker) -> CeleryWorker:
    """`abb worker` on the committed database, Redis, the SMTP server and the Stripe double."""
    _mailbox, smtp_port = smtp_server
    return start_worker(
        {
            "ABB_DATABASE_URL": committed_database[0],
            "ABB_REDIS_URL": os.environ["ABB_REDIS_URL"],
            "ABB_SMTP_HOST": "127.0.0.1",
            "ABB_SMTP_PORT": str(smtp_port),
            "ABB_STRIPE_SECRET_KEY": "sk_test_double",
            "ABB_STRIPE_API_BASE": stripe_double.url,
            "ABB_PAYMENT_MAX_RETRIES": str(MAX_RETRIES),
            "ABB_PAYMENT_RETRY_BASE_SECONDS": str(RETRY_BASE),
        }
    )


@pytest.mark.postgres
def test_declined_card_is_retried_with_backoff_then_fails_and_both_parties_are_emailed(
    committed_session, deal_worker, smtp_server, stripe_double
):
    mailbox, _port = smtp_server
    session = committed_session
    parties = connect(session)
    deal = service.create_deal(
        session,
        user=parties.partner_user,
        deal_in=DealIn(
            match_id=parties.match.id,
            description="Solar pumps for Arusha",
            amount="9800.00",
            currency=Currency.TZS,
            due_date=datetime.now(UTC).date(),
        ),
    )
    settings = make_settings(
        stripe_secret_key="sk_test_double",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_double.url,
        payment_max_retries=MAX_RETRIES,
        payment_retry_base_seconds=RETRY_BASE,
    )
    stripe_double.decline_next(1 + MAX_RETRIES)
    result = payments.pay(
        session, deal_id=deal.id, user=parties.sme_user, provider_name=ProviderName.STRIPE_CARD, settings=settings
    )
    assert result.instructions["status"] == "retry_scheduled"

    messages = mailbox.wait_for(2, timeout=60)
    assert sorted(m["To"] for m in messages) == sorted([parties.sme_user.email, parties.partner_user.email])
    assert {m["Subject"] for m in messages} == {f"Deal {deal.id}: the payment failed"}
    assert "TZS\xa09,800.00" in messages[0].get_content()

    session.expire_all()
    assert session.get(Deal, deal.id).state.value == "failed"
    assert session.get(Payment, result.payment.id).attempts == 1 + MAX_RETRIES
    events = list(session.scalars(select(DealEvent).where(DealEvent.deal_id == deal.id).order_by(DealEvent.id)))
    failures = [e.created_at for e in events if "failed (stripe: card_declined)" in e.reason]
    assert len(failures) == 1 + MAX_RETRIES
    # Each retry waited at least its backoff (0.5 s, then 1 s) in the broker before running.
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(failures)]
    assert gaps[0] >= RETRY_BASE * 0.9 and gaps[1] >= 2 * RETRY_BASE * 0.9, gaps
    assert events[-1].reason == NOTIFIED_REASON
    # Three retry runs and the notice have finished; a notice delivered again sends nothing more.
    deal_worker.wait_for_log("succeeded", count=MAX_RETRIES + 2)
    enqueue_failure_notice(session, deal.id)
    deal_worker.wait_for_log("succeeded", count=MAX_RETRIES + 3)
    assert len(mailbox.received()) == 2


@pytest.fixture
def embedded_environment(monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    """Process settings changed for one test, then forgotten (get_settings is cached)."""
    yield monkeypatch
    monkeypatch.undo()
    use_environment(monkeypatch)


@pytest.mark.postgres
def test_without_a_broker_the_retries_run_in_process_and_the_deal_fails(
    committed_session, smtp_server, stripe_double, embedded_environment
):
    mailbox, smtp_port = smtp_server
    use_environment(
        embedded_environment,
        ABB_REDIS_URL="",
        ABB_CELERY_BROKER_URL="",
        ABB_SMTP_HOST="127.0.0.1",
        ABB_SMTP_PORT=str(smtp_port),
        ABB_STRIPE_SECRET_KEY="sk_test_double",
        ABB_STRIPE_API_BASE=stripe_double.url,
        ABB_PAYMENT_MAX_RETRIES=str(MAX_RETRIES),
        ABB_PAYMENT_RETRY_BASE_SECONDS=str(RETRY_BASE),
    )
    session = committed_session
    parties = connect(session)
    deal = service.create_deal(
        session,
        user=parties.sme_user,
        deal_in=DealIn(
            match_id=parties.match.id,
            description="Espresso machines for Addis Ababa",
            amount="50000.00",
            currency=Currency.ETB,
            due_date=datetime.now(UTC).date(),
        ),
    )
    stripe_double.decline_next(1 + MAX_RETRIES)
    payments.pay(
        session, deal_id=deal.id, user=parties.sme_user, provider_name=ProviderName.STRIPE_CARD, settings=get_settings()
    )
    messages = mailbox.wait_for(2, timeout=30)
    assert {m["Subject"] for m in messages} == {f"Deal {deal.id}: the payment failed"}
    session.expire_all()
    assert session.get(Deal, deal.id).state.value == "failed"

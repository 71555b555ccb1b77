"""Card payments through the real Stripe SDK against a local double; signed webhooks; failed attempts retried."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from sqlalchemy import select

from abb.deals import payments
from abb.deals.models import Deal, Payment, PaymentStatus
from abb.observability import business
from tests.conftest import make_settings
from tests.factories import assert_problem, auth, db_snapshot
from tests.fixtures_deals import WEBHOOK_SECRET, connect, open_deal

RETRY_BASE = 30.0
MAX_RETRIES = 2
WEBHOOK = "/api/v1/payments/webhooks/stripe"


@pytest.fixture
def settings(stripe_double):
    return make_settings(
        stripe_secret_key="sk_test_double",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_double.url,
        payment_max_retries=MAX_RETRIES,
        payment_retry_base_seconds=RETRY_BASE,
    )


def _pay_by_card(client, parties, deal_id):
    response = client.post(
        f"/api/v1/deals/{deal_id}/pay", json={"provider": "stripe_card"}, headers=auth(client, parties.sme_user)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _event(event_id, event_type, intent_id, amount, **intent_fields):
    intent = {"id": intent_id, "object": "payment_intent", "amount": amount, "currency": "eur", **intent_fields}
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": intent}})


def _deliver(client, payload, *, secret=WEBHOOK_SECRET, timestamp=None):
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return client.post(
        WEBHOOK, content=payload, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


@pytest.fixture
def card_deal(client, session, stripe_double, background):
    parties = connect(session)
    deal = open_deal(client, parties, amount="1250.50")
    return parties, deal


def test_card_payment_creates_one_intent_and_a_signed_webhook_marks_it_paid(client, session, card_deal, stripe_double):
    parties, deal = card_deal
    created_before = stripe_double.created()
    paid = _pay_by_card(client, parties, deal["id"])
    assert stripe_double.created() == created_before + 1
    intent_id = paid["instructions"]["payment_intent_id"]
    assert stripe_double.intents[intent_id]["amount"] == 125050
    assert stripe_double.intents[intent_id]["metadata"]["deal_id"] == str(deal["id"])
    assert paid["instructions"]["client_secret"].startswith(intent_id)
    assert paid["deal"]["state"] == "awaiting_payment"
    payment = session.get(Payment, paid["payment_id"])
    assert (payment.status, payment.external_id) == (PaymentStatus.PENDING, intent_id)

    received = business.TRANSACTIONS.labels(provider="stripe_card", currency="EUR")._value.get()
    payload = _event("evt_paid_1", "payment_intent.succeeded", intent_id, 125050, amount_received=125050)
    response = _deliver(client, payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    session.expire_all()
    assert session.get(Deal, deal["id"]).state.value == "paid"
    assert session.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED
    assert business.TRANSACTIONS.labels(provider="stripe_card", currency="EUR")._value.get() == received + 1

    # The same event delivered again (Stripe retries deliveries): acknowledged, no second effect.
    before = db_snapshot(session)
    again = _deliver(client, payload)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert db_snapshot(session) == before
    assert business.TRANSACTIONS.labels(provider="stripe_card", currency="EUR")._value.get() == received + 1


def test_webhooks_with_bad_signature_stale_timestamp_or_bad_body_are_400(client, session, card_deal):
    parties, deal = card_deal
    intent_id = _pay_by_card(client, parties, deal["id"])["instructions"]["payment_intent_id"]
    payload = _event("evt_forged", "payment_intent.succeeded", intent_id, 125050, amount_received=125050)
    before = db_snapshot(session)
    assert_problem(_deliver(client, payload, secret="whsec_someone_else"), 400, "invalid-webhook-signature")
    assert_problem(
        client.post(WEBHOOK, content=payload, headers={"Content-Type": "application/json"}),
        400,
        "invalid-webhook-signature",
    )
    genuine = _deliver(client, payload)
    assert genuine.status_code == 200  # sanity: the genuine signature of this payload is accepted ...
    session.expire_all()
    after_genuine = db_snapshot(session)
    assert after_genuine != before
    # ... and a stale one (signed an hour ago, past the 5-minute tolerance) is refused even when correct.
    stale = _event("evt_stale", "payment_intent.succeeded", intent_id, 125050, amount_received=125050)
    assert_problem(_deliver(client, stale, timestamp=int(time.time()) - 3600), 400, "invalid-webhook-signature")
    # A signed body that is not a Stripe event.
    assert_problem(_deliver(client, '{"hello": "world"}'), 400)
    assert db_snapshot(session) == after_genuine


def test_declined_attempts_are_retried_with_exponential_backoff_then_the_deal_fails(
    client, session, card_deal, stripe_double, background, settings
):
    parties, deal = card_deal
    failed_before = business.PAYMENTS_FAILED.labels(provider="stripe_card")._value.get()
    retries_before = business.PAYMENT_RETRIES.labels(provider="stripe_card")._value.get()
    stripe_double.decline_next(1 + MAX_RETRIES)
    paid = _pay_by_card(client, parties, deal["id"])
    assert paid["instructions"]["status"] == "retry_scheduled"
    payment_id = paid["payment_id"]
    assert background.retries == [(payment_id, RETRY_BASE)]

    # Run the retries as the Celery task would, each time the queue hands one out.
    outcomes = [payments.retry_payment(session, payment_id=payment_id, settings=settings) for _ in range(MAX_RETRIES)]
    assert outcomes == ["retry-failed"] * MAX_RETRIES
    assert [delay for _, delay in background.retries] == [RETRY_BASE, 2 * RETRY_BASE, 4 * RETRY_BASE]
    assert payments.retry_payment(session, payment_id=payment_id, settings=settings) == "failed"
    assert background.failure_notices == [deal["id"]]

    session.expire_all()
    stored = session.get(Deal, deal["id"])
    assert stored.state.value == "failed"
    assert session.get(Payment, payment_id).attempts == 1 + MAX_RETRIES
    assert business.PAYMENTS_FAILED.labels(provider="stripe_card")._value.get() == failed_before + 1 + MAX_RETRIES
    assert business.PAYMENT_RETRIES.labels(provider="stripe_card")._value.get() == retries_before + MAX_RETRIES
    history = client.get(f"/api/v1/deals/{deal['id']}", headers=auth(client, parties.partner_user)).json()["history"]
    assert history[-1]["to_state"] == "failed" and "card_declined" in history[-1]["reason"]
    # A task delivered again after the end changes nothing.
    before = db_snapshot(session)
    assert payments.retry_payment(session, payment_id=payment_id, settings=settings) == "not-needed"
    assert db_snapshot(session) == before


def test_a_failed_webhook_schedules_a_retry_that_confirms_the_same_intent(
    client, session, card_deal, stripe_double, background, settings
):
    parties, deal = card_deal
    paid = _pay_by_card(client, parties, deal["id"])
    intent_id = paid["instructions"]["payment_intent_id"]
    payload = _event(
        "evt_failed_1",
        "payment_intent.payment_failed",
        intent_id,
        125050,
        last_payment_error={"code": "insufficient_funds"},
    )
    assert _deliver(client, payload).status_code == 200
    assert background.retries == [(paid["payment_id"], RETRY_BASE)]
    created = stripe_double.created()
    assert payments.retry_payment(session, payment_id=paid["payment_id"], settings=settings) == "retried"
    assert stripe_double.created() == created  # the same intent is confirmed again, not a new charge
    assert ("POST", f"/v1/payment_intents/{intent_id}/confirm") in stripe_double.requests
    session.expire_all()
    assert session.get(Payment, paid["payment_id"]).status == PaymentStatus.PENDING
    assert session.get(Deal, deal["id"]).state.value == "awaiting_payment"


def test_card_payments_unconfigured_is_a_client_error_and_changes_nothing(client, session, app, card_deal):
    parties, deal = card_deal
    app.state.settings = make_settings()  # no Stripe keys
    headers = auth(client, parties.sme_user)
    before = db_snapshot(session)
    response = client.post(f"/api/v1/deals/{deal['id']}/pay", json={"provider": "stripe_card"}, headers=headers)
    assert_problem(response, 422, "validation-error")  # 4xx: a client's choice, never a page for on-call
    assert_problem(
        client.post(WEBHOOK, content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"}), 404, "card-payments-disabled"
    )
    assert db_snapshot(session) == before
    assert session.scalar(select(Payment.id).where(Payment.deal_id == deal["id"])) is None

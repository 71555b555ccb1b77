"""Card payments through Stripe's official SDK: a PaymentIntent per attempt, confirmed by signed webhook."""

from __future__ import annotations

from typing import Any

import stripe

from abb.core.config import Settings
from abb.deals.models import Payment, ProviderName
from abb.deals.providers.base import Payable, PaymentAttemptFailed, PaymentProvider, PaymentStart, register


@register
class StripeCardProvider(PaymentProvider):
    name = ProviderName.STRIPE_CARD
    opens_payment = True

    @classmethod
    def available(cls, settings: Settings) -> bool:
        return bool(settings.stripe_secret_key.get_secret_value())

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base},
            # Retries are ours (a Celery task with backoff), so that each one is counted and bounded.
            max_network_retries=0,
        )

    def start(self, payable: Payable, payment: Payment | None) -> PaymentStart:
        assert payment is not None, "card payments always have a payment row"
        # Stripe's own idempotency key: a retried HTTP call can never create a second intent or charge.
        # The creation time keeps it unique across databases that share a Stripe account (ids repeat).
        created = int(payment.created_at.timestamp() * 1_000_000)
        options: dict[str, Any] = {"idempotency_key": f"abb-payment-{payment.id}-{created}-attempt-{payment.attempts}"}
        try:
            if payment.external_id is None:
                intent = self.client.v1.payment_intents.create(
                    params={
                        "amount": payable.amount_minor,
                        "currency": payable.currency.value.lower(),
                        "description": payable.payment_description,
                        "metadata": {**payable.payment_metadata, "payment_id": str(payment.id)},
                    },
                    options=options,  # type: ignore[arg-type]
                )
            else:
                intent = self.client.v1.payment_intents.confirm(payment.external_id, options=options)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            # The code ('card_declined') or the class name: never the raw message, which may echo input.
            raise PaymentAttemptFailed(f"stripe: {exc.code or type(exc).__name__}") from exc
        return PaymentStart(
            external_id=intent.id,
            instructions={
                "method": self.name.value,
                "payment_intent_id": intent.id,
                "client_secret": intent.client_secret,
                "status": intent.status,
            },
        )


def verify_event(payload: bytes, signature: str | None, settings: Settings) -> stripe.Event:
    """The event, once its signature and timestamp check out; raises stripe.SignatureVerificationError or ValueError."""
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.stripe_webhook_secret.get_secret_value(),
        tolerance=settings.stripe_webhook_tolerance_seconds,
    )

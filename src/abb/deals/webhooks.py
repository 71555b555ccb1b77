"""Stripe webhook endpoint: signature and age checked by the SDK; each event id takes effect once."""

from __future__ import annotations

import logging
from typing import Annotated

import stripe
from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from abb.core.errors import BadRequest
from abb.core.http import SessionDep, SettingsDep
from abb.core.openapi import problem_responses
from abb.deals import payments
from abb.deals.providers.base import CardPaymentsDisabled
from abb.deals.providers.stripe_card import verify_event

router = APIRouter(prefix="/api/v1/payments/webhooks", tags=["payments"])
log = logging.getLogger("abb.payments")


class InvalidWebhookSignature(BadRequest):
    slug, title = "invalid-webhook-signature", "The webhook signature is missing, wrong or too old"


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


async def raw_body(request: Request) -> bytes:
    # The signature covers the exact bytes sent, so the body is read raw, not parsed.
    return await request.body()


@router.post("/stripe", response_model=WebhookAck, responses=problem_responses(400, 404, 413))
def stripe_webhook(
    payload: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature", max_length=2000)] = None,
) -> WebhookAck:
    if not settings.stripe_webhook_secret.get_secret_value():
        raise CardPaymentsDisabled("No card provider is configured, so there is no webhook to receive.")
    try:
        event = verify_event(payload, stripe_signature, settings)
    except stripe.SignatureVerificationError as exc:
        # Stripe retries on any non-2xx; a forged or replayed-late delivery just keeps failing here.
        raise InvalidWebhookSignature("Check the endpoint's signing secret and the server clock.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The webhook body is not a Stripe event.") from exc
    raw = event.to_dict()
    event_id, event_type = raw.get("id"), raw.get("type")
    data = raw.get("data")
    intent = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255 and isinstance(event_type, str)):
        raise BadRequest("The webhook body is not a Stripe event.")
    handled = payments.handle_stripe_event(
        session,
        event_id=event_id,
        event_type=event_type,
        intent=intent if isinstance(intent, dict) else {},
        settings=settings,
    )
    if not handled:
        log.info("duplicate stripe event ignored", extra={"stripe.event_id": event_id})
    return WebhookAck(received=True, duplicate=not handled)

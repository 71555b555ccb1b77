"""What every payment provider offers the deals service, and how a provider's failure is reported."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from abb.core.config import Settings
from abb.core.errors import NotFound, Unprocessable
from abb.deals.models import Deal, Payment, ProviderName


class PaymentAttemptFailed(Exception):
    """The provider refused or could not be reached; the attempt may be retried later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


@dataclass(frozen=True)
class PaymentStart:
    """What an attempt produced: the provider's id for it (if any) and what the payer needs to pay."""

    external_id: str | None
    instructions: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(ABC):
    name: ProviderName
    # Whether a payment row is opened when the payer starts paying (cards); bank transfers get one
    # per transfer received, at reconciliation.
    opens_payment: bool

    @abstractmethod
    def start(self, deal: Deal, payment: Payment | None) -> PaymentStart:
        """Start paying `deal` (or retry `payment` when it already has an external id).

        Raises PaymentAttemptFailed when the provider refuses or cannot be reached.
        """


def provider_for(name: ProviderName, settings: Settings) -> PaymentProvider:
    # Imported here: the adapters import this module for the interface.
    from abb.payments.bank_transfer import BankTransferProvider
    from abb.payments.stripe_card import StripeCardProvider

    if name is ProviderName.BANK_TRANSFER:
        return BankTransferProvider(settings)
    if not settings.stripe_secret_key.get_secret_value():
        # A client's choice of an option this deployment does not offer: a 4xx, so it never pages anyone.
        raise Unprocessable(
            "Card payments are not available on this server; pay by bank transfer.",
            extra={"errors": [{"field": "provider", "message": "not available here", "code": "provider_disabled"}]},
        )
    return StripeCardProvider(settings)


class CardPaymentsDisabled(NotFound):
    slug, title = "card-payments-disabled", "Card payments are not enabled on this server"

"""What every payment provider offers the deals service, the registry of providers, and how a failure is reported.

Adapters import this module and register themselves (`@register`); this module imports none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from abb.core.config import Settings
from abb.core.errors import NotFound, Unprocessable
from abb.deals.models import Payment, ProviderName
from abb.deals.money import Currency


class PaymentAttemptFailed(Exception):
    """The provider refused or could not be reached; the attempt may be retried later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


class Payable(Protocol):
    """What can be paid through a provider: a deal, or a paid course's enrollment (abb.training)."""

    @property
    def amount_minor(self) -> int: ...
    @property
    def received_minor(self) -> int: ...
    @property
    def currency(self) -> Currency: ...
    @property
    def payment_reference(self) -> str | None: ...
    @property
    def payment_description(self) -> str: ...
    @property
    def payment_metadata(self) -> dict[str, str]: ...


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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def available(cls, settings: Settings) -> bool:
        """Whether this deployment offers the provider (its credentials are configured)."""
        return True

    @abstractmethod
    def start(self, payable: Payable, payment: Payment | None) -> PaymentStart:
        """Start paying `payable` (or retry `payment` when it already has an external id).

        Raises PaymentAttemptFailed when the provider refuses or cannot be reached.
        """


_PROVIDERS: dict[ProviderName, type[PaymentProvider]] = {}
P = TypeVar("P", bound=type[PaymentProvider])


def register(cls: P) -> P:
    """Class decorator of an adapter: `provider_for(cls.name, …)` builds it from the settings."""
    _PROVIDERS[cls.name] = cls
    return cls


def provider_for(name: ProviderName, settings: Settings) -> PaymentProvider:
    factory = _PROVIDERS.get(name)
    if factory is None or not factory.available(settings):
        # A client's choice of an option this deployment does not offer: a 4xx, so it never pages anyone.
        raise Unprocessable(
            "Card payments are not available on this server; pay by bank transfer.",
            extra={"errors": [{"field": "provider", "message": "not available here", "code": "provider_disabled"}]},
        )
    return factory(settings)


class CardPaymentsDisabled(NotFound):
    slug, title = "card-payments-disabled", "Card payments are not enabled on this server"

"""Business metrics. Call these right after the business event is committed, never where it is attempted.

docs/observability.md lists every metric; the Business dashboard and alert rules read these names. The
label values come from the domains, handed over by the app (`abb.app`): this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import Counter

USER_REGISTRATIONS = Counter("abb_user_registrations_total", "Accounts registered, by role", ["role"])
MATCHES_CREATED = Counter("abb_matches_created_total", "Match suggestions stored for the first time")
MATCHES_ACCEPTED = Counter("abb_matches_accepted_total", "Matches that became connected (both sides accepted)")
DEALS_CREATED = Counter("abb_deals_created_total", "Deals opened between connected parties")
DEAL_TRANSITIONS = Counter("abb_deal_transitions_total", "Deal state changes, by the state entered", ["state"])
TRANSACTION_VALUE = Counter(
    "abb_transaction_value_total", "Value of payments received, in major units, by currency", ["currency"]
)
TRANSACTIONS = Counter(
    "abb_transactions_total", "Payments received, by provider and currency", ["provider", "currency"]
)
PAYMENTS_FAILED = Counter("abb_payments_failed_total", "Payment attempts that failed, by provider", ["provider"])
PAYMENT_RETRIES = Counter("abb_payment_retries_total", "Payment attempts retried, by provider", ["provider"])
REVENUE = Counter(
    "abb_revenue_total", "Platform revenue (fees and course sales), in major units", ["currency", "source"]
)
COURSE_ENROLLMENTS = Counter("abb_course_enrollments_total", "Course and webinar enrollments confirmed")


def record_registration(role: str) -> None:
    USER_REGISTRATIONS.labels(role=role).inc()


def record_matches_created(count: int) -> None:
    if count:
        MATCHES_CREATED.inc(count)


def record_match_accepted() -> None:
    MATCHES_ACCEPTED.inc()


def record_deal_created() -> None:
    DEALS_CREATED.inc()


def record_deal_transition(state: str) -> None:
    DEAL_TRANSITIONS.labels(state=state).inc()


def record_payment_received(*, provider: str, currency: str, amount: Decimal) -> None:
    TRANSACTIONS.labels(provider=provider, currency=currency).inc()
    TRANSACTION_VALUE.labels(currency=currency).inc(float(amount))


def record_payment_failed(provider: str) -> None:
    PAYMENTS_FAILED.labels(provider=provider).inc()


def record_payment_retry(provider: str) -> None:
    PAYMENT_RETRIES.labels(provider=provider).inc()


def record_revenue(*, currency: str, amount: Decimal, source: str) -> None:
    REVENUE.labels(currency=currency, source=source).inc(float(amount))


def record_enrollment() -> None:
    COURSE_ENROLLMENTS.inc()


@dataclass(frozen=True)
class BusinessLabels:
    """Every value the business metrics' labels can take, from the domains' own enums and tables."""

    roles: Sequence[str]
    deal_states: Sequence[str]
    providers: Sequence[str]
    currencies: Sequence[str]
    revenue_sources: Sequence[str]


def initialise_label_values(labels: BusinessLabels) -> None:
    """Export every known label combination at 0 from start-up (Prometheus' advice against missing metrics):
    rates, ratios and dashboard panels read 0 before the first payment or deal event, not "no data"."""
    for role in labels.roles:
        USER_REGISTRATIONS.labels(role=role)
    for state in labels.deal_states:
        DEAL_TRANSITIONS.labels(state=state)
    for provider in labels.providers:
        PAYMENTS_FAILED.labels(provider=provider)
        PAYMENT_RETRIES.labels(provider=provider)
        for currency in labels.currencies:
            TRANSACTIONS.labels(provider=provider, currency=currency)
    for currency in labels.currencies:
        TRANSACTION_VALUE.labels(currency=currency)
        for source in labels.revenue_sources:
            REVENUE.labels(currency=currency, source=source)

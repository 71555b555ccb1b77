"""Business metrics. Call these right after the business event is committed, never where it is attempted.

docs/observability.md lists every metric; the Business dashboard and alert rules read these names.
"""

from __future__ import annotations

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


def initialise_label_values() -> None:
    """Export every known label combination at 0 from start-up (Prometheus' advice against missing metrics):
    rates, ratios and dashboard panels read 0 before the first payment or deal event, not "no data"."""
    from abb.accounts.models import Role
    from abb.deals.models import DealState, ProviderName
    from abb.deals.money import Currency

    for role in Role:
        USER_REGISTRATIONS.labels(role=role.value)
    for state in DealState:
        DEAL_TRANSITIONS.labels(state=state.value)
    for provider in ProviderName:
        PAYMENTS_FAILED.labels(provider=provider.value)
        PAYMENT_RETRIES.labels(provider=provider.value)
        for currency in Currency:
            TRANSACTIONS.labels(provider=provider.value, currency=currency.value)
    for currency in Currency:
        TRANSACTION_VALUE.labels(currency=currency.value)
        REVENUE.labels(currency=currency.value, source="deal_fee")

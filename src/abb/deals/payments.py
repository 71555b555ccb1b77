"""Paying deals: starting a payment, reconciling bank transfers, Stripe's card events, retrying failed attempts.

The state changes go through `abb.deals.service` (its row lock and its one transition table). Work for later
(a retry after its backoff, the failure e-mail) is enqueued by task name after the commit; the tasks are in
`abb.deals.tasks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from abb.accounts.models import User
from abb.core.config import Settings
from abb.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, Unprocessable
from abb.deals import service
from abb.deals.models import Deal, DealState, Payment, PaymentStatus, ProviderName, WebhookEvent
from abb.deals.money import to_major
from abb.deals.providers import PaymentAttemptFailed, provider_for
from abb.deals.providers.bank_transfer import new_reference, normalize_reference
from abb.deals.providers.base import Payable
from abb.deals.schemas import ReconciliationIn
from abb.observability import business
from abb.tasks import NOTIFY_DEAL_FAILED, RETRY_FAILED_PAYMENT
from abb.tasks.dispatch import enqueue

S = DealState
Outcome = Literal["exact", "partial", "overpaid"]


class AlreadyReconciled(Conflict):
    slug, title = "already-reconciled", "This bank transaction was already reconciled"


@dataclass(frozen=True)
class PaymentResult:
    deal: Deal
    payment: Payment | None
    instructions: dict[str, Any]


@dataclass(frozen=True)
class Reconciliation:
    deal: Deal
    payment: Payment
    outcome: Outcome
    excess_minor: int


# --- paying ------------------------------------------------------------------------------------


def pay(
    session: Session, *, deal_id: int, user: User, provider_name: ProviderName, settings: Settings
) -> PaymentResult:
    """The SME starts paying: the deal awaits the money; a card attempt that fails is retried later."""
    deal = service.locked(session, deal_id, user)
    if service.side_of(deal, user) != "sme":
        raise Forbidden("Only the SME of this deal pays it.")
    provider_for(provider_name, settings)  # refuses a provider not offered here before anything changes
    service.transition(
        session,
        deal,
        S.AWAITING_PAYMENT,
        actor=user,
        reason=f"Payment started by {provider_name.value.replace('_', ' ')}",
    )
    deal.provider = provider_name
    opened = open_payment(
        session, deal, provider_name=provider_name, settings=settings, payer=user, link={"deal_id": deal.id}
    )
    attempt = start_payment(deal, opened, provider_name=provider_name, settings=settings)
    payment, failure, instructions = attempt.payment, attempt.failure, attempt.instructions
    if failure is not None:
        service.note(session, deal, actor=None, reason=f"Payment attempt 1 failed ({failure}); it will be retried")
        instructions = {"method": provider_name.value, "status": "retry_scheduled"}
    session.commit()
    business.record_deal_transition(S.AWAITING_PAYMENT.value)
    if failure is not None and payment is not None:
        business.record_payment_failed(provider_name.value)
        _schedule_retry(session, payment, settings)
    return PaymentResult(deal=deal, payment=payment, instructions=instructions)


@dataclass(frozen=True)
class Attempt:
    """A first payment attempt: the payment row (cards), what the payer needs, and why it failed (or None)."""

    payment: Payment | None
    instructions: dict[str, Any]
    failure: str | None


def open_payment(
    session: Session,
    payable: Payable,
    *,
    provider_name: ProviderName,
    settings: Settings,
    payer: User,
    link: dict[str, int],
) -> Payment | None:
    """The pending payment row of a card attempt (None for a transfer: its row is made when the money lands);
    raises Unprocessable when the provider is not offered here. Apart from `start_payment` so that a caller can
    commit the row under its lock and call the provider after."""
    if not provider_for(provider_name, settings).opens_payment:
        return None
    payment = Payment(
        **link,
        provider=provider_name,
        amount_minor=payable.amount_minor - payable.received_minor,
        currency=payable.currency,
        status=PaymentStatus.PENDING,
        attempts=1,
        recorded_by_id=payer.id,
    )
    session.add(payment)
    session.flush()
    return payment


def start_payment(
    payable: Payable, payment: Payment | None, *, provider_name: ProviderName, settings: Settings
) -> Attempt:
    """Call the provider for a payment `open_payment` made; the caller commits what it changed on the row."""
    try:
        started = provider_for(provider_name, settings).start(payable, payment)
    except PaymentAttemptFailed as exc:
        assert payment is not None  # only providers that open a payment call out and can fail
        payment.status, payment.last_error = PaymentStatus.FAILED, exc.reason
        return Attempt(payment, {"method": provider_name.value, "status": "failed"}, exc.reason)
    if payment is not None:
        payment.external_id = started.external_id
    return Attempt(payment, started.instructions, None)


def provider_available(provider_name: ProviderName, settings: Settings) -> bool:
    """Whether this deployment offers the provider (pages show only the methods it offers)."""
    try:
        provider_for(provider_name, settings)
    except Unprocessable:
        return False
    return True


def provider_offered(provider_name: ProviderName, settings: Settings) -> None:
    """Unprocessable when this deployment does not offer the provider (e.g. no Stripe key)."""
    provider_for(provider_name, settings)


def transfer_instructions(payable: Payable, settings: Settings) -> dict[str, Any]:
    """Bank details, the amount outstanding and the reference to quote."""
    return provider_for(ProviderName.BANK_TRANSFER, settings).start(payable, None).instructions


def new_payment_reference() -> str:
    """A fresh ISO 11649 reference for a bank transfer (deals and enrollments share the scheme)."""
    return new_reference()


def parse_reference(text: str) -> str:
    """The compact form of a typed payment reference; Unprocessable (naming the field) when it is mistyped."""
    try:
        return normalize_reference(text)
    except ValueError as exc:
        raise Unprocessable(
            f"reference {exc}", extra={"errors": [{"field": "reference", "message": str(exc)}]}
        ) from exc


def check_not_reconciled(session: Session, bank_transaction_id: str) -> None:
    """A bank transaction is recorded once, whatever it paid (a deal or an enrollment)."""
    already = session.scalar(
        select(Payment.id).where(
            Payment.provider == ProviderName.BANK_TRANSFER, Payment.external_id == bank_transaction_id
        )
    )
    if already is not None:
        raise AlreadyReconciled(f"Bank transaction {bank_transaction_id!r} is already recorded as payment {already}.")


def payment_instructions(deal: Deal, settings: Settings) -> dict[str, Any] | None:
    """Bank details and reference while a bank-transfer deal awaits its money (for the deal page)."""
    if deal.state != S.AWAITING_PAYMENT or deal.provider != ProviderName.BANK_TRANSFER:
        return None
    return transfer_instructions(deal, settings)


def _receive(session: Session, deal: Deal, amount_minor: int, *, actor: User | None, via: str) -> tuple[Outcome, int]:
    """Count money received on a deal awaiting it; return the outcome and the excess to refund."""
    before = deal.received_minor
    deal.received_minor = before + amount_minor
    due_before = max(deal.amount_minor - before, 0)
    excess = max(amount_minor - due_before, 0)
    outstanding = max(deal.amount_minor - deal.received_minor, 0)
    got = service.amount_text(amount_minor, deal.currency)
    if outstanding:
        service.note(
            session,
            deal,
            actor=actor,
            reason=f"Partial payment of {got} by {via}; {service.amount_text(outstanding, deal.currency)} outstanding",
        )
        return "partial", 0
    if excess:
        deal.excess_minor += excess
        service.transition(
            session,
            deal,
            S.PAID,
            actor=actor,
            reason=f"Paid by {via} ({got} received); "
            f"over-payment of {service.amount_text(excess, deal.currency)} flagged for refund",
        )
        return "overpaid", excess
    service.transition(session, deal, S.PAID, actor=actor, reason=f"Paid in full by {via} ({got} received)")
    return "exact", 0


def reconcile(session: Session, *, admin: User, reconciliation_in: ReconciliationIn) -> Reconciliation:
    """Match an incoming bank transfer to its deal by reference and amount."""
    currency, amount_minor = reconciliation_in.currency, reconciliation_in.amount_minor
    bank_transaction_id = reconciliation_in.bank_transaction_id
    compact = parse_reference(reconciliation_in.reference)
    by_reference = select(Deal).where(Deal.payment_reference == compact).with_for_update(of=Deal)
    deal = session.scalar(by_reference.execution_options(populate_existing=True))
    if deal is None:
        raise NotFound("No deal has this payment reference.")
    if currency != deal.currency:
        raise Unprocessable(f"This deal is in {deal.currency.value}, not {currency.value}.")
    check_not_reconciled(session, bank_transaction_id)
    if deal.state != S.AWAITING_PAYMENT or deal.provider != ProviderName.BANK_TRANSFER:
        raise InvalidTransition(
            f"This deal is '{deal.state.value}' and not awaiting a bank transfer; return the money to the sender."
        )
    payment = Payment(
        deal_id=deal.id,
        provider=ProviderName.BANK_TRANSFER,
        external_id=bank_transaction_id,
        amount_minor=amount_minor,
        currency=deal.currency,
        status=PaymentStatus.SUCCEEDED,
        attempts=1,
        recorded_by_id=admin.id,
    )
    session.add(payment)
    outcome, excess = _receive(session, deal, amount_minor, actor=admin, via=f"bank transfer {bank_transaction_id}")
    try:
        session.commit()
    except IntegrityError as exc:  # the same transaction reconciled concurrently
        session.rollback()
        raise AlreadyReconciled(f"Bank transaction {bank_transaction_id!r} is already recorded.") from exc
    _record_received(deal, ProviderName.BANK_TRANSFER, amount_minor)
    return Reconciliation(deal=deal, payment=payment, outcome=outcome, excess_minor=excess)


def _record_received(deal: Deal, provider: ProviderName, amount_minor: int) -> None:
    """Business metrics of committed money received (and of the deal becoming paid by it)."""
    business.record_payment_received(
        provider=provider.value, currency=deal.currency.value, amount=to_major(amount_minor, deal.currency)
    )
    if deal.state == S.PAID:
        business.record_deal_transition(S.PAID.value)


def awaiting_bank_transfers(session: Session, *, limit: int = 100) -> list[Deal]:
    return list(
        session.scalars(
            select(Deal)
            .where(Deal.state == S.AWAITING_PAYMENT, Deal.provider == ProviderName.BANK_TRANSFER)
            .order_by(Deal.due_date, Deal.id)
            .limit(limit)
        )
    )


def deals_needing_attention(session: Session, *, limit: int = 100) -> dict[str, list[Deal]]:
    """What an operator must act on: transfers to reconcile, paid deals to settle, failed payments, refunds owed."""

    def deals(*conditions: Any) -> list[Deal]:
        return list(session.scalars(select(Deal).where(*conditions).order_by(Deal.due_date, Deal.id).limit(limit)))

    return {
        "awaiting_reconciliation": awaiting_bank_transfers(session, limit=limit),
        "awaiting_settlement": deals(Deal.state == S.PAID),
        "failed": deals(Deal.state == S.FAILED),
        "refund_owed": deals(Deal.excess_minor > 0),
    }


# --- card events and retries -------------------------------------------------------------------


def handle_stripe_event(
    session: Session, *, event_id: str, event_type: str, intent: dict[str, Any], settings: Settings
) -> bool:
    """Apply one verified Stripe event once; False when this event id was already handled."""
    session.add(WebhookEvent(provider=ProviderName.STRIPE_CARD, event_id=event_id, event_type=event_type[:100]))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    payment = session.scalar(
        select(Payment).where(
            Payment.provider == ProviderName.STRIPE_CARD, Payment.external_id == str(intent.get("id"))
        )
    )
    if payment is None or event_type not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        session.commit()  # stored, so a repeat is recognized; nothing of ours to change
        return True
    if payment.deal_id is None:
        succeeded = event_type == "payment_intent.succeeded"
        _settle_other_payable(session, payment, succeeded=succeeded, intent=intent, settings=settings)
        return True
    deal = service.locked(session, payment.deal_id, None)
    received = 0
    failed = False
    if event_type == "payment_intent.succeeded" and payment.status != PaymentStatus.SUCCEEDED:
        received = int(intent.get("amount_received") or intent.get("amount") or 0)
        payment.status = PaymentStatus.SUCCEEDED
        if deal.state == S.AWAITING_PAYMENT:
            _receive(session, deal, received, actor=None, via=f"card ({payment.external_id})")
        else:  # money arrived for a deal no longer waiting for it: keep it visible for a refund
            deal.received_minor += received
            deal.excess_minor += received
            service.note(
                session,
                deal,
                actor=None,
                reason=f"Card payment of {service.amount_text(received, deal.currency)} arrived after the deal was "
                f"{deal.state.value}; flagged for refund",
            )
    elif event_type == "payment_intent.payment_failed" and payment.status == PaymentStatus.PENDING:
        failed = True
        error = intent.get("last_payment_error") or {}
        payment.status = PaymentStatus.FAILED
        payment.last_error = f"stripe: {error.get('code') or 'payment_failed'}"[:500]
        service.note(
            session, deal, actor=None, reason=f"Card payment attempt {payment.attempts} failed ({payment.last_error})"
        )
    session.commit()
    if received:
        _record_received(deal, ProviderName.STRIPE_CARD, received)
    if failed:
        business.record_payment_failed(ProviderName.STRIPE_CARD.value)
        _schedule_retry(session, payment, settings)
    return True


class CardOutcomeHandler(Protocol):
    def __call__(
        self, session: Session, payment: Payment, *, succeeded: bool, received_minor: int, settings: Settings
    ) -> None: ...


# Who applies a card payment's outcome to what it paid, for payments that pay something other than a deal.
# training registers its handler for enrollments (deals may not import training: it imports deals).
_card_outcome_handlers: dict[str, CardOutcomeHandler] = {}


def handle_card_outcomes(link: str, handler: CardOutcomeHandler) -> None:
    """Register who settles card payments whose `link` column (e.g. "enrollment_id") is set."""
    _card_outcome_handlers[link] = handler


def _settle_other_payable(
    session: Session, payment: Payment, *, succeeded: bool, intent: dict[str, Any], settings: Settings
) -> None:
    """A card event for an enrollment: the payment's status here, its effect by the registered handler.

    No automatic retry: the payer is on the page and may try again while the seat is held.
    """
    link = next((name for name in _card_outcome_handlers if getattr(payment, name) is not None), None)
    if link is None:
        raise LookupError(f"payment {payment.id} pays nothing with a registered card handler")
    received = 0
    if succeeded and payment.status != PaymentStatus.SUCCEEDED:
        received = int(intent.get("amount_received") or intent.get("amount") or 0)
        payment.status = PaymentStatus.SUCCEEDED
    elif not succeeded and payment.status == PaymentStatus.PENDING:
        error = intent.get("last_payment_error") or {}
        payment.status, payment.last_error = (
            PaymentStatus.FAILED,
            f"stripe: {error.get('code') or 'payment_failed'}"[:500],
        )
    else:
        session.commit()  # an event about an attempt already settled: nothing changes
        return
    # The handler commits (the webhook event row with it).
    _card_outcome_handlers[link](session, payment, succeeded=succeeded, received_minor=received, settings=settings)
    if received:
        business.record_payment_received(
            provider=payment.provider.value,
            currency=payment.currency.value,
            amount=to_major(received, payment.currency),
        )
    elif not succeeded:
        business.record_payment_failed(payment.provider.value)


def retry_delay(attempts: int, settings: Settings) -> float:
    """Exponential backoff: base, 2 x base, 4 x base ... after the 1st, 2nd, 3rd ... failed attempt."""
    return float(settings.payment_retry_base_seconds * 2 ** (attempts - 1))


def enqueue_payment_retry(session: Session, payment_id: int, *, delay: float) -> None:
    enqueue(session, RETRY_FAILED_PAYMENT, payment_id, delay)


def enqueue_failure_notice(session: Session, deal_id: int) -> None:
    enqueue(session, NOTIFY_DEAL_FAILED, deal_id)


def _schedule_retry(session: Session, payment: Payment, settings: Settings) -> None:
    enqueue_payment_retry(session, payment.id, delay=retry_delay(payment.attempts, settings))


def retry_payment(session: Session, *, payment_id: int, settings: Settings) -> str:
    """One retry of a failed attempt; after `payment_max_retries` retries the deal fails. Returns what happened."""
    payment = session.get(Payment, payment_id)
    if payment is None or payment.deal_id is None:  # enrollments are not retried automatically
        return "gone"
    deal = service.locked(session, payment.deal_id, None)
    session.refresh(payment)
    if payment.status != PaymentStatus.FAILED or deal.state != S.AWAITING_PAYMENT:
        session.rollback()
        return "not-needed"  # paid, cancelled or already retried meanwhile
    retries_done = payment.attempts - 1
    if retries_done >= settings.payment_max_retries:
        service.transition(
            session,
            deal,
            S.FAILED,
            actor=None,
            reason=f"Payment failed after {payment.attempts} attempts ({payment.last_error})",
        )
        session.commit()
        business.record_deal_transition(S.FAILED.value)
        _notify_failure(session, deal)
        return "failed"
    payment.attempts += 1
    provider = provider_for(payment.provider, settings)
    try:
        started = provider.start(deal, payment)
    except PaymentAttemptFailed as exc:
        payment.last_error = exc.reason
        service.note(session, deal, actor=None, reason=f"Payment attempt {payment.attempts} failed ({exc.reason})")
        session.commit()
        business.record_payment_retry(payment.provider.value)
        business.record_payment_failed(payment.provider.value)
        _schedule_retry(session, payment, settings)
        return "retry-failed"
    payment.status = PaymentStatus.PENDING
    payment.external_id = started.external_id
    payment.last_error = None
    service.note(session, deal, actor=None, reason=f"Payment attempt {payment.attempts} sent to the provider")
    session.commit()
    business.record_payment_retry(payment.provider.value)
    return "retried"


def _notify_failure(session: Session, deal: Deal) -> None:
    enqueue_failure_notice(session, deal.id)

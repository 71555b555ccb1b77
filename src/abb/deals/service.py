"""Deal rules: who may do what, the one transition table, payments, reconciliation, retries.

The SME of the match pays; the partner is paid (the platform holds the money until an admin settles).
Every state change takes the deal's row lock first (SELECT … FOR UPDATE on PostgreSQL), so two
concurrent requests cannot both move the same deal. Business metrics are recorded after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.config import Settings
from abb.core.database import fetch_page
from abb.core.errors import Conflict, Forbidden, HiddenFromCaller, InvalidTransition, NotFound, Unprocessable
from abb.deals.models import Deal, DealEvent, DealState, Payment, PaymentStatus, ProviderName, WebhookEvent
from abb.deals.money import Currency, format_amount, parse_amount, percent_of, to_major
from abb.matching.models import Match, MatchStatus
from abb.observability import business
from abb.payments.bank_transfer import new_reference, normalize_reference
from abb.payments.base import PaymentAttemptFailed, provider_for

log = logging.getLogger("abb.deals")
S = DealState

# The only place that says which state may follow which.
TRANSITIONS: dict[DealState, frozenset[DealState]] = {
    S.DRAFT: frozenset({S.AWAITING_PAYMENT, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.FAILED}),
    S.FAILED: frozenset({S.AWAITING_PAYMENT, S.CANCELLED}),
    S.PAID: frozenset({S.SETTLED, S.REFUNDED}),
    S.SETTLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
SYSTEM_ACTOR = "system (payment retries)"


Outcome = Literal["exact", "partial", "overpaid"]


class MatchNotConnected(Conflict):
    slug, title = "match-not-connected", "Deals can only be opened on a connected match"


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


def _label(user: User) -> str:
    return f"{user.full_name} ({user.role.value})"


def side_of(deal: Deal, user: User) -> str | None:
    """'sme' or 'partner' when the user is a party of the deal, else None."""
    if deal.sme.owner_id == user.id:
        return "sme"
    if deal.partner.owner_id == user.id:
        return "partner"
    return None


def _visible(deal: Deal | None, user: User) -> Deal:
    # Strangers get the same answer as for a deal that does not exist: ids reveal nothing.
    if deal is None:
        raise NotFound("No such deal.")
    if user.role != Role.ADMIN and side_of(deal, user) is None:
        raise HiddenFromCaller("No such deal.")
    return deal


def _locked(session: Session, deal_id: int, user: User | None) -> Deal:
    # populate_existing: the values read under the lock win over any copy this session already holds.
    locked = select(Deal).where(Deal.id == deal_id).with_for_update(of=Deal)
    deal = session.scalar(locked.execution_options(populate_existing=True))
    if user is None:
        if deal is None:
            raise NotFound("No such deal.")
        return deal
    return _visible(deal, user)


def _transition(session: Session, deal: Deal, to: DealState, *, actor: User | None, reason: str) -> None:
    if to not in TRANSITIONS[deal.state]:
        raise InvalidTransition(f"A deal that is '{deal.state.value}' cannot become '{to.value}'.")
    _history(session, deal, to, actor=actor, reason=reason)
    deal.state = to


def _note(session: Session, deal: Deal, *, actor: User | None, reason: str) -> None:
    """A history line that changes no state (a partial payment, a failed attempt)."""
    _history(session, deal, deal.state, actor=actor, reason=reason)


def _history(session: Session, deal: Deal, to: DealState, *, actor: User | None, reason: str) -> None:
    session.add(
        DealEvent(
            deal_id=deal.id,
            from_state=deal.state,
            to_state=to,
            actor_id=actor.id if actor else None,
            actor_label=_label(actor) if actor else SYSTEM_ACTOR,
            reason=reason[:500],
        )
    )


def amount_text(minor: int, currency: Currency) -> str:
    return f"{format_amount(minor, currency)} {currency.value}"


# --- deals -------------------------------------------------------------------------------------


def create_deal(
    session: Session,
    *,
    user: User,
    match_id: int,
    description: str,
    amount_minor: int,
    currency: Currency,
    due_date: date,
) -> Deal:
    match = session.get(Match, match_id)
    if match is None or user.id not in (match.sme.owner_id, match.partner.owner_id):
        raise NotFound("No such match.")
    if match.status != MatchStatus.CONNECTED:
        raise MatchNotConnected(f"This match is '{match.status.value}'; both sides must have accepted it.")
    reference = new_reference()
    while session.scalar(select(Deal.id).where(Deal.payment_reference == reference)) is not None:
        reference = new_reference()  # practically never: 31^10 possible bodies
    deal = Deal(
        match_id=match.id,
        sme_id=match.sme_id,
        partner_id=match.partner_id,
        created_by_id=user.id,
        description=description,
        amount_minor=amount_minor,
        currency=currency,
        due_date=due_date,
        state=S.DRAFT,
        payment_reference=reference,
        received_minor=0,
        excess_minor=0,
        fee_minor=0,
    )
    session.add(deal)
    session.flush()
    session.add(
        DealEvent(
            deal_id=deal.id,
            from_state=None,
            to_state=S.DRAFT,
            actor_id=user.id,
            actor_label=_label(user),
            reason=f"Deal opened for {amount_text(amount_minor, currency)}, due {due_date.isoformat()}",
        )
    )
    session.commit()
    business.record_deal_created()
    return deal


def get_deal(session: Session, *, deal_id: int, user: User) -> Deal:
    return _visible(session.get(Deal, deal_id), user)


def history(session: Session, *, deal: Deal) -> list[DealEvent]:
    return list(session.scalars(select(DealEvent).where(DealEvent.deal_id == deal.id).order_by(DealEvent.id)))


def list_deals(
    session: Session, *, user: User, state: DealState | None, limit: int, offset: int
) -> tuple[list[Deal], int]:
    query = select(Deal)
    if user.role != Role.ADMIN:
        query = query.where(
            or_(
                Deal.sme_id.in_(select(SmeProfile.id).where(SmeProfile.owner_id == user.id)),
                Deal.partner_id.in_(select(PartnerProfile.id).where(PartnerProfile.owner_id == user.id)),
            )
        )
    if state is not None:
        query = query.where(Deal.state == state)
    return fetch_page(session, query, Deal.id.desc(), limit=limit, offset=offset)


def connected_matches(session: Session, *, user: User) -> list[Match]:
    """The user's connected matches: where a new deal can be opened."""
    return list(
        session.scalars(
            select(Match)
            .join(SmeProfile, Match.sme_id == SmeProfile.id)
            .join(PartnerProfile, Match.partner_id == PartnerProfile.id)
            .where(
                Match.status == MatchStatus.CONNECTED,
                or_(SmeProfile.owner_id == user.id, PartnerProfile.owner_id == user.id),
            )
            .order_by(Match.id)
        ).unique()
    )


def cancel(session: Session, *, deal_id: int, user: User, reason: str | None) -> Deal:
    deal = _locked(session, deal_id, user)
    if deal.received_minor > 0:
        raise InvalidTransition("Money has been received for this deal: an admin must refund it instead.")
    _transition(session, deal, S.CANCELLED, actor=user, reason=reason or "Cancelled")
    session.commit()
    business.record_deal_transition(S.CANCELLED.value)
    return deal


def settle(session: Session, *, deal_id: int, admin: User, settings: Settings) -> Deal:
    """Pay the partner out: the platform keeps its fee, which is recorded as revenue."""
    deal = _locked(session, deal_id, admin)
    fee = percent_of(deal.amount_minor, settings.platform_fee_percent)
    _transition(
        session,
        deal,
        S.SETTLED,
        actor=admin,
        reason=f"Paid out {amount_text(deal.amount_minor - fee, deal.currency)} to the partner; "
        f"platform fee {amount_text(fee, deal.currency)}",
    )
    deal.fee_minor = fee
    session.commit()
    business.record_deal_transition(S.SETTLED.value)
    if fee:
        business.record_revenue(currency=deal.currency.value, amount=to_major(fee, deal.currency), source="deal_fee")
    return deal


def refund(session: Session, *, deal_id: int, admin: User, reason: str | None) -> Deal:
    deal = _locked(session, deal_id, admin)
    _transition(
        session,
        deal,
        S.REFUNDED,
        actor=admin,
        reason=f"Refunded {amount_text(deal.received_minor, deal.currency)} to the SME"
        + (f": {reason}" if reason else ""),
    )
    session.commit()
    business.record_deal_transition(S.REFUNDED.value)
    return deal


def excess_refunded(session: Session, *, deal_id: int, admin: User) -> Deal:
    """Record that the over-paid part was sent back to the SME; the deal's state is unchanged."""
    deal = _locked(session, deal_id, admin)
    if deal.excess_minor == 0:
        raise Conflict("This deal has no over-payment waiting to be refunded.")
    _note(
        session,
        deal,
        actor=admin,
        reason=f"Over-payment of {amount_text(deal.excess_minor, deal.currency)} refunded to the SME",
    )
    deal.received_minor -= deal.excess_minor
    deal.excess_minor = 0
    session.commit()
    return deal


# --- paying ------------------------------------------------------------------------------------


def pay(
    session: Session, *, deal_id: int, user: User, provider_name: ProviderName, settings: Settings
) -> PaymentResult:
    """The SME starts paying: the deal awaits the money; a card attempt that fails is retried later."""
    deal = _locked(session, deal_id, user)
    if side_of(deal, user) != "sme":
        raise Forbidden("Only the SME of this deal pays it.")
    provider = provider_for(provider_name, settings)
    _transition(
        session,
        deal,
        S.AWAITING_PAYMENT,
        actor=user,
        reason=f"Payment started by {provider_name.value.replace('_', ' ')}",
    )
    deal.provider = provider_name
    payment: Payment | None = None
    failure: PaymentAttemptFailed | None = None
    if provider.opens_payment:
        payment = Payment(
            deal_id=deal.id,
            provider=provider_name,
            amount_minor=deal.amount_minor - deal.received_minor,
            currency=deal.currency,
            status=PaymentStatus.PENDING,
            attempts=1,
            recorded_by_id=user.id,
        )
        session.add(payment)
        session.flush()
    try:
        started = provider.start(deal, payment)
    except PaymentAttemptFailed as exc:
        assert payment is not None  # only providers that open a payment call out and can fail
        failure = exc
        payment.status, payment.last_error = PaymentStatus.FAILED, exc.reason
        _note(session, deal, actor=None, reason=f"Payment attempt 1 failed ({exc.reason}); it will be retried")
        instructions: dict[str, Any] = {"method": provider_name.value, "status": "retry_scheduled"}
    else:
        if payment is not None:
            payment.external_id = started.external_id
        instructions = started.instructions
    session.commit()
    business.record_deal_transition(S.AWAITING_PAYMENT.value)
    if failure is not None and payment is not None:
        business.record_payment_failed(provider_name.value)
        _schedule_retry(session, payment, settings)
    return PaymentResult(deal=deal, payment=payment, instructions=instructions)


def payment_instructions(deal: Deal, settings: Settings) -> dict[str, Any] | None:
    """Bank details and reference while a bank-transfer deal awaits its money (for the deal page)."""
    if deal.state != S.AWAITING_PAYMENT or deal.provider != ProviderName.BANK_TRANSFER:
        return None
    return provider_for(ProviderName.BANK_TRANSFER, settings).start(deal, None).instructions


def _receive(session: Session, deal: Deal, amount_minor: int, *, actor: User | None, via: str) -> tuple[Outcome, int]:
    """Count money received on a deal awaiting it; return the outcome and the excess to refund."""
    before = deal.received_minor
    deal.received_minor = before + amount_minor
    due_before = max(deal.amount_minor - before, 0)
    excess = max(amount_minor - due_before, 0)
    outstanding = max(deal.amount_minor - deal.received_minor, 0)
    got = amount_text(amount_minor, deal.currency)
    if outstanding:
        _note(
            session,
            deal,
            actor=actor,
            reason=f"Partial payment of {got} by {via}; {amount_text(outstanding, deal.currency)} outstanding",
        )
        return "partial", 0
    if excess:
        deal.excess_minor += excess
        _transition(
            session,
            deal,
            S.PAID,
            actor=actor,
            reason=f"Paid by {via} ({got} received); "
            f"over-payment of {amount_text(excess, deal.currency)} flagged for refund",
        )
        return "overpaid", excess
    _transition(session, deal, S.PAID, actor=actor, reason=f"Paid in full by {via} ({got} received)")
    return "exact", 0


def reconcile(
    session: Session,
    *,
    admin: User,
    reference: str,
    amount: str,
    currency: Currency,
    bank_transaction_id: str,
) -> Reconciliation:
    """Match an incoming bank transfer to its deal by reference and amount."""
    try:
        compact = normalize_reference(reference)
    except ValueError as exc:
        raise Unprocessable(
            f"reference {exc}", extra={"errors": [{"field": "reference", "message": str(exc)}]}
        ) from exc
    by_reference = select(Deal).where(Deal.payment_reference == compact).with_for_update(of=Deal)
    deal = session.scalar(by_reference.execution_options(populate_existing=True))
    if deal is None:
        raise NotFound("No deal has this payment reference.")
    if currency != deal.currency:
        raise Unprocessable(f"This deal is in {deal.currency.value}, not {currency.value}.")
    try:
        amount_minor = parse_amount(amount, deal.currency)
    except ValueError as exc:
        raise Unprocessable(f"amount {exc}", extra={"errors": [{"field": "amount", "message": str(exc)}]}) from exc
    already = session.scalar(
        select(Payment.id).where(
            Payment.provider == ProviderName.BANK_TRANSFER, Payment.external_id == bank_transaction_id
        )
    )
    if already is not None:
        raise AlreadyReconciled(f"Bank transaction {bank_transaction_id!r} is already recorded as payment {already}.")
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
    business.record_payment_received(
        provider=ProviderName.BANK_TRANSFER.value,
        currency=deal.currency.value,
        amount=to_major(amount_minor, deal.currency),
    )
    if deal.state == S.PAID:
        business.record_deal_transition(S.PAID.value)
    return Reconciliation(deal=deal, payment=payment, outcome=outcome, excess_minor=excess)


def awaiting_bank_transfers(session: Session, *, limit: int = 100) -> list[Deal]:
    return list(
        session.scalars(
            select(Deal)
            .where(Deal.state == S.AWAITING_PAYMENT, Deal.provider == ProviderName.BANK_TRANSFER)
            .order_by(Deal.due_date, Deal.id)
            .limit(limit)
        )
    )


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
    deal = _locked(session, payment.deal_id, None)
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
            _note(
                session,
                deal,
                actor=None,
                reason=f"Card payment of {amount_text(received, deal.currency)} arrived after the deal was "
                f"{deal.state.value}; flagged for refund",
            )
    elif event_type == "payment_intent.payment_failed" and payment.status == PaymentStatus.PENDING:
        failed = True
        error = intent.get("last_payment_error") or {}
        payment.status = PaymentStatus.FAILED
        payment.last_error = f"stripe: {error.get('code') or 'payment_failed'}"[:500]
        _note(
            session, deal, actor=None, reason=f"Card payment attempt {payment.attempts} failed ({payment.last_error})"
        )
    session.commit()
    if received:
        business.record_payment_received(
            provider=ProviderName.STRIPE_CARD.value,
            currency=deal.currency.value,
            amount=to_major(received, deal.currency),
        )
        if deal.state == S.PAID:
            business.record_deal_transition(S.PAID.value)
    if failed:
        business.record_payment_failed(ProviderName.STRIPE_CARD.value)
        _schedule_retry(session, payment, settings)
    return True


def retry_delay(attempts: int, settings: Settings) -> float:
    """Exponential backoff: base, 2 x base, 4 x base ... after the 1st, 2nd, 3rd ... failed attempt."""
    return float(settings.payment_retry_base_seconds * 2 ** (attempts - 1))


def _schedule_retry(session: Session, payment: Payment, settings: Settings) -> None:
    from abb.deals.tasks import enqueue_payment_retry  # the task module imports this one

    enqueue_payment_retry(session, payment.id, delay=retry_delay(payment.attempts, settings))


def retry_payment(session: Session, *, payment_id: int, settings: Settings) -> str:
    """One retry of a failed attempt; after `payment_max_retries` retries the deal fails. Returns what happened."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        return "gone"
    deal = _locked(session, payment.deal_id, None)
    session.refresh(payment)
    if payment.status != PaymentStatus.FAILED or deal.state != S.AWAITING_PAYMENT:
        session.rollback()
        return "not-needed"  # paid, cancelled or already retried meanwhile
    retries_done = payment.attempts - 1
    if retries_done >= settings.payment_max_retries:
        _transition(
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
        _note(session, deal, actor=None, reason=f"Payment attempt {payment.attempts} failed ({exc.reason})")
        session.commit()
        business.record_payment_retry(payment.provider.value)
        business.record_payment_failed(payment.provider.value)
        _schedule_retry(session, payment, settings)
        return "retry-failed"
    payment.status = PaymentStatus.PENDING
    payment.external_id = started.external_id
    payment.last_error = None
    _note(session, deal, actor=None, reason=f"Payment attempt {payment.attempts} sent to the provider")
    session.commit()
    business.record_payment_retry(payment.provider.value)
    return "retried"


def _notify_failure(session: Session, deal: Deal) -> None:
    from abb.deals.tasks import enqueue_failure_notice

    enqueue_failure_notice(session, deal.id)

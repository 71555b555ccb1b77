"""Deal rules: the one transition table, who may do what, and a deal's lifecycle (open, cancel, settle, refund).

The SME of the match pays; the partner is paid (the platform holds the money until an admin settles).
Paying, reconciling transfers, card events and retries are in `abb.deals.payments`. Every state change
takes the deal's row lock first (SELECT … FOR UPDATE on PostgreSQL), so two concurrent requests cannot both
move the same deal. Business metrics are recorded after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, inspect, or_, select, text
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.config import Settings
from abb.core.database import fetch_page
from abb.core.errors import Conflict, HiddenFromCaller, InvalidTransition, NotFound
from abb.deals.models import Deal, DealEvent, DealState
from abb.deals.money import Currency, format_amount, percent_of, to_major
from abb.deals.providers.bank_transfer import display_reference as display_reference  # for the pages
from abb.deals.providers.bank_transfer import new_reference
from abb.deals.schemas import DealIn
from abb.matching.models import Match, MatchStatus
from abb.observability import business

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


class MatchNotConnected(Conflict):
    slug, title = "match-not-connected", "Deals can only be opened on a connected match"


@dataclass(frozen=True)
class DealActions:
    """What a user may do with a deal now (the deal page shows these buttons), read from TRANSITIONS."""

    pay: bool
    cancel: bool
    settle: bool
    refund_excess: bool


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


def allowed_actions(deal: Deal, user: User) -> DealActions:
    """What `user` may do with `deal` now; the services check the same rules again when it is done."""
    side = side_of(deal, user)
    admin = user.role == Role.ADMIN
    following = TRANSITIONS[deal.state]
    return DealActions(
        pay=side == "sme" and S.AWAITING_PAYMENT in following,
        # Once money arrived, only an admin's refund ends the deal.
        cancel=(side is not None or admin) and deal.received_minor == 0 and S.CANCELLED in following,
        settle=admin and S.SETTLED in following,
        refund_excess=admin and deal.excess_minor > 0,
    )


# locked / transition / note: the steps every state change takes, here and in deals/payments.py.


def locked(session: Session, deal_id: int, user: User | None) -> Deal:
    """The deal under its row lock (visible to `user`, or to the system when None)."""
    # populate_existing: the values read under the lock win over any copy this session already holds.
    query = select(Deal).where(Deal.id == deal_id).with_for_update(of=Deal)
    deal = session.scalar(query.execution_options(populate_existing=True))
    if user is None:
        if deal is None:
            raise NotFound("No such deal.")
        return deal
    return _visible(deal, user)


def transition(session: Session, deal: Deal, to: DealState, *, actor: User | None, reason: str) -> None:
    """Move the deal to `to` if TRANSITIONS allows it, with a history line."""
    if to not in TRANSITIONS[deal.state]:
        raise InvalidTransition(f"A deal that is '{deal.state.value}' cannot become '{to.value}'.")
    _history(session, deal, to, actor=actor, reason=reason)
    deal.state = to


def note(session: Session, deal: Deal, *, actor: User | None, reason: str) -> None:
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


def create_deal(session: Session, *, user: User, deal_in: DealIn) -> Deal:
    match = session.get(Match, deal_in.match_id)
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
        description=deal_in.description,
        amount_minor=deal_in.amount_minor,
        currency=deal_in.currency,
        due_date=deal_in.due_date,
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
            reason=f"Deal opened for {amount_text(deal_in.amount_minor, deal_in.currency)}, "
            f"due {deal_in.due_date.isoformat()}",
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
    deal = locked(session, deal_id, user)
    if deal.received_minor > 0:
        raise InvalidTransition("Money has been received for this deal: an admin must refund it instead.")
    transition(session, deal, S.CANCELLED, actor=user, reason=reason or "Cancelled")
    session.commit()
    business.record_deal_transition(S.CANCELLED.value)
    return deal


def settle(session: Session, *, deal_id: int, admin: User, settings: Settings) -> Deal:
    """Pay the partner out: the platform keeps its fee, which is recorded as revenue."""
    deal = locked(session, deal_id, admin)
    fee = percent_of(deal.amount_minor, settings.platform_fee_percent)
    transition(
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
    deal = locked(session, deal_id, admin)
    transition(
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
    deal = locked(session, deal_id, admin)
    if deal.excess_minor == 0:
        raise Conflict("This deal has no over-payment waiting to be refunded.")
    note(
        session,
        deal,
        actor=admin,
        reason=f"Over-payment of {amount_text(deal.excess_minor, deal.currency)} refunded to the SME",
    )
    deal.received_minor -= deal.excess_minor
    deal.excess_minor = 0
    session.commit()
    return deal


def deals_by_state(connection: Connection) -> dict[str, int]:
    """How many deals are in each state of TRANSITIONS (the abb_deals gauge); 0 before the table exists."""
    counts = {state.value: 0 for state in TRANSITIONS}
    if inspect(connection).has_table("deals"):
        for state, count in connection.execute(text("SELECT state, COUNT(*) FROM deals GROUP BY state")):
            counts[str(state)] = int(count)
    return counts

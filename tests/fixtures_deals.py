"""Deal fixtures: connected parties, deals in a given state, the Stripe double, recorded background work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.deals import payments
from abb.matching.models import Match, MatchStatus
from tests.factories import auth, make_partner, make_sme, make_user
from tests.stripe_double import StripeDouble

WEBHOOK_SECRET = "whsec_test_double_secret"  # a test value, not a real secret


@dataclass
class Parties:
    sme_user: User
    partner_user: User
    sme: SmeProfile
    partner: PartnerProfile
    match: Match


def connect(session: Session, status: MatchStatus = MatchStatus.CONNECTED) -> Parties:
    """An SME and a partner with a match between them in `status` (connected by default)."""
    sme_user = make_user(session, Role.SME)
    partner_user = make_user(session, Role.PARTNER)
    sme = make_sme(session, owner=sme_user)
    partner = make_partner(session, owner=partner_user)
    match = Match(
        sme_id=sme.id,
        partner_id=partner.id,
        score=80.0,
        factors={"sector": 80.0},
        sme_explanation="Same sector",
        partner_explanation="Same sector",
        status=status,
    )
    session.add(match)
    session.commit()
    return Parties(sme_user, partner_user, sme, partner, match)


def due(days: int = 30) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def deal_body(match_id: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "match_id": match_id,
        "description": "Installation of two pasta lines in Nairobi",
        "amount": "1250.50",
        "currency": "EUR",
        "due_date": due(),
    }
    body.update(overrides)
    return body


def open_deal(client: TestClient, parties: Parties, **overrides: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/deals", json=deal_body(parties.match.id, **overrides), headers=auth(client, parties.partner_user)
    )
    assert response.status_code == 201, response.text
    deal: dict[str, Any] = response.json()
    return deal


def pay_by_bank(client: TestClient, parties: Parties, deal_id: int) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/deals/{deal_id}/pay", json={"provider": "bank_transfer"}, headers=auth(client, parties.sme_user)
    )
    assert response.status_code == 200, response.text
    paid: dict[str, Any] = response.json()
    return paid


@dataclass
class Background:
    """Work the deals service handed to the task queue, recorded instead of run."""

    retries: list[tuple[int, float]] = field(default_factory=list)
    failure_notices: list[int] = field(default_factory=list)


@pytest.fixture
def background(monkeypatch: pytest.MonkeyPatch) -> Background:
    recorded = Background()
    monkeypatch.setattr(
        payments,
        "enqueue_payment_retry",
        lambda _session, payment_id, *, delay: recorded.retries.append((payment_id, delay)),
    )
    monkeypatch.setattr(
        payments, "enqueue_failure_notice", lambda _session, deal_id: recorded.failure_notices.append(deal_id)
    )
    return recorded


@pytest.fixture(scope="session")
def stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()
    yield double
    double.close()

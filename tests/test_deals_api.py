"""Deals through the API: opening, reading, the transition table, and every refusal leaving data unchanged."""

from __future__ import annotations

from sqlalchemy import select

from abb.accounts.models import Role
from abb.deals.models import Deal, DealEvent, DealState
from abb.deals.service import TRANSITIONS
from abb.matching.models import MatchStatus
from abb.observability import business
from tests.factories import assert_problem, auth, db_snapshot, make_user
from tests.fixtures_deals import connect, deal_body, open_deal, pay_by_bank


def test_open_deal_stores_minor_units_and_history(client, session):
    parties = connect(session)
    before = business.DEALS_CREATED._value.get()
    deal = open_deal(client, parties, amount="1250.5", currency="KES")
    assert business.DEALS_CREATED._value.get() == before + 1
    assert deal["state"] == "draft"
    assert deal["amount"] == "1250.50" and deal["currency"] == "KES" and deal["outstanding"] == "1250.50"
    assert deal["sme_id"] == parties.sme.id and deal["partner_id"] == parties.partner.id
    stored = session.get(Deal, deal["id"])
    assert stored.amount_minor == 125050 and isinstance(stored.amount_minor, int)
    assert deal["payment_reference"].startswith("RF") and stored.payment_reference == deal["payment_reference"]
    [opened] = deal["history"]
    assert opened["from_state"] is None and opened["to_state"] == "draft"
    assert parties.partner_user.full_name in opened["by"] and "1250.50 KES" in opened["reason"]

    # Both parties see it, in their lists and by id.
    for user in (parties.sme_user, parties.partner_user):
        headers = auth(client, user)
        assert client.get(f"/api/v1/deals/{deal['id']}", headers=headers).json()["id"] == deal["id"]
        listed = client.get("/api/v1/deals", headers=headers).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == deal["id"]


def test_deal_list_filters_by_state_and_shows_only_own_deals(client, session):
    parties = connect(session)
    other = connect(session)
    first = open_deal(client, parties)
    open_deal(client, other)
    pay_by_bank(client, parties, first["id"])
    headers = auth(client, parties.sme_user)
    assert client.get("/api/v1/deals", headers=headers).json()["total"] == 1
    waiting = client.get("/api/v1/deals?state=awaiting_payment", headers=headers).json()
    assert [d["id"] for d in waiting["items"]] == [first["id"]]
    assert client.get("/api/v1/deals?state=draft", headers=headers).json()["total"] == 0
    admin = make_user(session, Role.ADMIN)
    assert client.get("/api/v1/deals", headers=auth(client, admin)).json()["total"] == 2


BAD_DEAL_FIELDS = [
    ({"amount": "-10.00"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "0.00"}, "amount"),
    ({"amount": "10.005"}, "amount"),  # three decimals for a two-decimal currency
    ({"amount": "1e400"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "twelve"}, "amount"),
    ({"amount": 12.5}, "amount"),  # JSON numbers would be floats: only decimal strings
    ({"currency": "GBP"}, "currency"),
    ({"currency": "eur"}, "currency"),
    ({"due_date": "2001-01-01"}, "due_date"),
    ({"description": ""}, "description"),
    ({"match_id": 0}, "match_id"),
    ({"surprise": True}, "surprise"),
]


def test_bad_deal_fields_are_422_and_change_nothing(client, session):
    parties = connect(session)
    headers = auth(client, parties.sme_user)
    before = db_snapshot(session)
    for changes, field in BAD_DEAL_FIELDS:
        response = client.post("/api/v1/deals", json={**deal_body(parties.match.id), **changes}, headers=headers)
        body = assert_problem(response, 422)
        assert any(e["field"] == field for e in body["errors"]), (changes, body)
    assert db_snapshot(session) == before


def test_deals_on_matches_that_are_not_connected_are_409(client, session):
    statuses = (MatchStatus.SUGGESTED, MatchStatus.ACCEPTED, MatchStatus.DECLINED)
    refused = [(p, auth(client, p.sme_user)) for p in (connect(session, status=s) for s in statuses)]
    before = db_snapshot(session)
    for parties, headers in refused:
        response = client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers)
        assert_problem(response, 409, "match-not-connected")
    assert db_snapshot(session) == before


def test_strangers_cannot_open_see_pay_or_cancel_a_deal(client, session):
    parties = connect(session)
    deal = open_deal(client, parties)
    stranger = make_user(session, Role.SME)
    headers = auth(client, stranger)
    partner = auth(client, parties.partner_user)
    before = db_snapshot(session)
    assert_problem(client.post("/api/v1/deals", json=deal_body(parties.match.id), headers=headers), 404)
    assert_problem(client.get(f"/api/v1/deals/{deal['id']}", headers=headers), 404)
    assert_problem(client.post(f"/api/v1/deals/{deal['id']}/pay", json={}, headers=headers), 404)
    assert_problem(client.post(f"/api/v1/deals/{deal['id']}/cancel", json={}, headers=headers), 404)
    assert client.get("/api/v1/deals", headers=headers).json()["total"] == 0
    # The partner is a party but does not pay; non-admins cannot settle.
    assert_problem(client.post(f"/api/v1/deals/{deal['id']}/pay", json={}, headers=partner), 403)
    assert_problem(client.post(f"/api/v1/admin/deals/{deal['id']}/settle", headers=partner), 403)
    assert_problem(client.get(f"/api/v1/deals/{deal['id']}"), 401)
    assert db_snapshot(session) == before


def test_paying_a_cancelled_deal_is_409_and_changes_nothing(client, session):
    parties = connect(session)
    deal = open_deal(client, parties)
    cancelled = client.post(
        f"/api/v1/deals/{deal['id']}/cancel",
        json={"reason": "Changed our plans"},
        headers=auth(client, parties.sme_user),
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    last = cancelled.json()["history"][-1]
    assert (last["from_state"], last["to_state"], last["reason"]) == ("draft", "cancelled", "Changed our plans")
    headers = auth(client, parties.sme_user)
    before = db_snapshot(session)
    body = assert_problem(
        client.post(f"/api/v1/deals/{deal['id']}/pay", json={}, headers=headers),
        409,
        "invalid-transition",
    )
    assert "cancelled" in body["detail"]
    assert db_snapshot(session) == before


def test_transition_table_refuses_everything_it_does_not_list(client, session):
    parties = connect(session)
    admin = make_user(session, Role.ADMIN)
    deal = open_deal(client, parties)
    admin_headers = auth(client, admin)
    before = db_snapshot(session)
    # draft -> settled and draft -> refunded are not in the table.
    assert_problem(client.post(f"/api/v1/admin/deals/{deal['id']}/settle", headers=admin_headers), 409)
    assert_problem(client.post(f"/api/v1/admin/deals/{deal['id']}/refund", json={}, headers=admin_headers), 409)
    assert db_snapshot(session) == before
    # Terminal states lead nowhere.
    assert all(not TRANSITIONS[s] for s in (DealState.SETTLED, DealState.CANCELLED, DealState.REFUNDED))


def test_paid_deal_settles_with_fee_and_cannot_be_cancelled(client, session):
    parties = connect(session)
    admin = make_user(session, Role.ADMIN)
    deal = open_deal(client, parties, amount="1000.00")
    paid = pay_by_bank(client, parties, deal["id"])
    admin_headers = auth(client, admin)
    reconciled = client.post(
        "/api/v1/admin/reconciliations",
        json={
            "reference": paid["instructions"]["reference"],
            "amount": "1000.00",
            "currency": "EUR",
            "bank_transaction_id": "TX-SETTLE-1",
        },
        headers=admin_headers,
    )
    assert reconciled.status_code == 201, reconciled.text
    sme_headers = auth(client, parties.sme_user)
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/deals/{deal['id']}/cancel", json={}, headers=sme_headers), 409)
    assert db_snapshot(session) == before
    revenue = business.REVENUE.labels(currency="EUR", source="deal_fee")._value.get()
    settled = client.post(f"/api/v1/admin/deals/{deal['id']}/settle", headers=admin_headers)
    assert settled.status_code == 200, settled.text
    assert settled.json()["state"] == "settled" and settled.json()["platform_fee"] == "20.00"  # 2 % default fee
    assert business.REVENUE.labels(currency="EUR", source="deal_fee")._value.get() == revenue + 20
    states = [
        (e.from_state, e.to_state) for e in session.scalars(select(DealEvent).where(DealEvent.deal_id == deal["id"]))
    ]
    assert [(f.value if f else None, t.value) for f, t in states] == [
        (None, "draft"),
        ("draft", "awaiting_payment"),
        ("awaiting_payment", "paid"),
        ("paid", "settled"),
    ]


def test_unknown_and_absurd_deal_ids(client, session):
    parties = connect(session)
    headers = auth(client, parties.sme_user)
    assert_problem(client.get("/api/v1/deals/999999", headers=headers), 404)
    assert_problem(client.get("/api/v1/deals/99999999999", headers=headers), 422)
    assert_problem(client.get("/api/v1/deals?state=bogus", headers=headers), 422)
    assert_problem(client.post("/api/v1/deals", json=deal_body(999_999), headers=headers), 404)


def test_openapi_declares_problem_answers_for_every_deal_and_payment_endpoint(client):
    spec = client.get("/openapi.json").json()
    prefixes = ("/api/v1/deals", "/api/v1/admin/deals", "/api/v1/admin/reconciliations", "/api/v1/payments")
    operations = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        if path.startswith(prefixes)
        for method, operation in item.items()
    ]
    assert len(operations) >= 9
    for path, method, operation in operations:
        problems = [
            status
            for status, answer in operation["responses"].items()
            if status.startswith("4") and "application/problem+json" in answer.get("content", {})
        ]
        assert problems, f"{method.upper()} {path} declares no problem answers"
    pay = spec["paths"]["/api/v1/deals/{deal_id}/pay"]["post"]
    assert {"409", "422"} <= set(pay["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in pay["parameters"])

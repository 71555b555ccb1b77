"""Bank transfers: references with check digits, payment instructions, reconciliation (exact, partial, over, twice)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from abb.accounts.models import Role
from abb.deals.money import Currency, format_amount, parse_amount, percent_of
from abb.deals.providers.bank_transfer import display_reference, new_reference, normalize_reference
from abb.observability import business
from tests.factories import assert_problem, auth, db_snapshot, make_user
from tests.fixtures_deals import connect, open_deal, pay_by_bank


def test_references_carry_iso_11649_check_digits_that_catch_typos():
    references = {new_reference() for _ in range(200)}
    assert len(references) == 200
    for reference in list(references)[:20]:
        assert normalize_reference(display_reference(reference).lower()) == reference
        shown = display_reference(reference)
        assert shown.startswith("RF") and " " in shown and len(reference) == 14
        # Any single mistyped character is caught by the two check digits.
        body = reference[4:]
        wrong = reference[:4] + ("2" if body[0] != "2" else "3") + body[1:]
        with pytest.raises(ValueError, match="not a valid payment reference"):
            normalize_reference(wrong)


@pytest.mark.parametrize(
    ("text", "currency", "minor", "shown"),
    [
        ("1250.5", "EUR", 125050, "1250.50"),
        ("7", "TZS", 700, "7.00"),
        ("0.01", "ETB", 1, "0.01"),
        ("1E+3", "USD", 100000, "1000.00"),
    ],
)
def test_amounts_round_trip_through_minor_units(text, currency, minor, shown):
    assert parse_amount(text, Currency(currency)) == minor
    assert format_amount(minor, Currency(currency)) == shown


def test_percent_of_rounds_half_even_to_whole_minor_units():
    assert percent_of(125, Decimal("2")) == 2  # 2.5 -> 2
    assert percent_of(175, Decimal("2")) == 4  # 3.5 -> 4


def _reconcile(client, headers, reference, amount, txn, currency="EUR"):
    return client.post(
        "/api/v1/admin/reconciliations",
        json={"reference": reference, "amount": amount, "currency": currency, "bank_transaction_id": txn},
        headers=headers,
    )


@pytest.fixture
def awaiting(client, session):
    """A 1000.00 EUR deal the SME has chosen to pay by bank transfer, and an admin's headers."""
    parties = connect(session)
    deal = open_deal(client, parties, amount="1000.00")
    paid = pay_by_bank(client, parties, deal["id"])
    admin = make_user(session, Role.ADMIN)
    return parties, paid, auth(client, admin)


def test_pay_by_bank_gives_reference_and_platform_bank_details(client, session, awaiting, settings):
    _parties, paid, _admin = awaiting
    assert paid["deal"]["state"] == "awaiting_payment" and paid["payment_id"] is None
    instructions = paid["instructions"]
    assert instructions["method"] == "bank_transfer"
    assert normalize_reference(instructions["reference"]) == paid["deal"]["payment_reference"]
    assert instructions["amount"] == "1000.00" and instructions["currency"] == "EUR"
    assert instructions["iban"] == settings.platform_bank_iban and instructions["bic"] == settings.platform_bank_bic
    assert paid["deal"]["history"][-1]["to_state"] == "awaiting_payment"


def test_exact_transfer_makes_the_deal_paid_for_both_parties(client, session, awaiting):
    parties, paid, admin = awaiting
    received_before = business.TRANSACTIONS.labels(provider="bank_transfer", currency="EUR")._value.get()
    paid_before = business.DEAL_TRANSITIONS.labels(state="paid")._value.get()
    # Typed as a person would: lower case, spaces.
    response = _reconcile(client, admin, paid["instructions"]["reference"].lower(), "1000.00", "KCB-20261127-0001")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "exact" and body["excess_to_refund"] == "0.00"
    assert body["deal"]["state"] == "paid" and body["deal"]["outstanding"] == "0.00"
    assert business.TRANSACTIONS.labels(provider="bank_transfer", currency="EUR")._value.get() == received_before + 1
    assert business.DEAL_TRANSITIONS.labels(state="paid")._value.get() == paid_before + 1
    for user in (parties.sme_user, parties.partner_user):
        seen = client.get(f"/api/v1/deals/{paid['deal']['id']}", headers=auth(client, user)).json()
        assert seen["state"] == "paid"
        assert "KCB-20261127-0001" in seen["history"][-1]["reason"]


def test_partial_transfers_are_recorded_until_the_amount_is_complete(client, session, awaiting):
    _parties, paid, admin = awaiting
    reference = paid["instructions"]["reference"]
    first = _reconcile(client, admin, reference, "400.00", "TX-PART-1")
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "partial"
    deal = first.json()["deal"]
    assert deal["state"] == "awaiting_payment" and deal["received"] == "400.00" and deal["outstanding"] == "600.00"
    assert "600.00 EUR outstanding" in deal["history"][-1]["reason"]
    listed = client.get("/api/v1/admin/reconciliations", headers=admin).json()
    assert [d["outstanding"] for d in listed if d["id"] == deal["id"]] == ["600.00"]
    second = _reconcile(client, admin, reference, "600.00", "TX-PART-2")
    assert second.json()["outcome"] == "exact" and second.json()["deal"]["state"] == "paid"


def test_over_payment_is_paid_and_flagged_for_refund(client, session, awaiting):
    _parties, paid, admin = awaiting
    response = _reconcile(client, admin, paid["instructions"]["reference"], "1250.00", "TX-OVER-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "overpaid" and body["excess_to_refund"] == "250.00"
    assert body["deal"]["state"] == "paid" and body["deal"]["excess_to_refund"] == "250.00"
    assert "over-payment of 250.00 EUR flagged for refund" in body["deal"]["history"][-1]["reason"]
    deal_id = body["deal"]["id"]
    refunded = client.post(f"/api/v1/admin/deals/{deal_id}/excess-refunded", headers=admin)
    assert refunded.status_code == 200, refunded.text
    deal = refunded.json()
    assert deal["excess_to_refund"] == "0.00" and deal["received"] == "1000.00" and deal["state"] == "paid"
    assert deal["history"][-1]["reason"] == "Over-payment of 250.00 EUR refunded to the SME"
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/admin/deals/{deal_id}/excess-refunded", headers=admin), 409)
    assert db_snapshot(session) == before


def test_reconciling_the_same_bank_transaction_twice_is_409(client, session, awaiting):
    _parties, paid, admin = awaiting
    reference = paid["instructions"]["reference"]
    assert _reconcile(client, admin, reference, "100.00", "TX-TWICE").status_code == 201
    before = db_snapshot(session)
    assert_problem(_reconcile(client, admin, reference, "100.00", "TX-TWICE"), 409, "already-reconciled")
    assert db_snapshot(session) == before


BAD_RECONCILIATIONS = [
    {"amount": "-5.00"},
    {"amount": "0.00"},
    {"amount": "10.001"},
    {"currency": "KES"},  # not the deal's currency
    {"currency": "XXX"},
    {"reference": "RF00 0000 0000 00"},  # check digits do not match
    {"reference": "not a reference"},
    {"bank_transaction_id": "has spaces"},
    {"bank_transaction_id": ""},
]


def test_bad_reconciliations_are_422_and_change_nothing(client, session, awaiting):
    _parties, paid, admin = awaiting
    good = {
        "reference": paid["instructions"]["reference"],
        "amount": "1000.00",
        "currency": "EUR",
        "bank_transaction_id": "TX-BAD",
    }
    before = db_snapshot(session)
    for change in BAD_RECONCILIATIONS:
        body = {**good, **change}
        response = _reconcile(
            client, admin, body["reference"], body["amount"], body["bank_transaction_id"], body["currency"]
        )
        assert_problem(response, 422)
    assert db_snapshot(session) == before


def test_reconciling_needs_an_admin_a_known_reference_and_a_waiting_deal(client, session, awaiting):
    parties, paid, admin = awaiting
    sme = auth(client, parties.sme_user)
    draft = open_deal(client, parties)
    before = db_snapshot(session)
    assert_problem(_reconcile(client, sme, paid["instructions"]["reference"], "1000.00", "TX-X"), 403)
    assert_problem(_reconcile(client, admin, new_reference(), "1000.00", "TX-X"), 404)
    assert_problem(_reconcile(client, admin, draft["payment_reference"], "1250.50", "TX-X"), 409, "invalid-transition")
    assert_problem(client.get("/api/v1/admin/reconciliations", headers=sme), 403)
    assert db_snapshot(session) == before

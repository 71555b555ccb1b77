"""The deal journey in the browser: the partner opens a deal, the SME pays by bank transfer, an admin
reconciles it, and both parties see it paid. Forms carry CSRF tokens and one-time idempotency keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from abb.accounts.models import Role
from abb.deals.models import Deal, DealEvent
from tests.factories import auth, make_user
from tests.fixtures_deals import connect, due, open_deal, pay_by_bank
from tests.test_web_pages import CSRF, sign_in

FORM_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
REFERENCE = re.compile(r"<dt>Reference \(write it exactly\)</dt><dd><code>([^<]+)</code>")


@contextmanager
def browser(app, user) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        assert sign_in(client, user.email).status_code == 303
        yield client


def _form_tokens(client: TestClient, path: str) -> tuple[str, str | None]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    key = FORM_KEY.search(page.text)
    return CSRF.search(page.text).group(1), key.group(1) if key else None


def test_open_pay_reconcile_and_both_see_paid(app, session):
    parties = connect(session)
    admin = make_user(session, Role.ADMIN)

    with browser(app, parties.partner_user) as partner:
        csrf, key = _form_tokens(partner, "/deals")
        created = partner.post(
            "/deals",
            data={
                "csrf_token": csrf,
                "idempotency_key": key,
                "match_id": str(parties.match.id),
                "description": "Cold-chain distribution in Mombasa",
                "amount": "4800.00",
                "currency": "EUR",
                "due_date": due(20),
            },
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        deal_path = created.headers["location"]
        assert re.fullmatch(r"/deals/\d+", deal_path)
        detail = partner.get(deal_path).text
        assert 'data-state="draft"' in detail and "Pay by bank transfer" not in detail  # the SME pays

    with browser(app, parties.sme_user) as sme:
        assert "Cold-chain distribution in Mombasa" in sme.get("/deals").text
        csrf, key = _form_tokens(sme, deal_path)
        pay_form = {"csrf_token": csrf, "idempotency_key": key}
        paid = sme.post(f"{deal_path}/pay", data=pay_form, follow_redirects=False)
        assert paid.status_code == 303 and paid.headers["location"] == deal_path
        # A double-clicked form (same key) has no second effect and lands on the same page.
        again = sme.post(f"{deal_path}/pay", data=pay_form, follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == deal_path
        detail = sme.get(deal_path).text
        assert 'data-state="awaiting_payment"' in detail
        assert "IT60X0542811101000000123456" in detail
        reference = REFERENCE.search(detail).group(1)
    deal_id = int(deal_path.rsplit("/", 1)[1])
    moves = select(func.count()).select_from(DealEvent).where(DealEvent.deal_id == deal_id)
    assert session.scalar(moves) == 2  # opened, then awaiting payment once

    with browser(app, admin) as back_office:
        page = back_office.get("/admin/reconcile")
        assert reference in page.text
        csrf = CSRF.search(page.text).group(1)
        form = {
            "csrf_token": csrf,
            "reference": reference,
            "amount": "4,800.00",  # as typed on an English page
            "currency": "EUR",
            "bank_transaction_id": "UNICREDIT-7781",
            "confirm": "yes",
        }
        done = back_office.post("/admin/reconcile", data=form)
        assert done.status_code == 200, done.text
        assert "Recorded: exact" in done.text
        twice = back_office.post("/admin/reconcile", data=form)
        assert twice.status_code == 409 and "already recorded" in twice.text

    for user in (parties.sme_user, parties.partner_user):
        with browser(app, user) as client:
            detail = client.get(deal_path).text
            assert 'data-state="paid"' in detail
            assert "Awaiting payment → Paid, awaiting settlement" in detail and "UNICREDIT-7781" in detail
    session.expire_all()
    assert session.get(Deal, deal_id).state.value == "paid"


def test_deal_pages_refuse_strangers_missing_csrf_and_non_admins(app, session):
    parties = connect(session)
    stranger = make_user(session, Role.PARTNER)
    with browser(app, parties.partner_user) as partner:
        csrf, key = _form_tokens(partner, "/deals")
        body = {
            "csrf_token": csrf,
            "idempotency_key": key,
            "match_id": str(parties.match.id),
            "description": "Too many decimals",
            "amount": "10.123",
            "currency": "EUR",
            "due_date": due(),
        }
        refused = partner.post("/deals", data=body)
        assert refused.status_code == 422 and "decimal places" in refused.text
        no_csrf = partner.post("/deals", data={**body, "csrf_token": "forged", "amount": "10.00"})
        assert no_csrf.status_code == 403
        created = partner.post("/deals", data={**body, "amount": "10.00"}, follow_redirects=False)
        deal_path = created.headers["location"]
        assert partner.get("/admin/reconcile").status_code == 403
    assert session.scalar(select(func.count()).select_from(Deal)) == 1
    with browser(app, stranger) as other:
        assert other.get(deal_path).status_code == 404
    with TestClient(app, base_url="https://testserver") as anonymous:
        assert anonymous.get("/deals", follow_redirects=False).headers["location"].startswith("/login")


def test_admin_records_an_over_payment_refund_from_the_deal_page(app, client, session):
    parties = connect(session)
    admin = make_user(session, Role.ADMIN)
    deal = open_deal(client, parties, amount="100.00")
    reference = pay_by_bank(client, parties, deal["id"])["instructions"]["reference"]
    over = client.post(
        "/api/v1/admin/reconciliations",
        json={"reference": reference, "amount": "130.00", "currency": "EUR", "bank_transaction_id": "TX-OVER-PAGE"},
        headers=auth(client, admin),
    )
    assert over.json()["excess_to_refund"] == "30.00"
    with browser(app, parties.sme_user) as sme:
        page = sme.get(f"/deals/{deal['id']}").text
        assert "Over-payment to refund" in page and "excess-refunded" not in page  # only admins record it
    with browser(app, admin) as back_office:
        page = back_office.get(f"/deals/{deal['id']}").text
        assert "Over-payment to refund" in page and "30.00 EUR" in page
        csrf = CSRF.search(page).group(1)
        unconfirmed = back_office.post(f"/deals/{deal['id']}/excess-refunded", data={"csrf_token": csrf})
        assert unconfirmed.status_code == 422
        done = back_office.post(f"/deals/{deal['id']}/excess-refunded", data={"csrf_token": csrf, "confirm": "yes"})
        assert done.status_code == 200 and "Over-payment of 30.00 EUR refunded to the SME" in done.text
        assert "Over-payment to refund" not in done.text

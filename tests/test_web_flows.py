"""Business flows as a person meets them: amounts typed their way, the fee shown before a deal is opened, each side
reading only its own payment text, readable states, confirmations before money moves, filters kept."""

from __future__ import annotations

import re

from sqlalchemy import select

from abb.accounts.models import Role
from abb.deals.models import Deal, DealState
from abb.matching.models import MatchStatus
from tests.factories import db_snapshot, make_user
from tests.fixtures_deals import connect, due, open_deal, pay_by_bank
from tests.test_deals_pages import browser
from tests.test_web_pages import CSRF

ITALIAN = {"Accept-Language": "it"}
FORM_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def test_an_italian_sme_opens_a_deal_typing_an_italian_amount_and_sees_the_fee_first(app, session):
    parties = connect(session)
    with browser(app, parties.sme_user) as sme:
        page = sme.get("/deals", headers=ITALIAN).text
        assert 'id="fee-notice"' in page and "commissione del 2 %" in page  # before any deal exists
        assert 'placeholder="1.250,50"' in page
        data = {
            "csrf_token": CSRF.search(page).group(1),
            "idempotency_key": FORM_KEY.search(page).group(1),
            "match_id": str(parties.match.id),
            "description": "Due linee di pasta a Nairobi",
            "currency": "EUR",
            "amount": "1.250,50",
            "due_date": due(),
        }
        created = sme.post("/deals", data=data, headers=ITALIAN, follow_redirects=False)
        assert created.status_code == 303, created.text
        deal = session.scalar(select(Deal))
        assert deal.amount_minor == 125050
        detail = sme.get(created.headers["location"], headers=ITALIAN).text
        assert "1.250,50\xa0€" in detail and "Bozza" in detail and "draft" not in detail.split("data-state")[0]


def test_an_unreadable_amount_gets_a_message_in_the_readers_words(app, session):
    parties = connect(session)
    with browser(app, parties.sme_user) as sme:
        page = sme.get("/deals", headers=ITALIAN).text
        before = db_snapshot(session)
        refused = sme.post(
            "/deals",
            data={
                "csrf_token": CSRF.search(page).group(1),
                "idempotency_key": FORM_KEY.search(page).group(1),
                "match_id": str(parties.match.id),
                "description": "Due linee di pasta",
                "currency": "EUR",
                "amount": "mille euro",
                "due_date": due(),
            },
            headers=ITALIAN,
        )
        assert refused.status_code == 422 and "Inserisci un importo come 1.250,50." in refused.text
        assert db_snapshot(session) == before


def test_each_side_reads_only_its_own_payment_text(app, client, session):
    parties = connect(session)
    deal = open_deal(client, parties)
    pay_by_bank(client, parties, deal["id"])
    with browser(app, parties.sme_user) as sme:
        page = sme.get(f"/deals/{deal['id']}").text
        assert "How to pay by bank transfer" in page and "How you are paid" not in page
        assert "Awaiting payment" in page
    with browser(app, parties.partner_user) as partner:
        page = partner.get(f"/deals/{deal['id']}").text
        assert "How to pay by bank transfer" not in page and "IBAN" not in page
        assert "How you are paid" in page


def test_settling_asks_for_confirmation_and_nothing_moves_without_it(app, client, session):
    parties = connect(session)
    deal = open_deal(client, parties)
    stored = session.get(Deal, deal["id"])
    stored.state = DealState.PAID
    stored.received_minor = stored.amount_minor
    session.commit()
    admin = make_user(session, Role.ADMIN)
    with browser(app, admin) as back_office:
        page = back_office.get(f"/deals/{deal['id']}").text
        assert 'name="confirm" value="yes" required' in page and "I confirm: pay €1,225.49 out" in page
        csrf = CSRF.search(page).group(1)
        before = db_snapshot(session)
        refused = back_office.post(
            f"/deals/{deal['id']}/settle", data={"csrf_token": csrf}, headers={"Accept": "text/html"}
        )
        assert refused.status_code == 422 and "Tick the box to confirm." in refused.text
        assert db_snapshot(session) == before
        done = back_office.post(f"/deals/{deal['id']}/settle", data={"csrf_token": csrf, "confirm": "yes"})
        assert done.status_code == 200 and "Settled" in done.text
    session.refresh(stored)
    assert stored.state is DealState.SETTLED


def test_the_matches_filter_is_kept_after_accepting(app, session):
    parties = connect(session, MatchStatus.SUGGESTED)
    with browser(app, parties.sme_user) as sme:
        page = sme.get("/matches?status=suggested&page=1").text
        assert '<option value="suggested" selected>Suggested</option>' in page
        token = CSRF.search(page).group(1)
        next_field = re.search(r'name="next" value="([^"]+)"', page).group(1)
        assert next_field == "/matches?status=suggested&amp;page=1"
        done = sme.post(
            f"/matches/{parties.match.id}/accept",
            data={"csrf_token": token, "next": "/matches?status=suggested&page=1"},
            follow_redirects=False,
        )
        assert done.headers["location"] == "/matches?status=suggested&page=1"
        elsewhere = sme.post(
            f"/matches/{parties.match.id}/decline",
            data={"csrf_token": token, "next": "https://evil.example/"},
            follow_redirects=False,
        )
        assert elsewhere.status_code == 409  # already decided; and never an outside redirect

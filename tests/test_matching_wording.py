"""A match's reasons are stored as facts and worded in the reader's language on pages and in e-mails; the API keeps
the stored English sentence; matches stored before the facts were kept show their stored text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from abb.core.i18n import use_locale
from abb.matching.models import Match, MatchStatus
from abb.matching.wording import explanation
from tests.factories import auth, make_partner, make_sme
from tests.test_deals_pages import browser
from tests.test_matching_api import owner

ITALIAN = {"Accept-Language": "it"}
ENGLISH = {"Accept-Language": "en"}
EVERY_FACTOR = [
    {"factor": "sector", "sectors": ["agri_food", "logistics"]},
    {"factor": "text", "terms": ["pasta", "packaging"]},
    {"factor": "country", "country": "KE", "city": "Nairobi"},
    {"factor": "language", "languages": ["en"]},
    {"factor": "size", "sme": "small", "partner": "medium"},
    {"factor": "completeness", "sme": 0.5, "partner": 0.8},
    {"factor": "activity", "sme": 0.2, "partner": 12.4},
]


@pytest.fixture
def suggested(client, session):
    """An agri-food SME targeting Kenya, recomputed through the API against a partner in Nairobi."""
    sme = make_sme(session)
    make_partner(session, organization_name="Savanna Foods", city="Nairobi")
    user = owner(session, sme)
    assert client.post("/api/v1/matches/recompute", headers=auth(client, user)).status_code == 200
    match = session.scalars(select(Match).where(Match.sme_id == sme.id)).unique().one()
    return user, match


def test_a_recomputed_match_keeps_its_reasons_as_facts(suggested):
    _user, match = suggested
    assert match.reasons is not None
    assert {"factor": "country", "country": "KE", "city": "Nairobi"} in match.reasons
    assert match.sme_explanation == explanation(match.reasons, reader_is_sme=True)  # the stored text is English


def test_an_italian_page_explains_the_match_in_italian(app, suggested):
    user, match = suggested
    with browser(app, user) as sme:
        italian_list = sme.get("/matches", headers=ITALIAN).text
        italian_detail = sme.get(f"/matches/{match.id}", headers=ITALIAN).text
        english_list = sme.get("/matches", headers=ENGLISH).text
    for page in (italian_list, italian_detail):
        assert "Entrambi lavorate nel settore trasformazione agroalimentare" in page
        assert "puntate su Kenya, loro sono a Nairobi" in page
        assert "you target Kenya" not in page
    assert (
        "Both work in agri-food processing" in english_list and "you target Kenya, they are in Nairobi" in english_list
    )


def test_the_api_explanation_stays_english_whatever_the_language(client, suggested):
    user, match = suggested
    headers = {**auth(client, user), **ITALIAN}
    listed = client.get("/api/v1/matches", headers=headers).json()["items"][0]
    one = client.get(f"/api/v1/matches/{match.id}", headers=headers).json()
    assert listed["explanation"] == one["explanation"] == match.sme_explanation
    assert "you target Kenya, they are in Nairobi" in one["explanation"]
    assert "reasons" not in one  # same shape as before


def test_a_match_stored_before_reasons_were_kept_shows_its_stored_text(app, session):
    from tests.fixtures_deals import connect

    parties = connect(session)  # stored with sme_explanation "Same sector" and no reasons
    assert parties.match.reasons is None
    with browser(app, parties.sme_user) as sme:
        page = sme.get(f"/matches/{parties.match.id}", headers=ITALIAN).text
    assert "Same sector" in page


@pytest.mark.parametrize("reader_is_sme", [True, False])
def test_every_factor_reads_in_both_languages(reader_is_sme):
    with use_locale("en"):
        english = [explanation([reason], reader_is_sme=reader_is_sme) for reason in EVERY_FACTOR]
    with use_locale("it"):
        italian = [explanation([reason], reader_is_sme=reader_is_sme) for reason in EVERY_FACTOR]
    assert all(it != en for it, en in zip(italian, english, strict=True)), list(zip(italian, english, strict=True))
    if reader_is_sme:
        assert english[4] == "Close in size (they are medium, you are small)."
        assert italian[4] == "Dimensioni vicine (loro: media, voi: piccola)."
        assert english[6] == "They were active 12 days ago." and italian[6] == "Sono stati attivi 12 giorni fa."
    else:
        assert english[2] == "They target Kenya, you are in Nairobi."
        assert italian[5] == "Il loro profilo è completo al 50%."
    assert english[0] == "Both work in agri-food processing and logistics and transport."
    assert italian[0] == "Entrambi lavorate nel settore trasformazione agroalimentare e logistica e trasporti."


def test_the_new_match_email_explains_in_the_recipients_language(session, smtp_server):
    from abb.notifications.service import send_new_match_emails
    from tests.conftest import make_settings
    from tests.fixtures_deals import connect

    mailbox, port = smtp_server
    parties = connect(session, MatchStatus.SUGGESTED)
    parties.match.reasons = [{"factor": "country", "country": "KE", "city": "Nairobi"}]
    parties.sme_user.locale = "it"
    session.commit()
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
    assert send_new_match_emails(session, match_ids=[parties.match.id], settings=settings) == 2
    by_address = {mail["To"]: mail.get_content() for mail in mailbox.messages}
    assert "Puntate su Kenya, loro sono a Nairobi." in by_address[parties.sme_user.email]
    assert "They target Kenya, you are in Nairobi." in by_address[parties.partner_user.email]


def test_a_suggestion_stored_without_reasons_gets_them_at_its_next_recompute(client, session, suggested):
    user, match = suggested
    stored_text = match.sme_explanation
    match.reasons = None
    session.commit()
    assert client.post("/api/v1/matches/recompute", headers=auth(client, user)).status_code == 200
    session.refresh(match)
    assert match.reasons and match.sme_explanation == stored_text

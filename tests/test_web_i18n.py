"""Italian and English: the catalog covers every page string, the language is chosen and switched, money, amounts,
dates and times read the reader's way, and the API stays English."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import abb
from abb.accounts.models import Role
from abb.core.i18n import (
    AmountFormatError,
    format_money,
    format_when,
    negotiate,
    parse_localized_decimal,
    translations,
    use_locale,
)
from abb.web.i18n import STATE_LABELS, taxonomy_strings
from tests.factories import make_partner, make_user
from tests.test_web_pages import CSRF, sign_in

PACKAGE = Path(abb.__file__).parent
CATALOG = PACKAGE / "locale" / "it" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _italian_catalog() -> dict[str, object]:
    with CATALOG.open("rb") as source:
        catalog = read_po(source, locale="it")
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id and "fuzzy" not in m.flags}


def _extracted(folder: str, method: str) -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PACKAGE / folder, method_map=[(method, "jinja2" if "templates" in folder else "python")], keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.add(msgid)
    return found


def _untranslated(strings: set[str]) -> list[str]:
    catalog = _italian_catalog()
    return sorted(s for s in strings if not catalog.get(s) or (isinstance(catalog[s], tuple) and not all(catalog[s])))


def test_every_template_string_is_translated_in_the_catalog():
    strings = _extracted("web/templates", "**.html") | _extracted("notifications/templates", "**.txt")
    assert len(strings) > 250  # the extraction found the pages' strings (a broken extractor finds none)
    assert _untranslated(strings) == [], "run `make catalog` and translate these in messages.po"


def test_every_marked_python_string_and_vocabulary_name_is_translated():
    strings = _extracted(".", "**.py") | set(taxonomy_strings())
    strings |= {label for labels in STATE_LABELS.values() for label in labels.values()}
    assert _untranslated(strings) == []


def test_the_completeness_check_fails_on_a_string_missing_from_the_catalog():
    assert _untranslated({"Page not found", "A sentence nobody has translated yet"}) == [
        "A sentence nobody has translated yet"
    ]


def test_accept_language_with_qualities_picks_our_best_language():
    assert negotiate("fr;q=0.9, it-IT;q=0.8, en;q=0.5") == "it"
    assert negotiate("en-GB,it;q=0.9") == "en"
    assert negotiate("de, fr") is None
    assert negotiate("it;q=0, en") == "en"
    assert negotiate(None) is None


def test_money_reads_the_readers_way_with_one_function():
    assert format_money(125050, "EUR", locale="it") == "1.250,50\xa0€"
    assert format_money(125050, "EUR", locale="en") == "€1,250.50"
    assert format_money(250000, "KES", locale="en") == "KES\xa02,500.00"
    with use_locale("it"):
        assert format_money(14900, "EUR") == "149,00\xa0€"


@pytest.mark.parametrize(
    ("text", "locale", "value"),
    [
        ("1.250,50", "it", "1250.50"),
        ("1250,50", "it", "1250.50"),
        ("1250,50 €", "it", "1250.50"),
        ("1250.50", "it", "1250.50"),  # a machine-style amount pasted into an Italian form
        ("1.250", "it", "1250"),  # Italian grouping, not a decimal point
        ("1,250.50", "en", "1250.50"),
        ("1250.50", "en", "1250.50"),
    ],
)
def test_amounts_are_read_as_people_type_them(text, locale, value):
    assert parse_localized_decimal(text, locale=locale) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3.4.5", "12..5"])
def test_unreadable_amounts_are_refused(text):
    with pytest.raises(AmountFormatError):
        parse_localized_decimal(text, locale="it")


def test_times_are_shown_in_the_readers_time_zone():
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    with use_locale("it", "Africa/Nairobi"):
        assert format_when(moment) == "1 mag 2026, 15:00 (Africa/Nairobi)"
    with use_locale("en", "Europe/Rome"):
        assert format_when(moment) == "May 1, 2026, 2:00\u202fPM (Europe/Rome)"


def test_english_is_the_source_and_italian_is_compiled_from_the_po():
    assert translations("en").gettext("Page not found") == "Page not found"
    assert translations("it").gettext("Page not found") == "Pagina non trovata"


def test_pages_follow_accept_language_and_say_which_language_they_are_in(client):
    italian = client.get("/login", headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.8"})
    assert italian.status_code == 200
    assert '<html lang="it">' in italian.text and "<h1>Accedi</h1>" in italian.text
    assert italian.headers["content-language"] == "it"
    english = client.get("/login", headers={"Accept-Language": "de,en;q=0.5"})
    assert '<html lang="en">' in english.text and "<h1>Sign in</h1>" in english.text


def test_the_switch_on_every_page_changes_the_language_and_returns_to_the_same_page(client):
    page = client.get("/register?from=ad", headers={"Accept-Language": "en"})
    assert 'action="/language"' in page.text and 'value="it"' in page.text
    token = CSRF.search(page.text).group(1)
    switched = client.post(
        "/language", data={"csrf_token": token, "locale": "it", "next": "/register?from=ad"}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/register?from=ad"
    assert "abb_locale=it" in switched.headers["set-cookie"]
    again = client.get("/register", headers={"Accept-Language": "en"})  # the cookie wins over the browser
    assert "<h1>Crea un account</h1>" in again.text


def test_the_switch_never_redirects_to_another_site(client):
    token = CSRF.search(client.get("/login").text).group(1)
    switched = client.post(
        "/language", data={"csrf_token": token, "locale": "it", "next": "//evil.example/"}, follow_redirects=False
    )
    assert switched.headers["location"] == "/"


def test_a_signed_in_users_language_is_saved_and_wins(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    token = CSRF.search(client.get("/settings").text).group(1)
    client.post("/language", data={"csrf_token": token, "locale": "it", "next": "/dashboard"})
    session.refresh(user)
    assert user.locale == "it"
    client.cookies.delete("abb_locale")  # another device: only the account knows
    dashboard = client.get("/dashboard", headers={"Accept-Language": "en"})
    assert "Benvenuto" in dashboard.text and "I tuoi abbinamenti" in dashboard.text


def test_settings_save_the_time_zone_and_refuse_an_unknown_one(client, session):
    user = make_user(session, Role.PARTNER)
    make_partner(session, owner=user, country="TZ")
    sign_in(client, user.email)
    page = client.get("/settings")
    assert '<option value="Africa/Dar_es_Salaam" selected>' in page.text  # the company's country's zone
    token = CSRF.search(page.text).group(1)
    refused = client.post("/settings", data={"csrf_token": token, "locale": "en", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422 and "Choose a time zone from the list." in refused.text
    session.refresh(user)
    assert user.time_zone is None
    saved = client.post("/settings", data={"csrf_token": token, "locale": "it", "time_zone": "Europe/Rome"})
    assert saved.status_code == 200 and "Le impostazioni sono salvate." in saved.text
    session.refresh(user)
    assert (user.locale, user.time_zone) == ("it", "Europe/Rome")


def test_sectors_and_countries_are_translated_on_pages(client, session):
    user = make_user(session, Role.SME)
    make_partner(session, organization_name="Savanna Foods", country="KE", sectors=["coffee_tea"])
    sign_in(client, user.email)
    page = client.get("/partners", headers={"Accept-Language": "it"}).text
    assert "Savanna Foods" in page and "caffè e tè" in page and "Kenya" in page


def test_the_api_stays_english_whatever_the_browser_asks(client):
    response = client.get("/api/v1/matches", headers={"Accept-Language": "it"})
    assert response.status_code == 401 and response.json()["title"] == "Authentication required"
    assert "content-language" not in response.headers


def test_a_refusal_from_a_service_reads_in_the_readers_language(client, session):
    user = make_user(session, Role.SME)
    page = client.get("/login", headers={"Accept-Language": "it"})
    refused = client.post(
        "/login",
        data={"email": user.email, "password": "wrong-password-here", "csrf_token": CSRF.search(page.text).group(1)},
        headers={"Accept-Language": "it"},
    )
    assert refused.status_code == 401 and "E-mail o password sbagliata." in refused.text


def test_new_match_emails_are_written_in_the_recipients_language(session, smtp_server):
    from abb.matching.models import MatchStatus
    from abb.notifications.service import send_new_match_emails
    from tests.conftest import make_settings
    from tests.fixtures_deals import connect

    mailbox, port = smtp_server
    parties = connect(session, MatchStatus.SUGGESTED)
    parties.sme_user.locale = "it"
    session.commit()
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
    assert send_new_match_emails(session, match_ids=[parties.match.id], settings=settings) == 2
    by_address = {mail["To"]: mail for mail in mailbox.messages}
    italian = by_address[parties.sme_user.email]
    english = by_address[parties.partner_user.email]
    assert italian["Subject"] == "Un nuovo abbinamento su Africa Business Bridge"
    assert f"Buongiorno {parties.sme_user.full_name}," in italian.get_content()
    assert "Kenya" in italian.get_content() or "Tanzania" in italian.get_content() or "Etiopia" in italian.get_content()
    assert english["Subject"] == "A new match on Africa Business Bridge"
    assert "Italia" not in english.get_content() and "Italy" in english.get_content()

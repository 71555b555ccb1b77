"""Errors people can read: browsers get the site's error page in their language with a way back and each field's
problem in plain words; API clients keep problem+json; nothing changes on a refused request."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from abb.accounts.models import Role
from abb.app import create_app
from abb.core.database import Database
from abb.core.errors import Conflict, ServiceUnavailable, TooManyRequests, UnsupportedMediaType
from tests.conftest import bound_to
from tests.factories import assert_problem, auth, db_snapshot, make_sme, make_user
from tests.test_web_pages import CSRF, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml"}
ITALIAN = {**HTML, "Accept-Language": "it"}


def _raise(exc: Exception):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> None:
        raise exc

    return endpoint


@pytest.fixture
def failing_client(session, settings, engine):  # type: ignore[no-untyped-def]
    """An app with page routes that fail in each way a dependency or a limit can (real handlers render them)."""
    app = bound_to(session, create_app(settings, database=Database(engine=engine)))
    app.add_api_route("/boom/429", _raise(TooManyRequests("Slow down.")), include_in_schema=False)
    app.add_api_route("/boom/503", _raise(ServiceUnavailable("The database is busy.")), include_in_schema=False)
    app.add_api_route("/boom/415", _raise(UnsupportedMediaType("Only PDF.")), include_in_schema=False)
    app.add_api_route("/boom/409", _raise(Conflict("Already done.")), include_in_schema=False)
    app.add_api_route("/boom/500", _raise(RuntimeError("secret internals")), include_in_schema=False)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "status", "english", "italian"),
    [
        ("/boom/409", 409, "Not possible now", "Non possibile ora"),
        ("/boom/415", 415, "File type not accepted", "Tipo di file non accettato"),
        ("/boom/429", 429, "Too many attempts", "Troppi tentativi"),
        ("/boom/500", 500, "Something went wrong on our side", "Si è verificato un errore da parte nostra"),
        ("/boom/503", 503, "Temporarily unavailable", "Temporaneamente non disponibile"),
    ],
)
def test_browsers_get_an_error_page_in_their_language(failing_client, path, status, english, italian):
    page = failing_client.get(path, headers=HTML)
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")
    assert f"<h1>{english}</h1>" in page.text and 'href="/"' in page.text and "<nav" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
    italian_page = failing_client.get(path, headers=ITALIAN)
    assert italian_page.status_code == status and f"<h1>{italian}</h1>" in italian_page.text


def test_api_clients_keep_problem_json(failing_client):
    for path, status in (("/boom/429", 429), ("/boom/503", 503), ("/boom/500", 500)):
        response = failing_client.get(path, headers={"Accept": "application/json"})
        assert_problem(response, status)


def test_a_malformed_id_in_a_page_address_is_a_readable_page(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    page = client.get("/deals/abc", headers=HTML)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Please check what you entered</h1>" in page.text
    assert "<strong>Deal number</strong>: Enter a whole number." in page.text
    assert "Input should be" not in page.text  # no library wording
    italian = client.get("/deals/abc", headers=ITALIAN)
    assert "<strong>Numero dell&#39;accordo</strong>: Inserisci un numero intero." in italian.text
    api = client.get("/api/v1/deals/abc", headers=auth(client, user))
    assert_problem(api, 422, "validation-error")


def test_a_too_large_form_post_is_a_readable_page_and_changes_nothing(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    token = CSRF.search(client.get("/profile/edit").text).group(1)
    before = db_snapshot(session)
    page = client.post("/profile/edit", data={"csrf_token": token, "products": "x" * 2_000_000}, headers=ITALIAN)
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Troppo grande</h1>" in page.text
    assert db_snapshot(session) == before
    api = client.post("/api/v1/auth/login", content=b"{" + b" " * 2_000_000 + b"}")
    assert_problem(api, 413, "payload-too-large")


def test_a_missing_page_offers_the_way_back_to_where_the_visitor_came_from(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    page = client.get("/partners/424242", headers={**HTML, "Referer": "https://testserver/partners?sector=ict"})
    assert page.status_code == 404 and 'href="/partners?sector=ict"' in page.text
    elsewhere = client.get("/partners/424242", headers={**HTML, "Referer": "https://evil.example/x"})
    assert "evil.example" not in elsewhere.text


def test_form_fields_get_plain_messages_next_to_them_in_both_languages(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    form = client.get("/profile/edit", headers={"Accept-Language": "it"})
    token = CSRF.search(form.text).group(1)
    data = {
        "csrf_token": token,
        "company_name": "Bianchi Srl",
        "vat_number": "12345",
        "city": "Torino",
        "products": "Presses",
        "company_size": "small",
        "export_experience": "none",
    }
    refused = client.post("/profile/edit", data=data, headers={"Accept-Language": "it"})
    assert refused.status_code == 422
    assert 'id="vat_number-error" role="alert">Inserisci la partita IVA italiana: 11 cifre' in refused.text
    assert 'id="sectors-error" role="alert">Scegline almeno uno.</p>' in refused.text
    assert "String should match pattern" not in refused.text and "List should have" not in refused.text
    client.cookies.delete("abb_locale")
    english = client.post("/profile/edit", data=data, headers={"Accept-Language": "en"})
    assert 'role="alert">Enter the Italian VAT number: 11 digits, with or without IT in front.</p>' in english.text
    assert 'id="sectors-error" role="alert">Choose at least one.</p>' in english.text


def test_an_expired_form_is_a_readable_403_page(client, session):
    user = make_user(session, Role.SME)
    make_sme(session, owner=user)
    sign_in(client, user.email)
    page = client.post("/matches/recompute", data={"csrf_token": "stale"}, headers=HTML)
    assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text
    assert "The form expired; reload the page and try again" in page.text

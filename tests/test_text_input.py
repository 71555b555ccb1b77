"""Control characters in any text input are a 422 at the edge, on SQLite and PostgreSQL alike (a NUL used to
reach psycopg and end in a 500), and a browser gets HTML pages for such refusals and for oversized bodies."""

from __future__ import annotations

import pytest

from abb.accounts.models import Role
from abb.core.text_input import control_in_json
from abb.uploads.router import MULTIPART_OVERHEAD
from tests.factories import assert_problem, auth, db_snapshot, make_user
from tests.test_web_pages import csrf, sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.mark.parametrize("path", ["/api/v1/partners", "/api/v1/smes", "/api/v1/courses"])
@pytest.mark.parametrize("term", ["a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x85b"])
def test_a_search_term_with_a_control_character_is_422(client, session, path, term):
    headers = auth(client, make_user(session, Role.ADMIN))
    body = assert_problem(client.get(path, params={"q": term}, headers=headers), 422, "validation-error")
    assert body["errors"] == [
        {
            "field": "q",
            "message": "Control characters (such as NUL) are not allowed in text.",
            "code": "control_character",
        }
    ]


def test_a_search_term_with_tabs_and_accents_is_still_a_search(client, session):
    headers = auth(client, make_user(session, Role.ADMIN))
    assert client.get("/api/v1/partners", params={"q": "caffè\tnairobi"}, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("payload_change", "field"),
    [
        ({"full_name": "a\u0000b"}, "full_name"),
        ({"full_name": "Ada\u009bLovelace"}, "full_name"),
        ({"email": "a\u0000@example.com"}, "email"),
        ({"nested\u0000key": "x"}, "body"),
    ],
)
def test_register_with_a_control_character_is_422_and_stores_nothing(client, session, payload_change, field):
    before = db_snapshot(session)
    payload = {"email": "nul@example.com", "password": "long-enough-password", "full_name": "Ada", "role": "sme"}
    payload.update(payload_change)
    body = assert_problem(client.post("/api/v1/auth/register", json=payload), 422, "validation-error")
    assert body["errors"][0]["field"] == field
    assert db_snapshot(session) == before


def test_text_with_line_breaks_is_accepted(client, session):
    payload = {"email": "lines@example.com", "password": "long-enough-password", "full_name": "Ada\r\nL", "role": "sme"}
    answer = client.post("/api/v1/auth/register", json=payload)
    # the name rules decide about line breaks; the edge check lets them through
    assert answer.status_code != 422 or answer.json()["errors"][0]["code"] != "control_character"


def test_a_control_character_in_the_path_is_422(client, session):
    assert_problem(client.get("/api/v1/partners/1%00"), 422, "validation-error")


def test_a_browser_form_with_a_nul_gets_an_html_page_and_nothing_is_stored(client, session):
    token = csrf(client, "/register")
    before = db_snapshot(session)
    form = {"full_name": "a\x00b", "email": "form@example.com", "password": "password123", "role": "sme"}
    answer = client.post("/register", data={**form, "csrf_token": token}, headers=BROWSER)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page" data-status="422"' in answer.text
    assert db_snapshot(session) == before


def test_a_directory_search_with_a_nul_is_an_html_422_page(client, session):
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303
    answer = client.get("/partners", params={"q": "a\x00b"}, headers=BROWSER)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page" data-status="422"' in answer.text


@pytest.mark.parametrize(
    "excess", [1, MULTIPART_OVERHEAD + 1024], ids=["refused-by-the-upload-rules", "by-the-body-limit"]
)
def test_an_oversized_browser_upload_is_an_html_page_not_json(client, session, settings, excess):
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303
    token = csrf(client, "/documents")
    too_big = b"%PDF-1.4\n" + b"0" * (settings.upload_max_bytes + excess)
    answer = client.post(
        "/documents", data={"csrf_token": token, "kind": "other"}, files={"file": ("big.pdf", too_big)}, headers=BROWSER
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in answer.text and "problem+json" not in answer.headers["content-type"]


def test_an_oversized_api_body_stays_problem_json(client, session, settings):
    answer = client.post("/api/v1/auth/register", content=b"{" + b" " * settings.max_body_bytes + b"}", headers=BROWSER)
    assert_problem(answer, 413, "payload-too-large")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"a": "plain"}', None),
        (b'{"a": "tab\\tand\\nline"}', None),
        (b'{"a": ["x", {"b": "y\\u0000"}]}', "a[1].b"),
        (b'"\\u0001"', "body"),
        (b'{"a": "\\\\u0000 is only text"}', None),
        (b'{"broken": ', None),
    ],
)
def test_control_in_json_names_the_field(body, field):
    assert control_in_json(body) == field

"""The browser journey on server-rendered pages: register, sign in, edit the profile, browse, sign out."""

from __future__ import annotations

import re

from abb.accounts.models import Role
from tests.factories import PASSWORD, db_snapshot, make_partner, make_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, "form has no CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str = "/dashboard"):
    token = csrf(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def test_register_then_create_profile_in_the_browser(client, session):
    token = csrf(client, "/register")
    response = client.post(
        "/register",
        data={
            "full_name": "Marco Bianchi",
            "email": "marco@bianchi-macchine.it",
            "password": "torino-presses-1920",
            "role": "sme",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/profile/edit"
    cookie = response.headers["set-cookie"]
    assert "abb_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie

    form = client.get("/profile/edit")
    assert form.status_code == 200 and '<label for="company_name">' in form.text
    token = CSRF.search(form.text).group(1)
    saved = client.post(
        "/profile/edit",
        data={
            "csrf_token": token,
            "company_name": "Bianchi Macchine Srl",
            "vat_number": "IT09876543210",
            "city": "Torino",
            "sectors": ["machinery", "agri_food"],
            "products": "Hydraulic presses",
            "target_countries": ["ET"],
            "company_size": "medium",
            "languages": ["it", "en"],
            "export_experience": "regular",
            "website": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    profile = client.get("/profile")
    assert (
        "Bianchi Macchine Srl" in profile.text and "industrial machinery" in profile.text and "Ethiopia" in profile.text
    )

    token = CSRF.search(client.get("/profile/edit").text).group(1)
    bad = client.post(
        "/profile/edit",
        data={
            "csrf_token": token,
            "company_name": "B",
            "city": "Torino",
            "sectors": ["machinery"],
            "products": "Hydraulic presses",
            "target_countries": ["ET"],
            "company_size": "medium",
            "languages": ["it"],
            "export_experience": "regular",
        },
    )
    assert bad.status_code == 422 and 'id="company_name-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert "Bianchi Macchine Srl" in client.get("/profile").text  # the failed edit changed nothing


def test_register_form_shows_field_errors(client, session):
    before = db_snapshot(session)
    token = csrf(client, "/register")
    page = client.post(
        "/register",
        data={"full_name": "X", "email": "not-an-email", "password": "password123", "role": "sme", "csrf_token": token},
    )
    assert page.status_code == 422 and 'id="email-error"' in page.text
    weak = client.post(
        "/register",
        data={
            "full_name": "X",
            "email": "x@example.com",
            "password": "password123",
            "role": "sme",
            "csrf_token": token,
        },
    )
    assert weak.status_code == 422 and 'id="password-error"' in weak.text and "too common" in weak.text
    assert db_snapshot(session) == before


def test_forms_without_csrf_token_are_refused(client, session):
    client.get("/login")  # sets the CSRF cookie
    before = db_snapshot(session)
    response = client.post(
        "/register",
        data={
            "full_name": "Eve",
            "email": "eve@example.com",
            "password": "long-enough-password-1",
            "role": "sme",
            "csrf_token": "forged",
        },
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 403 and "form expired" in response.text
    assert db_snapshot(session) == before
    api_style = client.post("/login", data={"email": "eve@example.com", "password": "x"})
    assert api_style.status_code == 403
    assert api_style.headers["content-type"].startswith("application/problem+json")


def test_sign_in_browse_and_sign_out(client, session):
    user = make_user(session, Role.SME)
    make_partner(session, organization_name="Rift Coffee Ltd", sectors=["coffee_tea"], city="Nakuru")
    signed_in = sign_in(client, user.email, next_path="/partners?sector=coffee_tea")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/partners?sector=coffee_tea"
    directory = client.get("/partners", params={"sector": "coffee_tea"})
    assert "Rift Coffee Ltd" in directory.text and "1 result" in directory.text
    assert client.get("/partners", params={"sector": "not-a-sector", "page": "x"}).status_code == 200
    token = CSRF.search(client.get("/dashboard").text).group(1)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    after = client.get("/dashboard", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_session_cookie_stops_working_after_sign_out(client, session):
    user = make_user(session, Role.PARTNER)
    response = sign_in(client, user.email)
    cookie = response.cookies.get("abb_session") or client.cookies.get("abb_session")
    token = CSRF.search(client.get("/dashboard").text).group(1)
    client.post("/logout", data={"csrf_token": token})
    client.cookies.set("abb_session", cookie)  # replaying the old cookie does not bring the session back
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_wrong_password_and_open_redirects(client, session):
    user = make_user(session, Role.SME)
    wrong = sign_in(client, user.email, password="not-the-password")
    assert wrong.status_code == 401 and "E-mail or password is wrong." in wrong.text
    evil = sign_in(client, user.email, next_path="//evil.example.com/steal")
    assert evil.status_code == 303 and evil.headers["location"] == "/dashboard"


def test_pages_need_sign_in_and_missing_profiles_are_404_pages(client, session):
    assert client.get("/profile", follow_redirects=False).headers["location"] == "/login?next=/profile"
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    missing = client.get("/partners/424242", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"

"""Passwords: changed on the settings page, reset by e-mail with a single-use, expiring link, and the reset form
never tells who has an account."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from abb.accounts.models import PasswordReset, Role
from abb.core.database import utcnow
from abb.notifications.service import send_password_reset_email
from tests.conftest import make_settings
from tests.factories import PASSWORD, db_snapshot, make_user
from tests.test_web_pages import CSRF, sign_in

NEW_PASSWORD = "kilimanjaro-sunrise-2027"


def _token(client, path: str) -> str:
    return CSRF.search(client.get(path).text).group(1)


def test_change_password_on_the_settings_page(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    token = _token(client, "/settings")

    def change(current: str, new: str, again: str | None = None):
        data = {"csrf_token": token, "current_password": current, "new_password": new}
        return client.post("/settings/password", data={**data, "new_password_again": again or new})

    before = db_snapshot(session)
    wrong = change("not-my-password", NEW_PASSWORD)
    assert wrong.status_code == 403 and "The current password is wrong." in wrong.text
    differ = change(PASSWORD, NEW_PASSWORD, "something-else-entirely")
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    weak = change(PASSWORD, "short")
    assert weak.status_code == 422 and "Use at least 10 characters." in weak.text
    assert db_snapshot(session) == before

    done = client.post(
        "/settings/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?changed=1"
    # Every session ended, this one too: the next page asks to sign in.
    assert client.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")
    assert sign_in(client, user.email, PASSWORD).status_code == 401
    assert sign_in(client, user.email, NEW_PASSWORD).status_code == 303


def test_the_reset_form_answers_the_same_for_unknown_addresses(client, session):
    user = make_user(session, Role.PARTNER)
    token = _token(client, "/password/forgot")
    known = client.post("/password/forgot", data={"csrf_token": token, "email": user.email})
    unknown = client.post("/password/forgot", data={"csrf_token": token, "email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(user.email, "ADDRESS") == unknown.text.replace("nobody@example.com", "ADDRESS")
    assert session.scalar(select(PasswordReset.user_id)) == user.id
    again = client.post("/password/forgot", data={"csrf_token": token, "email": user.email})
    assert again.status_code == 200
    assert len(session.scalars(select(PasswordReset)).all()) == 1  # a second request within the pause: no e-mail


def test_reset_by_email_works_once_and_ends_every_session(client, session, smtp_server):
    mailbox, port = smtp_server
    user = make_user(session, Role.SME, locale="it")
    sign_in(client, user.email)
    client.post("/password/forgot", data={"csrf_token": _token(client, "/password/forgot"), "email": user.email})
    reset_id = session.scalar(select(PasswordReset.id).where(PasswordReset.user_id == user.id))
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, public_base_url="https://abb.example")
    assert send_password_reset_email(session, reset_id=reset_id, settings=settings) is True

    (mail,) = mailbox.messages
    assert mail["To"] == user.email and mail["Subject"] == "Reimposta la tua password di Africa Business Bridge"
    body = mail.get_content()
    assert "Il link funziona una sola volta, per 60 minuti." in body
    link = re.search(r"https://abb\.example/password/reset\?token=(\S+)", body).group(1)
    stored = session.scalar(select(PasswordReset.token_hash).where(PasswordReset.id == reset_id))
    assert stored and link not in stored  # only a digest is stored

    form = client.get(f"/password/reset?token={link}")
    assert form.status_code == 200 and form.headers["referrer-policy"] == "no-referrer"
    csrf = CSRF.search(form.text).group(1)

    def reset(password: str, again: str | None = None):
        data = {"csrf_token": csrf, "token": link, "new_password": password, "new_password_again": again or password}
        return client.post("/password/reset", data=data, follow_redirects=False)

    assert reset("too-short").status_code == 422  # the link still works after a refused password
    done = reset(NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/login?changed=1"
    assert client.get("/dashboard", follow_redirects=False).status_code == 303  # the old session ended
    twice = reset("another-fine-password-99")
    assert twice.status_code == 422 and "invalid or has expired" in twice.text
    assert sign_in(client, user.email, NEW_PASSWORD).status_code == 303


def test_an_expired_or_made_up_link_is_refused_and_changes_nothing(client, session, smtp_server):
    mailbox, port = smtp_server
    user = make_user(session, Role.SME)
    client.post("/password/forgot", data={"csrf_token": _token(client, "/password/forgot"), "email": user.email})
    reset_id = session.scalar(select(PasswordReset.id).where(PasswordReset.user_id == user.id))
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
    send_password_reset_email(session, reset_id=reset_id, settings=settings)
    link = re.search(r"token=(\S+)", mailbox.messages[-1].get_content()).group(1)
    reset = session.get(PasswordReset, reset_id)
    reset.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    csrf = _token(client, "/password/forgot")
    before = db_snapshot(session)
    for token in (link, "made-up-token"):
        refused = client.post(
            "/password/reset",
            data={"csrf_token": csrf, "token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
        )
        assert refused.status_code == 422 and "invalid or has expired" in refused.text
    assert db_snapshot(session) == before
    assert sign_in(client, user.email, PASSWORD).status_code == 303


def test_a_newer_link_replaces_the_older_one(session, smtp_server):
    mailbox, port = smtp_server
    user = make_user(session, Role.SME)
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
    first, second = PasswordReset(user_id=user.id), PasswordReset(user_id=user.id)
    session.add_all([first, second])
    session.commit()
    send_password_reset_email(session, reset_id=first.id, settings=settings)
    send_password_reset_email(session, reset_id=second.id, settings=settings)
    session.refresh(first)
    assert first.used_at is not None and second.used_at is None and len(mailbox.messages) == 2

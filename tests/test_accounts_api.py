"""Accounts through the API: registration, sign-in, token rotation and revocation, admin actions."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta

import jwt
import pytest

from abb.accounts.models import Role
from abb.core.config import Settings
from abb.core.security import encode_jwt, hash_password, verify_password
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import PASSWORD, assert_problem, auth, db_snapshot, login, make_user
from tests.harness.serve import CHEAP_PASSWORD_HASHING

GOOD = {
    "email": "Giulia.Rossi@Example.IT ",
    "password": "olive-groves-of-puglia",
    "full_name": "Giulia Rossi",
    "role": "sme",
}


def test_new_passwords_are_hashed_at_the_configured_argon2_cost_and_any_cost_verifies():
    password = GOOD["password"]
    production = hash_password(password, settings=Settings(_env_file=None))
    assert production.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    cheap = hash_password(password, settings=make_settings())  # the suite's cost
    assert cheap.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    for made in (production, cheap):  # a hash is checked at the cost it was made with
        assert verify_password(made, password, settings=make_settings())
        assert not verify_password(made, password + "!", settings=Settings(_env_file=None))
    assert not verify_password(None, password, settings=make_settings())  # no account: refused after a dummy check


def test_hashing_lowers_the_priority_of_its_request_thread_once_and_never_of_the_main_thread():
    # A new process: this one's main thread has hashed already (the factories). The main thread runs the event
    # loop, a command or the suite, and what it starts would inherit a lower priority.
    main_thread = (
        "import os, threading\n"
        "from abb.core.config import Settings\n"
        "from abb.core.security import hash_password\n"
        "before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())\n"
        f"hash_password('a password', settings=Settings(_env_file=None, **{CHEAP_PASSWORD_HASHING!r}))\n"
        "print(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before)\n"
    )
    ran = subprocess.run([sys.executable, "-c", main_thread], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "0"
    settings = make_settings()
    seen: list[int] = []

    def request_thread() -> None:
        start = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        for _ in range(2):
            verify_password(None, GOOD["password"], settings=settings)
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - start)

    thread = threading.Thread(target=request_thread)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the hashing thread did not finish within 60 s"
    assert seen == [5, 5]  # lowered once, not again on the next password


def test_register_login_me(client):
    created = client.post("/api/v1/auth/register", json=GOOD)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "giulia.rossi@example.it"  # normalized
    assert "password" not in created.text and "hash" not in created.text
    tokens = login(client, "GIULIA.ROSSI@example.it", GOOD["password"])
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["role"] == "sme"


def test_register_twice_is_409_and_changes_nothing(client, session):
    assert client.post("/api/v1/auth/register", json=GOOD).status_code == 201
    before = db_snapshot(session)
    again = client.post("/api/v1/auth/register", json={**GOOD, "email": "giulia.rossi@example.it"})
    assert_problem(again, 409, "conflict")
    assert db_snapshot(session) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short1"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "qwertyuiop"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "admin"}, "role"),
        ({"full_name": ""}, "full_name"),
        ({"role": 7}, "role"),
    ],
)
def test_register_rejects_bad_fields_by_name(client, session, changes, field):
    before = db_snapshot(session)
    body = assert_problem(client.post("/api/v1/auth/register", json={**GOOD, **changes}), 422)
    assert field in body["detail"]
    assert any(e["field"] == field for e in body["errors"])
    assert db_snapshot(session) == before


def test_unknown_field_and_malformed_json_and_wrong_content(client, session):
    before = db_snapshot(session)
    body = assert_problem(client.post("/api/v1/auth/register", json={**GOOD, "is_admin": True}), 422)
    assert body["errors"][0]["field"] == "is_admin"
    assert_problem(
        client.post("/api/v1/auth/register", content=b'{"email": ', headers={"Content-Type": "application/json"}),
        400,
        "malformed-json",
    )
    assert_problem(
        client.post("/api/v1/auth/register", content=b"[1,2]", headers={"Content-Type": "application/json"}), 422
    )
    assert_problem(
        client.post("/api/v1/auth/register", content=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400
    )
    assert db_snapshot(session) == before


def test_oversized_body_is_413(client, session):
    before = db_snapshot(session)
    huge = {**GOOD, "full_name": "x" * 2_000_000}
    assert_problem(client.post("/api/v1/auth/register", json=huge), 413, "payload-too-large")
    assert db_snapshot(session) == before


def test_wrong_password_and_unknown_user_look_the_same(client, session):
    user = make_user(session)
    wrong = assert_problem(
        client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope-nope"}), 401
    )
    unknown = assert_problem(
        client.post("/api/v1/auth/login", json={"email": "ghost@example.com", "password": "x"}), 401
    )
    assert wrong["detail"] == unknown["detail"]
    assert "nope-nope-nope" not in str(wrong)


def test_missing_expired_and_tampered_tokens_are_401(client, session):
    user = make_user(session)
    assert_problem(client.get("/api/v1/me"), 401, "unauthorized")
    expired = encode_jwt(
        {"sub": str(user.id), "typ": "access", "ver": 0}, secret=TEST_SECRET, lifetime=timedelta(seconds=-5)
    )
    assert (
        "expired"
        in assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}), 401)["detail"]
    )
    good = login(client, user.email)["access_token"]
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {tampered}"}), 401)
    forged = jwt.encode({"sub": str(user.id), "typ": "access", "ver": 0, "iat": 0, "exp": 4102444800}, "x" * 40)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)


def test_refresh_rotates_and_reuse_revokes_the_family(client, session):
    user = make_user(session)
    first = login(client, user.email)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    # The old token comes back: the whole family, including the new token, is revoked.
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": second_tokens["refresh_token"]}), 401)
    # Another sign-in is a separate family and still works.
    other = login(client, user.email)
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_logout_revokes_refresh_token(client, session):
    user = make_user(session)
    tokens = login(client, user.email)
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert_problem(client.post("/api/v1/auth/logout", json={"refresh_token": "garbage"}), 401)


def test_password_change_revokes_everything(client, session):
    user = make_user(session)
    tokens = login(client, user.email)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    before = db_snapshot(session)
    assert_problem(
        client.post(
            "/api/v1/auth/password",
            json={"current_password": "wrong-one-here", "new_password": "brand-new-secret-9"},
            headers=headers,
        ),
        403,
    )
    assert_problem(
        client.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password1"}, headers=headers
        ),
        422,
    )
    assert db_snapshot(session) == before
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand-new-secret-9"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert_problem(client.get("/api/v1/me", headers=headers), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert login(client, user.email, "brand-new-secret-9")["access_token"]


def test_admin_lists_searches_and_disables(client, session):
    admin = make_user(session, Role.ADMIN)
    target = make_user(session, Role.PARTNER, full_name="Amani Otieno")
    target_tokens = login(client, target.email)
    headers = auth(client, admin)
    found = client.get("/api/v1/admin/users", params={"q": "otieno"}, headers=headers).json()
    assert [u["id"] for u in found["items"]] == [target.id]
    partners = client.get("/api/v1/admin/users", params={"role": "partner", "limit": 100}, headers=headers).json()
    assert all(u["role"] == "partner" for u in partners["items"])
    disabled = client.post(f"/api/v1/admin/users/{target.id}/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert_problem(client.post(f"/api/v1/admin/users/{target.id}/disable", headers=headers), 409)
    assert_problem(client.get("/api/v1/me", headers={"Authorization": f"Bearer {target_tokens['access_token']}"}), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": target_tokens["refresh_token"]}), 401)
    assert_problem(client.post("/api/v1/auth/login", json={"email": target.email, "password": PASSWORD}), 403)
    assert_problem(client.post(f"/api/v1/admin/users/{admin.id}/disable", headers=headers), 409)
    assert_problem(client.post("/api/v1/admin/users/999999/disable", headers=headers), 404)
    assert_problem(client.post("/api/v1/admin/users/99999999999999/disable", headers=headers), 422)


def test_only_admins_reach_admin_endpoints_and_create_admins(client, session):
    sme = make_user(session, Role.SME)
    headers = auth(client, sme)
    before = db_snapshot(session)
    assert_problem(client.get("/api/v1/admin/users", headers=headers), 403, "forbidden")
    new_admin = {**GOOD, "email": "second.admin@example.com", "role": "admin"}
    assert_problem(client.post("/api/v1/admin/users", json=new_admin, headers=headers), 403)
    assert db_snapshot(session) == before
    admin = make_user(session, Role.ADMIN)
    created = client.post("/api/v1/admin/users", json=new_admin, headers=auth(client, admin))
    assert created.status_code == 201 and created.json()["role"] == "admin"


def test_pagination_limits(client, session):
    admin = make_user(session, Role.ADMIN)
    headers = auth(client, admin)
    assert_problem(client.get("/api/v1/admin/users", params={"limit": 101}, headers=headers), 422)
    assert_problem(client.get("/api/v1/admin/users", params={"offset": -1}, headers=headers), 422)
    assert_problem(client.get("/api/v1/admin/users", params={"limit": "many"}, headers=headers), 422)
    page = client.get("/api/v1/admin/users", params={"limit": 1}, headers=headers).json()
    assert len(page["items"]) == 1 and page["total"] >= 1


def test_concurrent_first_requests_with_one_token_all_succeed(tmp_path):
    """Racing activity stamps on SQLite ("database is locked") must not turn into 500s."""
    import concurrent.futures

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session as OrmSession

    from abb.app import create_app
    from abb.core.database import Database
    from abb.core.migrate import upgrade
    from tests.conftest import make_settings

    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'race.sqlite3'}")
    database = Database(settings)
    with database.engine.begin() as conn:
        upgrade(connection=conn)
    with OrmSession(database.engine, expire_on_commit=False) as setup:
        user = make_user(setup)
    with TestClient(create_app(settings, database=database), base_url="https://testserver") as client:
        headers = auth(client, user)
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: client.get("/api/v1/me", headers=headers).status_code, range(64)))
    database.dispose()
    assert statuses == [200] * 64

"""The security event log and its tamper-evident audit chain (issue 15)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from abb.accounts.models import Role
from abb.core.migrate import upgrade
from abb.security.audit import AuditWriter, SecurityEvent, append, verify, verify_and_record
from abb.security.models import AuditRecord, AuditVerification
from tests.factories import PASSWORD, auth, make_partner, make_user


def _events(n: int) -> list[SecurityEvent]:
    return [SecurityEvent("authentication", "login", "failure", user_id=i, source_ip="203.0.113.7") for i in range(n)]


def test_sign_in_attempts_token_use_and_logout_are_events_with_ecs_fields(client, session, audit):
    user = make_user(session, Role.SME)
    wrong = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": "not-the-password"},
        headers={"User-Agent": "attack-tool/1.0", "X-Request-ID": "req-wrong-1"},
    )
    assert wrong.status_code == 401
    tokens = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}).json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    client.post("/api/v1/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]})

    failure = audit.events("login", outcome="failure")[0]
    assert (failure.category, failure.user_id, failure.request_id) == ("authentication", user.id, "req-wrong-1")
    assert failure.user_agent == "attack-tool/1.0" and failure.source_ip == "testclient"
    assert json.loads(failure.details)["reason"] == "bad_password"
    assert user.email not in failure.details  # attempted addresses are pseudonymized
    assert [e.outcome for e in audit.events("login")] == ["failure", "success"]
    assert audit.events("token.refresh", outcome="success")
    assert audit.events("token.reuse", outcome="failure")[0].user_id == user.id
    assert audit.events("logout")  # logging out a revoked family is refused, the first logout is recorded
    assert verify(session).ok


def test_password_change_and_admin_actions_are_events(client, session, audit):
    admin = make_user(session, Role.ADMIN)
    target = make_user(session, Role.PARTNER)
    headers = auth(client, admin)
    assert client.post(f"/api/v1/admin/users/{target.id}/disable", headers=headers).status_code == 200
    change = client.post(
        "/api/v1/auth/password",
        headers=auth(client, target := make_user(session)),
        json={"current_password": "wrong-current-pw", "new_password": "a-new-long-passphrase-42"},
    )
    assert change.status_code == 403
    disabled = audit.events("admin.user_disable")[0]
    assert disabled.user_id == admin.id and disabled.entity_type == "users"
    assert audit.events("password.change", outcome="failure")[0].user_id == target.id


def test_data_modifications_record_actor_entity_and_changed_fields_without_personal_values(client, session, audit):
    owner = make_user(session, Role.PARTNER)
    profile = make_partner(session, owner=owner)
    headers = auth(client, owner)
    response = client.patch(
        f"/api/v1/partners/{profile.id}", headers=headers, json={"services": "Cold-chain logistics", "years_active": 13}
    )
    assert response.status_code == 200, response.text
    change = [e for e in audit.events("data.update", entity_type="partner_profiles") if e.user_id == owner.id][-1]
    details = json.loads(change.details)
    assert change.entity_id == str(profile.id)
    assert set(details["fields"]) == {"services", "years_active"}
    assert details["values"] == {"years_active": 13}  # numbers are kept; text is named, never copied
    assert "Cold-chain" not in change.details


def test_verify_finds_an_edited_row_and_a_deleted_row(session, audit):
    rows = append(session, _events(5))
    assert verify(session).ok
    table = AuditRecord.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # the trigger refuses; an attacker with the owner's rights would disable it first
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    session.execute(table.update().where(table.c.id == rows[2].id).values(outcome="success"))
    broken = verify(session)
    assert (broken.ok, broken.broken_at_id, broken.rows_checked) == (False, rows[2].id, 2)
    assert "hash" in broken.reason
    session.execute(table.update().where(table.c.id == rows[2].id).values(outcome="failure"))
    assert verify(session).ok
    session.execute(table.delete().where(table.c.id == rows[1].id))
    broken = verify(session)
    assert (broken.ok, broken.broken_at_id) == (False, rows[2].id)
    assert "missing" in broken.reason


def test_verify_finds_rows_removed_from_the_end_against_the_last_verification(session, audit):
    rows = append(session, _events(3))
    assert verify_and_record(session).ok
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    session.execute(AuditRecord.__table__.delete().where(AuditRecord.id == rows[-1].id))
    result = verify_and_record(session)
    assert not result.ok and result.broken_at_id == rows[-1].id
    assert session.query(AuditVerification).order_by(AuditVerification.id.desc()).first().ok is False


@pytest.mark.postgres
def test_the_writer_thread_stays_out_once_the_writer_writes_at_once(session):
    # A writer thread started under an interval keeps running after a reconfiguration to 0 (write at once, in
    # the middleware); it must not then write too, or two threads commit one session at the same moment.
    audit_writer = AuditWriter()
    audit_writer.configure(lambda: contextlib.nullcontext(session), 1.0)
    assert audit_writer.periodic_flush_due()
    audit_writer.configure(lambda: contextlib.nullcontext(session), 0)
    assert not audit_writer.periodic_flush_due()
    audit_writer.configure(lambda: contextlib.nullcontext(session), 1.0, quiet=lambda: False)
    assert not audit_writer.periodic_flush_due()


def test_postgresql_refuses_update_and_delete_of_audit_rows(postgresql_engine):
    with postgresql_engine.connect() as connection:
        outer = connection.begin()
        from sqlalchemy.orm import Session

        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        append(session, _events(1))
        for statement in ("UPDATE audit_log SET outcome = 'success'", "DELETE FROM audit_log"):
            nested = connection.begin_nested()
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            nested.rollback()
        outer.rollback()


def test_abb_audit_verify_command_reports_the_first_broken_link(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'abb.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        upgrade(connection=connection)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        append(session, _events(4))
    env = {**os.environ, "ABB_DATABASE_URL": url, "ABB_ENV": "test", "ABB_VAR_DIR": str(tmp_path)}
    abb = [sys.executable, "-m", "abb", "audit", "verify"]
    intact = subprocess.run(abb, env=env, capture_output=True, text=True, timeout=60)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 4 rows" in intact.stdout
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET user_id = 99 WHERE id = 3"))
    broken = subprocess.run(abb, env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "BROKEN at row 3" in broken.stdout
    engine.dispose()

"""The operator's security console pages: events filtered and paged, lockouts lifted with a confirmation, the
audit chain verified on demand, incidents opened, owned, acknowledged and resolved; bad input refused with
nothing changed; only administrators get in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text, update

from abb.accounts.models import Role
from abb.core.database import utcnow
from abb.security.events import emit
from abb.security.models import AuditRecord, Incident, IncidentEntry, IncidentStatus, Lockout, LockoutScope
from tests.factories import db_snapshot, make_user
from tests.test_web_pages import CSRF, sign_in

PAGES = [
    "/admin/security/events",
    "/admin/security/lockouts",
    "/admin/security/audit",
    "/admin/security/incidents",
]


def _admin(client, session):
    admin = make_user(session, Role.ADMIN, full_name="Giulia Rossi")
    assert sign_in(client, admin.email).status_code == 303
    return admin


def _token(client, path="/admin/security/incidents"):
    return CSRF.search(client.get(path).text).group(1)


def _lockout(session, key="victim@example.com"):
    lockout = Lockout(scope=LockoutScope.ACCOUNT, key=key, failures=6, locked_until=utcnow() + timedelta(minutes=10))
    session.add(lockout)
    session.commit()
    return lockout


def test_only_administrators_open_the_security_console(client, session, audit):
    lockout = _lockout(session)
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    for path in PAGES:
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text, path
    token = CSRF.search(client.get("/dashboard").text).group(1)
    before = db_snapshot(session)
    refused = client.post(f"/admin/security/lockouts/{lockout.id}/unlock", data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 403
    opened = client.post("/admin/security/incidents", data={"csrf_token": token, "title": "Not mine"})
    assert opened.status_code == 403
    assert db_snapshot(session) == before


def test_the_security_pages_are_in_the_one_admin_navigation(client, session, audit):
    _admin(client, session)
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text.count('class="admin-nav"') == 1, path
        assert f'href="{path}" aria-current="page"' in page.text, path


def test_security_events_are_filtered_by_user_ip_action_outcome_and_time(client, session, audit):
    admin = _admin(client, session)
    emit("authentication", "login", "failure", user_id=admin.id, source_ip="203.0.113.7", reason="password")
    emit("authentication", "login", "success", user_id=admin.id, source_ip="198.51.100.2")
    emit("iam", "lockout", "success", source_ip="203.0.113.7")
    events = audit.events()
    failure = next(e for e in events if e.source_ip == "203.0.113.7" and e.action == "login")

    page = client.get("/admin/security/events", params={"ip": "203.0.113.7", "action": "login", "outcome": "failure"})
    assert page.status_code == 200
    assert f'data-event-id="{failure.id}"' in page.text and page.text.count("data-event-id=") == 1
    by_user = client.get("/admin/security/events", params={"user": admin.id, "ip": "198.51.100.2"}).text
    assert by_user.count("data-event-id=") == 1 and "success" in by_user

    later = (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    earlier = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert (
        "No security events match these filters." in client.get("/admin/security/events", params={"since": later}).text
    )
    in_range = client.get("/admin/security/events", params={"since": earlier, "until": later, "ip": "203.0.113.7"})
    assert in_range.text.count("data-event-id=") == 2


def test_security_events_are_paged(client, session, audit):
    _admin(client, session)
    for n in range(30):
        emit("authentication", "login", "failure", source_ip="192.0.2.50", attempt=n)
    audit.events()
    first = client.get("/admin/security/events", params={"ip": "192.0.2.50"}).text
    second = client.get("/admin/security/events", params={"ip": "192.0.2.50", "page": 2}).text
    assert first.count("data-event-id=") == 25 and second.count("data-event-id=") == 5
    assert "Page 2 of 2" in second and 'rel="next"' in first


def test_a_malformed_event_filter_gets_a_422_page(client, session, audit):
    _admin(client, session)
    for params, message in [
        ({"user": "abc"}, "The user must be a user number."),
        ({"since": "yesterday"}, "From is not a date and time."),
        ({"outcome": "maybe"}, "Unknown outcome."),
        ({"since": "2026-12-02T10:00", "until": "2026-12-01T10:00"}, "must come before its end"),
    ]:
        page = client.get("/admin/security/events", params=params)
        assert page.status_code == 422 and message in page.text, params


def test_a_lockout_is_lifted_only_with_a_confirmation(client, session, audit):
    admin = _admin(client, session)
    lockout = _lockout(session)
    listed = client.get("/admin/security/lockouts").text
    assert "victim@example.com" in listed and f'data-lockout-id="{lockout.id}"' in listed
    token = _token(client, "/admin/security/lockouts")

    before = db_snapshot(session)
    unconfirmed = client.post(f"/admin/security/lockouts/{lockout.id}/unlock", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.text
    unknown = client.post("/admin/security/lockouts/999999/unlock", data={"csrf_token": token, "confirm": "yes"})
    assert unknown.status_code == 404 and "No such lockout." in unknown.text
    assert db_snapshot(session) == before

    done = client.post(
        f"/admin/security/lockouts/{lockout.id}/unlock",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/security/lockouts?done=unlocked"
    session.refresh(lockout)
    assert lockout.unlocked_at is not None
    after = client.get(done.headers["location"]).text
    assert "The lockout is lifted." in after and "Nothing is locked." in after
    assert audit.events("lockout.unlock", user_id=admin.id)


def test_the_audit_log_shows_the_last_verification_and_verifies_now(client, session, audit):
    _admin(client, session)
    emit("authentication", "login", "failure", source_ip="203.0.113.9")
    audit.events()
    page = client.get("/admin/security/audit").text
    assert 'data-state="never"' in page and "203.0.113.9" in page

    token = _token(client, "/admin/security/audit")
    verified = client.post("/admin/security/audit/verify", data={"csrf_token": token})
    assert verified.status_code == 200 and 'data-state="intact"' in verified.text

    first = session.scalar(select(AuditRecord).order_by(AuditRecord.id).limit(1))
    if session.get_bind().dialect.name == "postgresql":  # the trigger refuses; an attacker who owns it disables it
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    session.execute(update(AuditRecord).where(AuditRecord.id == first.id).values(action="tampered"))
    session.commit()
    broken = client.post("/admin/security/audit/verify", data={"csrf_token": token})
    assert 'data-state="broken"' in broken.text and f"Broken at row {first.id}" in broken.text


def test_an_incident_is_opened_owned_acknowledged_and_resolved(client, session, audit):
    admin = _admin(client, session)
    colleague = make_user(session, Role.ADMIN, full_name="Baraka Otieno")
    emit("authentication", "login", "failure", source_ip="203.0.113.7")
    event_id = audit.events("login")[-1].id
    token = _token(client)

    opened = client.post(
        "/admin/security/incidents",
        data={"csrf_token": token, "title": "Password spraying", "severity": "high", "event_ids": str(event_id)},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    incident = session.scalar(select(Incident).where(Incident.title == "Password spraying"))
    assert opened.headers["location"] == f"/admin/security/incidents/{incident.id}"
    assert incident.severity == "high" and incident.owner_id == admin.id
    listed = client.get("/admin/security/incidents", params={"state": "open"}).text
    assert f'data-incident-id="{incident.id}"' in listed

    detail = client.get(opened.headers["location"]).text
    assert "Password spraying" in detail and f'data-audit-id="{event_id}"' in detail
    assert 'data-state="open"' in detail

    path = f"/admin/security/incidents/{incident.id}"
    owned = client.post(path, data={"csrf_token": token, "owner_id": str(colleague.id), "note": "Checking the IPs"})
    assert owned.status_code == 200 and "Baraka Otieno" in owned.text and "Checking the IPs" in owned.text
    acknowledged = client.post(path, data={"csrf_token": token, "status": "acknowledged", "confirm": "yes"})
    assert 'data-state="acknowledged"' in acknowledged.text
    resolved = client.post(path, data={"csrf_token": token, "status": "resolved", "confirm": "yes"})
    assert 'data-state="resolved"' in resolved.text
    session.refresh(incident)
    assert incident.status is IncidentStatus.RESOLVED and incident.owner_id == colleague.id
    assert incident.acknowledged_at and incident.resolved_at
    kinds = session.scalars(select(IncidentEntry.kind).where(IncidentEntry.incident_id == incident.id)).all()
    assert kinds == ["status", "event", "owner", "note", "status", "status"]


def test_wrong_incident_input_is_refused_and_changes_nothing(client, session, audit):
    _admin(client, session)
    sme = make_user(session, Role.SME)
    token = _token(client)
    client.post("/admin/security/incidents", data={"csrf_token": token, "title": "Odd traffic"})
    incident = session.scalar(select(Incident).where(Incident.title == "Odd traffic"))
    path = f"/admin/security/incidents/{incident.id}"
    assert client.post(path, data={"csrf_token": token, "status": "resolved", "confirm": "yes"}).status_code == 200

    before = db_snapshot(session)
    wrong = client.post(path, data={"csrf_token": token, "status": "acknowledged", "confirm": "yes"})
    assert wrong.status_code == 409 and "cannot become acknowledged" in wrong.text
    for data, status, message in [
        ({"status": "open", "confirm": "yes"}, 422, "Choose a known state"),
        ({"owner_id": str(sme.id)}, 422, "The owner must be an administrator."),
        ({"event_ids": "1, two"}, 422, "Linked events must be event numbers"),
        ({"event_ids": "999999"}, 422, "No such security events: 999999."),
    ]:
        refused = client.post(path, data={"csrf_token": token, **data})
        assert refused.status_code == status and message in refused.text, data
    unknown = client.post("/admin/security/incidents/999999", data={"csrf_token": token, "note": "x"})
    assert unknown.status_code == 404 and "No such incident." in unknown.text
    assert client.get("/admin/security/incidents/999999").status_code == 404
    assert client.get("/admin/security/incidents", params={"state": "closed"}).status_code == 422
    for data in [{"title": "x"}, {"title": "Fine title", "severity": "apocalyptic"}]:
        assert client.post("/admin/security/incidents", data={"csrf_token": token, **data}).status_code == 422
    assert db_snapshot(session) == before


def test_a_change_of_state_needs_the_confirmation(client, session, audit):
    _admin(client, session)
    token = _token(client)
    client.post("/admin/security/incidents", data={"csrf_token": token, "title": "Probe from one address"})
    incident = session.scalar(select(Incident).where(Incident.title == "Probe from one address"))
    before = db_snapshot(session)
    page = client.post(f"/admin/security/incidents/{incident.id}", data={"csrf_token": token, "status": "resolved"})
    assert page.status_code == 422 and "Tick the box to confirm." in page.text
    assert db_snapshot(session) == before


def test_the_console_reads_in_italian(client, session, audit):
    _admin(client, session)
    it = {"Accept-Language": "it-IT,it;q=0.9"}
    assert "Eventi di sicurezza" in client.get("/admin/security/events", headers=it).text
    assert "Nessun blocco attivo." in client.get("/admin/security/lockouts", headers=it).text
    assert "Verifica ora" in client.get("/admin/security/audit", headers=it).text
    refused = client.get("/admin/security/events", params={"user": "abc"}, headers=it)
    assert refused.status_code == 422 and "L&#39;utente deve essere un numero di utente." in refused.text

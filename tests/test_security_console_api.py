"""Security incidents through the console API: open -> acknowledged -> resolved, with the timeline; wrong
transitions answered 409 with nothing changed; non-admins refused."""

from __future__ import annotations

from abb.accounts.models import Role
from tests.factories import assert_problem, auth, db_snapshot, make_user

BASE = "/api/v1/admin/security/incidents"


def test_an_incident_goes_open_acknowledged_resolved_and_refuses_wrong_transitions(client, session, audit):
    admin = auth(client, make_user(session, Role.ADMIN))
    opened = client.post(BASE, json={"title": "Credential stuffing", "severity": "high"}, headers=admin)
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    path = f"{BASE}/{opened.json()['id']}"

    acknowledged = client.patch(path, json={"status": "acknowledged", "note": "On it"}, headers=admin)
    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_at"]
    resolved = client.patch(path, json={"status": "resolved"}, headers=admin)
    body = resolved.json()
    assert resolved.status_code == 200 and body["status"] == "resolved" and body["resolved_at"]
    assert [(e["kind"], e["text"]) for e in body["timeline"]] == [
        ("status", "open"),
        ("status", "acknowledged"),
        ("note", "On it"),
        ("status", "resolved"),
    ]

    someone = auth(client, make_user(session))
    before = db_snapshot(session)
    for target in ("acknowledged", "resolved"):
        assert_problem(client.patch(path, json={"status": target}, headers=admin), 409)
    assert_problem(client.patch(path, json={"status": "open"}, headers=admin), 422)
    assert_problem(client.patch(f"{BASE}/999999", json={"note": "x"}, headers=admin), 404)
    assert_problem(client.patch(path, json={"note": "x"}, headers=someone), 403)
    assert db_snapshot(session) == before


def test_an_acknowledged_incident_cannot_be_acknowledged_again(client, session, audit):
    admin = auth(client, make_user(session, Role.ADMIN))
    path = f"{BASE}/{client.post(BASE, json={'title': 'Probe'}, headers=admin).json()['id']}"
    assert client.patch(path, json={"status": "acknowledged"}, headers=admin).status_code == 200
    before = db_snapshot(session)
    assert_problem(client.patch(path, json={"status": "acknowledged"}, headers=admin), 409)
    assert db_snapshot(session) == before

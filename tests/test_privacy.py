"""GDPR: export, correction, erasure (financial records kept), consents, the personal-data access log and
the retention job (issue 15, docs/compliance.md)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from abb.accounts.models import RefreshToken, Role, User
from abb.core.database import utcnow
from abb.deals.models import Deal
from abb.privacy import service
from abb.privacy.models import Consent
from abb.security.models import PersonalDataAccess
from abb.tasks.celery_app import celery_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, assert_problem, auth, db_snapshot, make_partner, make_sme, make_user
from tests.fixtures_deals import connect, open_deal
from tests.fixtures_uploads import PDF


def _upload(client, headers):
    response = client.post(
        "/api/v1/documents",
        headers=headers,
        data={"kind": "registration_certificate"},
        files={"file": ("haccp.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_export_holds_everything_about_the_user_and_no_secret(app, client, session, audit, local_storage):
    app.state.upload_storage = local_storage
    parties = connect(session)
    headers = auth(client, parties.sme_user)
    _upload(client, headers)
    client.post("/api/v1/me/consents", headers=headers, json={"purpose": "marketing", "granted": True})
    deal = open_deal(client, parties)
    exported = client.get("/api/v1/me/data", headers=headers)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    data = exported.json()["data"]
    assert data["account"]["email"] == parties.sme_user.email
    assert data["sme_profiles"][0]["vat_number"] == parties.sme.vat_number
    assert data["documents"][0]["original_name"] == "haccp.pdf"
    assert [c["purpose"] for c in data["consents"]] == ["marketing"]
    assert deal["id"] in [d["id"] for d in data["deals"]]
    assert data["refresh_tokens"] and data["security_events"][0]["action"] in {"privacy.export", "data.create", "login"}
    text = exported.text
    assert "password_hash" not in text and "token_hash" not in text and "storage_key" not in text
    assert audit.events("privacy.export")[0].user_id == parties.sme_user.id


def test_a_user_corrects_their_name(client, session):
    user = make_user(session)
    answer = client.patch("/api/v1/me", headers=auth(client, user), json={"full_name": "Giulia D'Angelo"})
    assert answer.status_code == 200 and answer.json()["full_name"] == "Giulia D'Angelo"
    assert_problem(client.patch("/api/v1/me", headers=auth(client, user), json={"email": "x@example.com"}), 422)


def test_erasure_anonymizes_the_person_keeps_financial_records_and_is_audited(
    app, client, session, audit, local_storage
):
    app.state.upload_storage = local_storage
    parties = connect(session)
    user = parties.sme_user
    headers = auth(client, user)
    _upload(client, headers)
    client.post("/api/v1/me/consents", headers=headers, json={"purpose": "terms", "granted": True})
    deal = open_deal(client, parties)
    before = db_snapshot(session)
    wrong = client.post(
        "/api/v1/me/erasure", headers=headers, json={"password": "not-mine-at-all", "confirm": "erase my account"}
    )
    assert_problem(wrong, 403)
    assert db_snapshot(session) == before
    email = user.email
    done = client.post(
        "/api/v1/me/erasure", headers=headers, json={"password": PASSWORD, "confirm": "erase my account"}
    )
    assert done.status_code == 204
    session.expire_all()
    erased = session.get(User, user.id)
    assert erased.email == f"erased-{user.id}@erased.invalid" and erased.full_name == "Erased user"
    assert not erased.is_active
    assert client.get("/api/v1/me", headers=headers).status_code in (401, 403)  # its tokens are gone
    assert client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
    assert local_storage.keys() == []  # the uploaded file is deleted
    assert session.get(Deal, deal["id"]) is not None  # kept for its legal retention period
    assert session.scalars(select(Consent).where(Consent.user_id == user.id)).all()  # proof of consent kept
    profile_text = session.execute(
        select(parties.sme.__class__.products).where(parties.sme.__class__.id == parties.sme.id)
    ).scalar()
    assert profile_text == ""
    erasure = audit.events("privacy.erasure", outcome="success")[0]
    assert erasure.user_id == user.id and email not in erasure.details


def test_consents_keep_purpose_version_and_time(client, session, settings):
    user = make_user(session)
    headers = auth(client, user)
    client.post("/api/v1/me/consents", headers=headers, json={"purpose": "terms", "granted": True})
    client.post(
        "/api/v1/me/consents", headers=headers, json={"purpose": "marketing", "granted": True, "version": "m-2"}
    )
    client.post(
        "/api/v1/me/consents", headers=headers, json={"purpose": "marketing", "granted": False, "version": "m-2"}
    )
    history = client.get("/api/v1/me/consents", headers=headers).json()
    assert [(c["purpose"], c["version"], c["granted"]) for c in history] == [
        ("terms", settings.terms_version, True),
        ("marketing", "m-2", True),
        ("marketing", "m-2", False),
    ]
    assert all(c["at"] for c in history)
    assert_problem(client.post("/api/v1/me/consents", headers=headers, json={"purpose": "spam", "granted": True}), 422)


def test_the_subject_and_admins_see_who_viewed_their_profile(client, session):
    sme = make_sme(session)
    viewer = make_user(session, Role.PARTNER)
    make_partner(session, owner=viewer)
    assert client.get(f"/api/v1/smes/{sme.id}", headers=auth(client, viewer)).status_code == 200
    owner_headers = auth(client, session.get(User, sme.owner_id))
    assert client.get(f"/api/v1/smes/{sme.id}", headers=owner_headers).status_code == 200  # one's own: not logged
    seen = client.get("/api/v1/me/data-access", headers=owner_headers).json()
    assert [(i["viewer_id"], i["what"], i["object_id"]) for i in seen["items"]] == [(viewer.id, "sme_profile", sme.id)]
    admin_view = client.get(
        f"/api/v1/admin/data-access?subject_user_id={sme.owner_id}",
        headers=auth(client, make_user(session, Role.ADMIN)),
    ).json()
    assert admin_view["total"] == 1
    assert_problem(client.get("/api/v1/admin/data-access", headers=owner_headers), 403)


def test_retention_deletes_and_anonymizes_what_is_past_its_period(session, audit, local_storage):
    settings = make_settings(
        retention_sessions_days=30, retention_data_access_log_days=365, retention_inactive_accounts_days=1095
    )
    old, recent = make_user(session), make_user(session)
    long_ago = utcnow() - timedelta(days=2000)
    session.execute(update(User).where(User.id == old.id).values(created_at=long_ago, last_seen_at=long_ago))
    session.add_all(
        [
            RefreshToken(
                user_id=recent.id, family_id="a" * 32, token_hash="1" * 64, expires_at=utcnow() - timedelta(days=31)
            ),
            RefreshToken(
                user_id=recent.id, family_id="b" * 32, token_hash="2" * 64, expires_at=utcnow() - timedelta(days=29)
            ),
            PersonalDataAccess(
                viewer_id=old.id,
                subject_user_id=recent.id,
                what="sme_profile",
                object_id=1,
                at=utcnow() - timedelta(days=400),
            ),
            PersonalDataAccess(viewer_id=old.id, subject_user_id=recent.id, what="sme_profile", object_id=1),
        ]
    )
    session.commit()
    counts = service.apply_retention(session, settings=settings, storage=local_storage)
    assert counts == {"sessions": 1, "data_access_log": 1, "inactive_accounts": 1}
    session.expire_all()
    assert session.get(User, old.id).email.endswith("@erased.invalid")
    assert session.get(User, recent.id).email.endswith("@example.com")
    assert [t.family_id for t in session.scalars(select(RefreshToken).where(RefreshToken.user_id == recent.id))] == [
        "b" * 32
    ]
    assert audit.events("privacy.retention")
    # run again: nothing left to do
    assert service.apply_retention(session, settings=settings, storage=local_storage) == {
        "sessions": 0,
        "data_access_log": 0,
        "inactive_accounts": 0,
    }


def test_retention_and_audit_verification_are_scheduled():
    import importlib

    for module in celery_app.conf.include:  # what a worker imports
        importlib.import_module(module)
    schedule = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {"abb.privacy.apply_retention", "abb.security.verify_audit_chain"} <= schedule
    assert {"abb.privacy.apply_retention", "abb.security.verify_audit_chain"} <= set(celery_app.tasks)

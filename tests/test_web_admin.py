"""The admin console: one navigation, users found and disabled or enabled with a reason (the API's service
function), companies, deals needing attention, courses with their enrollments, and the status page."""

from __future__ import annotations

from datetime import timedelta

from abb.accounts.models import Role
from abb.deals.models import Deal, DealState, ProviderName
from abb.training.models import Enrollment, EnrollmentStatus
from tests.factories import PASSWORD, auth, db_snapshot, make_partner, make_sme, make_user
from tests.fixtures_deals import connect, open_deal
from tests.fixtures_training import make_course
from tests.test_web_pages import CSRF, sign_in

ADMIN_PAGES = ["/admin", "/admin/users", "/admin/companies", "/admin/deals", "/admin/courses", "/admin/status"]


def _admin(client, session):
    admin = make_user(session, Role.ADMIN)
    assert sign_in(client, admin.email).status_code == 303
    return admin


def test_only_administrators_open_the_console(client, session):
    user = make_user(session, Role.SME)
    sign_in(client, user.email)
    for path in ADMIN_PAGES:
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text, path
    assert 'href="/admin"' not in client.get("/dashboard").text


def test_every_admin_page_has_the_one_admin_navigation(client, session):
    _admin(client, session)
    assert 'href="/admin">Administration</a>' in client.get("/dashboard").text
    for path in [*ADMIN_PAGES, "/admin/reconcile"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text.count('class="admin-nav"') == 1 and 'aria-current="page"' in page.text, path


def test_users_are_found_by_name_role_and_state(client, session):
    _admin(client, session)
    make_user(session, Role.PARTNER, full_name="Amina Wanjiru", email="amina@savanna.example")
    make_user(session, Role.SME, full_name="Marco Bianchi", email="marco@bianchi.example")
    found = client.get("/admin/users", params={"q": "wanjiru", "role": "partner", "state": "active"}).text
    assert "amina@savanna.example" in found and "marco@bianchi.example" not in found
    assert "1 user" in found
    none = client.get("/admin/users", params={"q": "wanjiru", "role": "sme"}).text
    assert "No users match these filters." in none


def test_disable_and_enable_with_a_reason_keeps_the_filter(client, session):
    admin = _admin(client, session)
    target = make_user(session, Role.PARTNER, full_name="Amina Wanjiru")
    page = client.get("/admin/users", params={"role": "partner"})
    token = CSRF.search(page.text).group(1)
    back = "/admin/users?role=partner"

    before = db_snapshot(session)
    no_reason = client.post(
        f"/admin/users/{target.id}/disable", data={"csrf_token": token, "confirm": "yes", "next": back}
    )
    assert no_reason.status_code == 422 and "Give a reason for disabling the account." in no_reason.text
    unconfirmed = client.post(
        f"/admin/users/{target.id}/disable", data={"csrf_token": token, "reason": "Fake company", "next": back}
    )
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.text
    assert db_snapshot(session) == before

    done = client.post(
        f"/admin/users/{target.id}/disable",
        data={"csrf_token": token, "reason": "Fake company", "confirm": "yes", "next": back},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{back}&done=disabled"
    session.refresh(target)
    assert not target.is_active and target.status_reason == "Fake company" and target.status_changed_at
    listed = client.get(done.headers["location"]).text
    assert "The account is disabled." in listed and "Reason: Fake company" in listed
    assert sign_in(client.__class__(client.app, base_url="https://testserver"), target.email).status_code == 403

    own = client.post(
        f"/admin/users/{admin.id}/disable", data={"csrf_token": token, "reason": "x", "confirm": "yes", "next": back}
    )
    assert own.status_code == 409 and "cannot disable their own account" in own.text

    enabled = client.post(
        f"/admin/users/{target.id}/enable",
        data={"csrf_token": token, "reason": "Documents checked", "confirm": "yes", "next": back},
        follow_redirects=False,
    )
    assert enabled.status_code == 303
    session.refresh(target)
    assert target.is_active and target.status_reason == "Documents checked"


def test_the_api_records_the_reason_through_the_same_service(client, session):
    admin = make_user(session, Role.ADMIN)
    target = make_user(session, Role.SME)
    response = client.post(
        f"/api/v1/admin/users/{target.id}/disable", json={"reason": "Chargeback fraud"}, headers=auth(client, admin)
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    session.refresh(target)
    assert target.status_reason == "Chargeback fraud"
    assert client.post(f"/api/v1/admin/users/{target.id}/enable", headers=auth(client, admin)).status_code == 200


def test_companies_are_listed_by_kind_and_search(client, session):
    _admin(client, session)
    make_sme(session, company_name="Bianchi Macchine Srl")
    make_partner(session, organization_name="Savanna Foods")
    smes = client.get("/admin/companies").text
    assert "Bianchi Macchine Srl" in smes and "Savanna Foods" not in smes
    partners = client.get("/admin/companies", params={"kind": "partner", "q": "savanna"}).text
    assert "Savanna Foods" in partners and "Bianchi Macchine Srl" not in partners


def test_deals_needing_attention_are_grouped(client, session):
    parties = connect(session)
    awaiting = open_deal(client, parties)
    waiting = session.get(Deal, awaiting["id"])
    waiting.state, waiting.provider = DealState.AWAITING_PAYMENT, ProviderName.BANK_TRANSFER
    failed = open_deal(client, parties, description="Second shipment of coffee roasters")
    session.get(Deal, failed["id"]).state = DealState.FAILED
    session.commit()
    _admin(client, session)
    page = client.get("/admin/deals", headers={"Accept-Language": "it"}).text
    awaiting_section = page[page.index('id="awaiting_reconciliation"') : page.index('id="awaiting_settlement"')]
    failed_section = page[page.index('id="failed"') : page.index('id="refund_owed"')]
    assert f'data-deal-id="{awaiting["id"]}"' in awaiting_section and "1.250,50" in awaiting_section
    assert f'data-deal-id="{failed["id"]}"' in failed_section and "Pagamento non riuscito" in failed_section
    home = client.get("/admin").text
    assert '<p class="big">1</p>' in home


def test_courses_show_their_enrollments_and_completion_uses_the_training_service(client, session):
    upcoming = make_course(session, title="Exporting to Ethiopia")
    course = make_course(session, title="Doing business in Kenya", capacity=3, starts_in=timedelta(hours=-1))
    learner = make_user(session, Role.SME, full_name="Giulia Rossi")
    enrollment = Enrollment(course_id=course.id, user_id=learner.id, status=EnrollmentStatus.ENROLLED)
    session.add(enrollment)
    session.commit()
    _admin(client, session)
    assert "Mark completed" not in client.get(f"/admin/courses/{upcoming.id}").text
    listing = client.get("/admin/courses").text
    assert "Doing business in Kenya" in listing and "1 of 3 taken" in listing
    detail = client.get(f"/admin/courses/{course.id}")
    assert "Giulia Rossi" in detail.text and "Enrolled" in detail.text
    token = CSRF.search(detail.text).group(1)
    done = client.post(f"/admin/enrollments/{enrollment.id}/complete", data={"csrf_token": token})
    assert done.status_code == 200 and "Completed" in done.text
    session.refresh(enrollment)
    assert enrollment.status == EnrollmentStatus.COMPLETED


def test_the_status_page_checks_dependencies_and_links_the_dashboards(client, session, app):
    _admin(client, session)
    page = client.get("/admin/status").text
    assert 'data-check="database"' in page and 'data-state="ok"' in page
    assert "Set ABB_GRAFANA_URL" in page
    app.state.settings = app.state.settings.model_copy(update={"grafana_url": "https://grafana.example/"})
    linked = client.get("/admin/status").text
    assert 'href="https://grafana.example/d/abb-operations"' in linked
    assert 'href="https://grafana.example/d/abb-business"' in linked


def test_a_disabled_users_password_still_checks_out_but_sign_in_is_refused(client, session):
    """Disabling ends every session of the account at once (the service revokes them)."""
    target = make_user(session, Role.SME)
    assert sign_in(client, target.email, PASSWORD).status_code == 303
    admin = make_user(session, Role.ADMIN)
    client.post(f"/api/v1/admin/users/{target.id}/disable", json={"reason": "x"}, headers=auth(client, admin))
    assert client.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")

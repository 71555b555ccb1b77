"""The authorization matrix, generated from the route table: every endpoint x role (anonymous, sme, partner,
admin, disabled) x ownership (the caller's own object, a stranger's). A route without an entry in EXPECTED
fails, so a new endpoint cannot ship without saying who may call it (issue 15).

"Denied" is 401/403, or a redirect to the sign-in page for a page; "allowed" is anything else (a 404 for an
empty list, a 409 or 422 for a request without a body: the caller got past authorization). Routes marked
`owned` are also called with a stranger's object, which must be denied (403, or 404 where ids are hidden).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from abb.accounts import service as accounts
from abb.accounts.models import RefreshToken, Role, User
from abb.app import create_app
from abb.core.database import Database
from abb.deals.schemas import DealIn
from abb.deals.service import create_deal
from abb.matching.models import Meeting, MeetingStatus, Side
from abb.security.models import Incident, IncidentStatus, Lockout, LockoutScope
from abb.training.models import Course, CourseKind, CourseLevel, Enrollment, EnrollmentStatus
from abb.uploads.models import Document, DocumentKind
from tests.conftest import bound_to, make_settings
from tests.factories import PASSWORD, make_user, partner_payload, sme_payload
from tests.fixtures_deals import connect

pytestmark = pytest.mark.slow

ROLES = ("anonymous", "sme", "partner", "admin", "disabled")
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset({"sme", "partner", "admin"})
ADMIN = frozenset({"admin"})
SME = frozenset({"sme"})
PARTNER = frozenset({"partner"})
PARTIES = frozenset({"sme", "partner"})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    owned: bool = False  # a stranger's object is denied to every allowed role but admin
    admin_sees_all: bool = True  # with owned: an admin may also reach other people's objects


def owner_only(roles: frozenset[str]) -> Rule:
    return Rule(roles, owned=True, admin_sees_all=False)


def owned(roles: frozenset[str]) -> Rule:
    return Rule(roles, owned=True)


EXPECTED: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): Rule(EVERYONE),
    ("GET", "/docs"): Rule(EVERYONE),
    ("GET", "/docs/oauth2-redirect"): Rule(EVERYONE),
    ("GET", "/health/live"): Rule(EVERYONE),
    ("GET", "/health/ready"): Rule(EVERYONE),
    ("POST", "/api/v1/rum"): Rule(EVERYONE),
    # No role opens it: its token, its port or (outside production) the address does (test_security_http).
    ("GET", "/metrics"): Rule(frozenset()),
    ("POST", "/api/v1/payments/webhooks/stripe"): Rule(EVERYONE),  # signed by Stripe, not by a user
    # accounts
    ("POST", "/api/v1/auth/register"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/login"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/refresh"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/logout"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/password"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me"): Rule(SIGNED_IN),
    ("GET", "/api/v1/admin/users"): Rule(ADMIN),
    ("POST", "/api/v1/admin/users"): Rule(ADMIN),
    ("POST", "/api/v1/admin/users/{user_id}/disable"): Rule(ADMIN),
    ("POST", "/api/v1/admin/users/{user_id}/enable"): Rule(ADMIN),
    # companies
    ("GET", "/api/v1/me/profile"): Rule(SIGNED_IN),
    ("GET", "/api/v1/smes"): Rule(SIGNED_IN),
    ("POST", "/api/v1/smes"): Rule(SME),
    ("GET", "/api/v1/smes/{profile_id}"): Rule(SIGNED_IN),
    ("PATCH", "/api/v1/smes/{profile_id}"): owner_only(SME),
    ("GET", "/api/v1/partners"): Rule(SIGNED_IN),
    ("POST", "/api/v1/partners"): Rule(PARTNER),
    ("GET", "/api/v1/partners/{profile_id}"): Rule(SIGNED_IN),
    ("PATCH", "/api/v1/partners/{profile_id}"): owner_only(PARTNER),
    # pages
    ("GET", "/"): Rule(EVERYONE),
    ("GET", "/register"): Rule(EVERYONE),
    ("POST", "/register"): Rule(EVERYONE),
    ("GET", "/login"): Rule(EVERYONE),
    ("POST", "/login"): Rule(EVERYONE),
    ("POST", "/logout"): Rule(EVERYONE),
    ("GET", "/dashboard"): Rule(SIGNED_IN),
    ("GET", "/profile"): Rule(SIGNED_IN),
    ("GET", "/profile/edit"): Rule(SIGNED_IN),
    ("POST", "/profile/edit"): Rule(SIGNED_IN),
    ("GET", "/partners"): Rule(SIGNED_IN),
    ("GET", "/smes"): Rule(SIGNED_IN),
    ("GET", "/partners/{profile_id}"): Rule(SIGNED_IN),
    ("GET", "/smes/{profile_id}"): Rule(SIGNED_IN),
    # matching
    ("GET", "/api/v1/matches"): Rule(SIGNED_IN),  # an admin's list is empty
    ("POST", "/api/v1/matches/recompute"): Rule(PARTIES),
    ("GET", "/api/v1/matches/{match_id}"): owner_only(PARTIES),
    ("POST", "/api/v1/matches/{match_id}/accept"): owner_only(PARTIES),
    ("POST", "/api/v1/matches/{match_id}/decline"): owner_only(PARTIES),
    ("POST", "/api/v1/matches/{match_id}/close"): owner_only(PARTIES),
    ("POST", "/api/v1/matches/{match_id}/meetings"): owner_only(PARTIES),
    ("GET", "/api/v1/meetings"): Rule(SIGNED_IN),
    # the partner proposed the meeting in `world`: the SME chooses the time
    ("POST", "/api/v1/meetings/{meeting_id}/accept"): owner_only(SME),
    ("GET", "/matches"): Rule(SIGNED_IN),
    ("POST", "/matches/recompute"): Rule(PARTIES),
    ("GET", "/matches/{match_id}"): owner_only(PARTIES),
    ("POST", "/matches/{match_id}/accept"): owner_only(PARTIES),
    ("POST", "/matches/{match_id}/decline"): owner_only(PARTIES),
    ("POST", "/matches/{match_id}/close"): owner_only(PARTIES),
    ("POST", "/matches/{match_id}/meetings"): owner_only(PARTIES),
    ("POST", "/meetings/{meeting_id}/accept"): owner_only(SME),
    ("GET", "/meetings"): Rule(SIGNED_IN),
    # training
    ("GET", "/api/v1/courses"): Rule(SIGNED_IN),
    ("POST", "/api/v1/courses"): Rule(ADMIN),
    ("GET", "/api/v1/courses/{course_id}"): Rule(SIGNED_IN),
    ("PATCH", "/api/v1/courses/{course_id}"): Rule(ADMIN),
    ("POST", "/api/v1/courses/{course_id}/enrollments"): Rule(SIGNED_IN),
    ("GET", "/api/v1/courses/{course_id}/enrollments"): Rule(ADMIN),
    ("GET", "/api/v1/enrollments"): Rule(SIGNED_IN),
    ("GET", "/api/v1/enrollments/{enrollment_id}"): owned(SIGNED_IN),
    ("POST", "/api/v1/enrollments/{enrollment_id}/cancel"): owned(SIGNED_IN),
    ("POST", "/api/v1/enrollments/{enrollment_id}/complete"): Rule(ADMIN),
    # Paying a held seat: only the enrolled person (an admin reconciles transfers instead).
    ("POST", "/api/v1/enrollments/{enrollment_id}/pay"): owner_only(SIGNED_IN),
    ("GET", "/api/v1/admin/enrollment-reconciliations"): Rule(ADMIN),
    ("POST", "/api/v1/admin/enrollment-reconciliations"): Rule(ADMIN),
    ("GET", "/enrollments/{enrollment_id}/pay"): owner_only(SIGNED_IN),
    ("POST", "/enrollments/{enrollment_id}/pay"): owner_only(SIGNED_IN),
    ("GET", "/courses"): Rule(SIGNED_IN),
    ("GET", "/courses/{course_id}"): Rule(SIGNED_IN),
    ("POST", "/courses/{course_id}/enroll"): Rule(SIGNED_IN),
    ("POST", "/courses/{course_id}/cancel"): Rule(SIGNED_IN),
    # uploads
    ("POST", "/api/v1/documents"): Rule(SIGNED_IN),
    ("GET", "/api/v1/documents"): Rule(SIGNED_IN),
    ("GET", "/api/v1/documents/{document_id}"): owned(SIGNED_IN),
    ("GET", "/api/v1/documents/{document_id}/content"): owned(SIGNED_IN),
    ("DELETE", "/api/v1/documents/{document_id}"): owned(SIGNED_IN),
    ("GET", "/documents"): Rule(SIGNED_IN),
    ("POST", "/documents"): Rule(SIGNED_IN),
    ("GET", "/documents/{document_id}/download"): owned(SIGNED_IN),
    ("POST", "/documents/{document_id}/delete"): owned(SIGNED_IN),
    # deals and payments
    ("GET", "/api/v1/deals"): Rule(SIGNED_IN),
    ("POST", "/api/v1/deals"): Rule(SIGNED_IN),
    ("GET", "/api/v1/deals/{deal_id}"): owned(SIGNED_IN),
    ("POST", "/api/v1/deals/{deal_id}/pay"): owner_only(SME),
    ("POST", "/api/v1/deals/{deal_id}/cancel"): owned(SIGNED_IN),
    ("POST", "/api/v1/admin/deals/{deal_id}/settle"): Rule(ADMIN),
    ("POST", "/api/v1/admin/deals/{deal_id}/refund"): Rule(ADMIN),
    ("POST", "/api/v1/admin/deals/{deal_id}/excess-refunded"): Rule(ADMIN),
    ("GET", "/api/v1/admin/reconciliations"): Rule(ADMIN),
    ("POST", "/api/v1/admin/reconciliations"): Rule(ADMIN),
    ("GET", "/deals"): Rule(SIGNED_IN),
    ("POST", "/deals"): Rule(SIGNED_IN),
    ("GET", "/deals/{deal_id}"): owned(SIGNED_IN),
    ("POST", "/deals/{deal_id}/pay"): owner_only(SME),
    ("POST", "/deals/{deal_id}/cancel"): owned(SIGNED_IN),
    ("POST", "/deals/{deal_id}/settle"): Rule(ADMIN),
    ("POST", "/deals/{deal_id}/excess-refunded"): Rule(ADMIN),
    ("GET", "/admin/reconcile"): Rule(ADMIN),
    ("POST", "/admin/reconcile"): Rule(ADMIN),
    # security console and privacy
    ("GET", "/api/v1/admin/security/events"): Rule(ADMIN),
    ("GET", "/api/v1/admin/security/lockouts"): Rule(ADMIN),
    ("POST", "/api/v1/admin/security/lockouts/{lockout_id}/unlock"): Rule(ADMIN),
    ("POST", "/api/v1/admin/security/audit/verify"): Rule(ADMIN),
    ("GET", "/api/v1/admin/security/incidents"): Rule(ADMIN),
    ("POST", "/api/v1/admin/security/incidents"): Rule(ADMIN),
    ("GET", "/api/v1/admin/security/incidents/{incident_id}"): Rule(ADMIN),
    ("PATCH", "/api/v1/admin/security/incidents/{incident_id}"): Rule(ADMIN),
    ("GET", "/api/v1/me/data"): Rule(SIGNED_IN),
    ("PATCH", "/api/v1/me"): Rule(SIGNED_IN),
    ("POST", "/api/v1/me/erasure"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me/consents"): Rule(SIGNED_IN),
    ("POST", "/api/v1/me/consents"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me/data-access"): Rule(SIGNED_IN),
    ("GET", "/api/v1/admin/data-access"): Rule(ADMIN),
    ("GET", "/api/v1/me/sessions"): Rule(SIGNED_IN),
    ("DELETE", "/api/v1/me/sessions/{family_id}"): owner_only(SIGNED_IN),
    # pages of issue 18: language, password reset, settings, the admin console, meeting requests
    ("GET", "/favicon.ico"): Rule(EVERYONE),
    ("GET", "/redoc"): Rule(EVERYONE),
    ("POST", "/language"): Rule(EVERYONE),
    ("GET", "/password/forgot"): Rule(EVERYONE),
    ("POST", "/password/forgot"): Rule(EVERYONE),
    ("GET", "/password/reset"): Rule(EVERYONE),
    ("POST", "/password/reset"): Rule(EVERYONE),
    ("GET", "/settings"): Rule(SIGNED_IN),
    ("POST", "/settings"): Rule(SIGNED_IN),
    ("POST", "/settings/password"): Rule(SIGNED_IN),
    ("GET", "/admin"): Rule(ADMIN),
    ("GET", "/admin/companies"): Rule(ADMIN),
    ("GET", "/admin/courses"): Rule(ADMIN),
    ("GET", "/admin/courses/{course_id}"): Rule(ADMIN),
    ("GET", "/admin/deals"): Rule(ADMIN),
    ("GET", "/admin/status"): Rule(ADMIN),
    ("GET", "/admin/users"): Rule(ADMIN),
    ("POST", "/admin/enrollments/{enrollment_id}/complete"): Rule(ADMIN),
    ("POST", "/admin/users/{user_id}/disable"): Rule(ADMIN),
    ("POST", "/admin/users/{user_id}/enable"): Rule(ADMIN),
    # the operator's security console pages
    ("GET", "/admin/security/events"): Rule(ADMIN),
    ("GET", "/admin/security/lockouts"): Rule(ADMIN),
    ("POST", "/admin/security/lockouts/{lockout_id}/unlock"): Rule(ADMIN),
    ("GET", "/admin/security/audit"): Rule(ADMIN),
    ("POST", "/admin/security/audit/verify"): Rule(ADMIN),
    ("GET", "/admin/security/incidents"): Rule(ADMIN),
    ("POST", "/admin/security/incidents"): Rule(ADMIN),
    ("GET", "/admin/security/incidents/{incident_id}"): Rule(ADMIN),
    ("POST", "/admin/security/incidents/{incident_id}"): Rule(ADMIN),
    ("GET", "/meetings/{meeting_id}/calendar.ics"): owner_only(PARTIES),
    ("POST", "/meetings/{meeting_id}/cancel"): owner_only(PARTIES),
    ("POST", "/matches/{match_id}/messages"): owner_only(PARTIES),
    # SMEs ask partners to meet, partners ask SMEs: the same role is refused with 403
    ("POST", "/partners/{profile_id}/request-meeting"): Rule(SME),
    ("POST", "/smes/{profile_id}/request-meeting"): Rule(PARTNER),
}


# Signing in is open to everyone: each caller signs in as this account (made by `world`) and must get in.
SIGN_IN = {"email": "signs-in@example.com", "password": PASSWORD}
_SLOT = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/login"): SIGN_IN,
    ("POST", "/api/v1/smes"): sme_payload(),
    ("POST", "/api/v1/partners"): partner_payload(),
    ("POST", "/api/v1/matches/{match_id}/meetings"): {
        "slots": [_SLOT, (datetime.now(UTC) + timedelta(days=8)).replace(microsecond=0).isoformat()],
        "video_link": "https://meet.example/xyz",
    },
    ("POST", "/api/v1/meetings/{meeting_id}/accept"): {"slot": _SLOT},
}
PAGE_FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/login"): SIGN_IN,
    ("POST", "/meetings/{meeting_id}/accept"): {"slot": _SLOT},
    ("POST", "/settings/password"): {
        "current_password": PASSWORD,
        "new_password": "a-new-long-passphrase-2026",
        "confirm_password": "a-new-long-passphrase-2026",
    },
}


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app answers, included routers' too."""
    routes: list[tuple[str, str]] = []
    for route in app.router.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for context in contexts:
            for method in sorted((getattr(context, "methods", None) or set()) - {"HEAD"}):
                routes.append((method, context.path))
    return routes


@dataclass
class Caller:
    headers: dict[str, str]
    cookies: dict[str, str]


@dataclass
class World:
    users: dict[str, User | None]
    own: dict[str, dict[str, Any]]  # role -> path parameter -> the id of that role's own object
    stranger: dict[str, Any]  # path parameter -> an object of nobody in `users`
    disabled: Caller

    def caller(self, session, role: str, settings) -> Caller:
        """Fresh credentials for each request: routes such as sign-out end the session they were called with."""
        return self.disabled if role == "disabled" else _caller(session, self.users[role], settings)


def _caller(session, user: User | None, settings) -> Caller:
    csrf = secrets.token_urlsafe(16)
    if user is None:
        return Caller({}, {"abb_csrf": csrf})
    pair = accounts.issue_tokens(session, user=user, settings=settings)
    web, _family = accounts.issue_web_session(session, user=user, settings=settings)
    return Caller({"Authorization": f"Bearer {pair.access_token}"}, {"abb_csrf": csrf, "abb_session": web})


def _objects(session, parties, course: Course) -> dict[str, Any]:
    """One of each object that belongs to `parties` (an SME and a partner with a connected match)."""
    deal_in = DealIn(
        match_id=parties.match.id,
        description="Two pasta lines",
        amount="1000.00",
        currency="EUR",
        due_date=date.today() + timedelta(days=30),
    )
    deal = create_deal(session, user=parties.sme_user, deal_in=deal_in)
    meeting = Meeting(
        match_id=parties.match.id,
        proposed_by=Side.PARTNER,
        slots=[_SLOT, _SLOT],
        video_link="https://meet.example/abc",
        status=MeetingStatus.PROPOSED,
    )
    session.add(meeting)
    session.commit()
    return {"match_id": parties.match.id, "deal_id": deal.id, "meeting_id": meeting.id, "course_id": course.id}


def _own(session, user: User, shared: dict[str, Any]) -> dict[str, Any]:
    """`shared` plus a document, an enrollment and a session of `user`'s own."""
    document = Document(
        owner_id=user.id,
        kind=DocumentKind.OTHER,
        storage_key=secrets.token_hex(16),
        original_name="a.pdf",
        content_type="application/pdf",
        size_bytes=1,
        sha256="0" * 64,
    )
    enrollment = Enrollment(course_id=shared["course_id"], user_id=user.id, status=EnrollmentStatus.ENROLLED)
    session.add_all([document, enrollment])
    session.commit()
    family = session.scalar(select(RefreshToken.family_id).where(RefreshToken.user_id == user.id).limit(1))
    return {**shared, "document_id": document.id, "enrollment_id": enrollment.id, "family_id": family}


@pytest.fixture
def world(session, settings) -> World:
    admin = make_user(session, Role.ADMIN)
    make_user(session, Role.SME, email=SIGN_IN["email"])
    course = Course(
        title="Export to Kenya",
        description="Customs, logistics",
        kind=CourseKind.WEBINAR,
        language="en",
        level=CourseLevel.BEGINNER,
        starts_at=datetime.now(UTC) + timedelta(days=10),
        ends_at=datetime.now(UTC) + timedelta(days=10, hours=2),
        capacity=50,
        instructor_id=admin.id,
    )
    session.add(course)
    session.commit()
    ours, theirs = connect(session), connect(session)
    disabled = make_user(session, Role.SME)
    users = {
        "anonymous": None,
        "sme": ours.sme_user,
        "partner": ours.partner_user,
        "admin": admin,
        "disabled": disabled,
    }
    disabled_caller = _caller(session, disabled, settings)  # signed in before an admin disabled the account
    disabled.is_active = False
    session.commit()
    shared = _objects(session, ours, course)
    profile_ids = {"smes": ours.sme.id, "partners": ours.partner.id}
    own = {
        "sme": {**_own(session, ours.sme_user, shared), "profile_id": profile_ids},
        "partner": {**_own(session, ours.partner_user, shared), "profile_id": profile_ids},
        "admin": {**_own(session, admin, shared), "profile_id": profile_ids},
    }
    own["anonymous"] = own["disabled"] = own["sme"]
    stranger_shared = _objects(session, theirs, course)
    _caller(session, theirs.sme_user, settings)  # a session of the stranger's, for the sessions routes
    stranger = {
        **_own(session, theirs.sme_user, stranger_shared),
        "profile_id": {"smes": theirs.sme.id, "partners": theirs.partner.id},
    }
    lockout = Lockout(
        scope=LockoutScope.IP, key="192.0.2.1", failures=50, locked_until=datetime.now(UTC) + timedelta(minutes=5)
    )
    incident = Incident(title="Probe", severity="low", status=IncidentStatus.OPEN)
    session.add_all([lockout, incident])
    session.commit()
    for ids in (*own.values(), stranger):
        ids.update(user_id=theirs.sme_user.id, lockout_id=lockout.id, incident_id=incident.id)
    return World(users, own, stranger, disabled_caller)


@pytest.fixture
def matrix_client(session, engine) -> TestClient:
    database = Database.__new__(Database)
    database.engine = engine
    # Limits out of the way: this test makes hundreds of requests from one address.
    app = create_app(
        make_settings(
            rate_limit_ip="100000/minute", rate_limit_user="100000/minute", rate_limit_auth_ip="100000/minute"
        ),
        database=database,
    )
    with TestClient(bound_to(session, app), base_url="https://testserver", follow_redirects=False) as client:
        yield client


def _path(template: str, ids: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = ids[name]
        if name == "profile_id":
            value = value["smes" if "/smes/" in template else "partners"]
        return str(value)

    return re.sub(r"{(\w+)}", fill, template)


def _call(client: TestClient, method: str, template: str, caller: Caller, ids: dict[str, Any]):
    path = _path(template, ids)
    client.cookies.clear()
    cookie = "; ".join(f"{name}={value}" for name, value in caller.cookies.items())
    kwargs: dict[str, Any] = {"headers": {**caller.headers, "Cookie": cookie}}
    if method in ("POST", "PATCH", "PUT", "DELETE") and not template.startswith("/api/"):
        kwargs["data"] = {"csrf_token": caller.cookies["abb_csrf"], **PAGE_FORMS.get((method, template), {})}
    elif method in ("POST", "PATCH"):
        # Where the role or ownership is checked by the service, after the body is validated, a valid body.
        kwargs["json"] = BODIES.get((method, template), {})
    return client.request(method, path, **kwargs)


def _denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and response.headers.get("location", "").startswith("/login")


def test_every_route_has_an_entry(app):
    routes = set(route_table(app))
    missing = sorted(routes - EXPECTED.keys())
    assert not missing, f"routes without an authorization entry in EXPECTED: {missing}"
    assert not sorted(EXPECTED.keys() - routes), "entries for routes that no longer exist"


# On PostgreSQL only: who may call what is decided in the dependencies and the services, the same code on both
# backends, and the matrix's thousand requests took a minute on each.
@pytest.mark.parametrize("engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_authorization_matrix(matrix_client, world, session, settings):
    wrong: list[str] = []
    for method, template in route_table(matrix_client.app):
        rule = EXPECTED[(method, template)]
        for role in ROLES:
            response = _call(matrix_client, method, template, world.caller(session, role, settings), world.own[role])
            expect_allowed = role in rule.allowed
            if _denied(response) == expect_allowed:
                wrong.append(
                    f"{role:9} {method} {template}: {response.status_code} (expected "
                    f"{'allowed' if expect_allowed else 'denied'})"
                )
            if not (rule.owned and expect_allowed) or (role == "admin" and rule.admin_sees_all):
                continue
            response = _call(matrix_client, method, template, world.caller(session, role, settings), world.stranger)
            if response.status_code not in (403, 404):
                wrong.append(f"{role:9} {method} {template} on a stranger's object: {response.status_code}")
    assert not wrong, "\n".join(wrong)

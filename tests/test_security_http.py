"""Security headers, CSP without inline script, CORS, rate limits, the /metrics guard in production, 401/403
accounting, cross-tenant events and the sessions list (issue 15)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from abb.accounts.models import Role
from abb.app import create_app
from abb.core.database import Database
from abb.core.http import get_session
from abb.web.kit import WEB_DIR
from tests.conftest import make_settings
from tests.factories import assert_problem, auth, login, make_partner, make_user


def _app(session, engine, **overrides):
    database = Database.__new__(Database)
    database.engine = engine
    application = create_app(make_settings(**overrides), database=database)
    application.dependency_overrides[get_session] = lambda: session
    import contextlib

    application.state.audit_session_scope = lambda: contextlib.nullcontext(session)
    return application


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_answer_carries_the_security_headers_and_pages_a_strict_csp(client):
    for path in ("/login", "/api/v1/me", "/static/style.css", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in headers["permissions-policy"]
        assert headers["strict-transport-security"].startswith("max-age=31536000")
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp


def test_templates_hold_no_inline_script_style_or_handlers():
    offenders = []
    for template in sorted((WEB_DIR / "templates").rglob("*.html")):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\sstyle=|<style|\son[a-z]+=", text):
            offenders.append(template.name)
    assert offenders == []
    # and the real-user timing still works, from a file
    assert '<script src="/static/rum.js"' in (WEB_DIR / "templates" / "base.html").read_text()
    assert (WEB_DIR / "static" / "rum.js").exists()


def test_cors_allows_only_the_configured_origins(session, engine):
    app = _app(session, engine, cors_allow_origins=["https://partner-portal.example"])
    with TestClient(app, base_url="https://testserver") as client:
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        allowed = client.options("/api/v1/me", headers={"Origin": "https://partner-portal.example", **preflight})
        other = client.options("/api/v1/me", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://partner-portal.example"
    assert "access-control-allow-origin" not in other.headers


def test_rate_limit_per_address_answers_429_with_retry_after_and_counts(session, engine):
    app = _app(session, engine, rate_limit_ip="5/minute")
    before = _value("abb_rate_limited_total", limit="ip")
    with TestClient(app, base_url="https://testserver", client=("192.0.2.50", 1)) as client:
        answers = [client.get("/api/v1/partners").status_code for _ in range(6)]
        refused = client.get("/api/v1/partners")
        health = client.get("/health/live")
    with TestClient(app, base_url="https://testserver", client=("192.0.2.51", 1)) as neighbour:
        assert neighbour.get("/api/v1/partners").status_code == 401  # another address has its own budget
    assert answers[:5] == [401] * 5 and answers[5] == 429
    assert_problem(refused, 429, "too-many-requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert health.status_code == 200  # probes are never limited
    assert _value("abb_rate_limited_total", limit="ip") - before == 2


def test_sign_in_has_a_stricter_limit(session, engine):
    app = _app(session, engine, rate_limit_auth_ip="3/minute", login_delay_after=100)
    with TestClient(app, base_url="https://testserver", client=("192.0.2.60", 1)) as client:
        codes = [
            client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"}).status_code
            for _ in range(4)
        ]
        assert client.get("/api/v1/partners").status_code == 401  # the rest of the API is still open
    assert codes == [401, 401, 401, 429]


def test_rate_limit_per_user(session, engine):
    app = _app(session, engine, rate_limit_user="3/minute")
    user = make_user(session)
    with TestClient(app, base_url="https://testserver") as client:
        headers = auth(client, user)
        codes = [client.get("/api/v1/me", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_rate_limits_in_redis_are_shared_between_processes(session, engine, redis_server):
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    first = _app(session, engine, rate_limit_ip="4/minute", redis_url=redis_server.url)
    second = _app(session, engine, rate_limit_ip="4/minute", redis_url=redis_server.url)
    with (
        TestClient(first, base_url="https://testserver", client=("192.0.2.70", 1)) as a,
        TestClient(second, base_url="https://testserver", client=("192.0.2.70", 1)) as b,
    ):
        codes = [(a if n % 2 else b).get("/api/v1/partners").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]


def test_metrics_in_production_need_the_token_even_from_loopback(session, engine):
    production = dict(
        env="production",
        secret_key="p" * 40,
        database_url="postgresql://x@db/abb",
        metrics_token="scrape-token-0123456789abcdef",
        cookie_secure=True,
    )
    app = _app(session, engine, **production)
    with TestClient(app, base_url="https://testserver", client=("127.0.0.1", 1)) as proxied:
        # what a reverse proxy on the same host looks like: loopback peer, the real client in a header
        assert_problem(proxied.get("/metrics", headers={"X-Real-IP": "203.0.113.1"}), 403)
        assert (
            proxied.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789abcdef"}).status_code
            == 200
        )


def test_401_and_403_are_counted_by_route_and_role_and_403s_are_events(client, session, audit):
    user = make_user(session, Role.SME)
    before = _value("abb_authz_denied_total", route="/api/v1/admin/users", role="sme", status="403")
    anonymous = _value("abb_authz_denied_total", route="/api/v1/admin/users", role="anonymous", status="401")
    assert client.get("/api/v1/admin/users").status_code == 401
    assert client.get("/api/v1/admin/users", headers=auth(client, user)).status_code == 403
    assert _value("abb_authz_denied_total", route="/api/v1/admin/users", role="sme", status="403") == before + 1
    assert (
        _value("abb_authz_denied_total", route="/api/v1/admin/users", role="anonymous", status="401") == anonymous + 1
    )
    denied = audit.events("access.denied")
    assert denied[-1].user_id == user.id and '"route":"/api/v1/admin/users"' in denied[-1].details


def test_reaching_another_tenants_object_is_a_cross_tenant_event_and_ones_own_is_not(client, session, audit):
    owner, intruder = make_user(session, Role.PARTNER), make_user(session, Role.PARTNER)
    profile = make_partner(session, owner=owner)
    intruder_headers = auth(client, intruder)
    assert (
        client.patch(f"/api/v1/partners/{profile.id}", headers=intruder_headers, json={"years_active": 1}).status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/v1/partners/{profile.id}", headers=auth(client, owner), json={"years_active": 2}
        ).status_code
        == 200
    )
    events = audit.events("access.cross_tenant")
    assert len(events) == 1
    assert events[0].user_id == intruder.id and "/api/v1/partners/{profile_id}" in events[0].details
    assert not audit.events("access.denied")  # the cross-tenant event replaces the generic one


def test_sessions_are_listed_per_user_and_revocable(client, session, audit):
    user = make_user(session)
    first, second = login(client, user.email), login(client, user.email)
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    listed = client.get("/api/v1/me/sessions", headers=headers).json()
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert client.delete(f"/api/v1/me/sessions/{other['family_id']}", headers=headers).status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    assert [s["current"] for s in client.get("/api/v1/me/sessions", headers=headers).json()] == [True]
    stranger = auth(client, make_user(session))
    assert_problem(client.delete(f"/api/v1/me/sessions/{listed[0]['family_id']}", headers=stranger), 404)
    assert_problem(client.delete("/api/v1/me/sessions/not-a-family", headers=headers), 422)
    assert audit.events("session.revoke")[0].user_id == user.id

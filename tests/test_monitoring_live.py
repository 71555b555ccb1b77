"""Proven live: real Prometheus scraping the running app and its neighbours, real Alertmanager delivering alerts.

1. After traffic, every PromQL expression of every dashboard panel and every recording rule returns a series.
2. Injected faults drive HighErrorRate to firing; Alertmanager posts it in Slack's payload shape (and to
   PagerDuty) and posts the resolution once healthy traffic brings the error ratio back under 5%.
3. A warning (FrontendPageLoadSlow, from slow page timings) reaches the e-mail route: a local SMTP server.
4. A database outage inhibits the error and latency alerts it causes.

Configs are derived from deploy/ (abb.ops.monitoring_stack): same rules and routes, loopback targets, 1s
intervals, and every alert's `for:` shortened to 1s so that the module runs in well under a minute or two.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import partner_payload, sme_payload
from tests.fixtures_monitoring import LiveMonitoring, dashboard_queries, recording_rules
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

FAULT = {"X-Abb-Fault": "error"}
PASSWORD = "live-monitoring-pass-2026"


def _register(live: LiveMonitoring, role: str) -> dict[str, str]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    answer = live.api(
        "POST", "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "full_name": "Live", "role": role}
    )
    assert answer.status_code == 201, answer.text
    signed_in = live.api("POST", "/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    tokens = signed_in.json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def send_healthy_traffic(live: LiveMonitoring, count: int) -> None:
    for _ in range(count):
        assert live.api("GET", "/health/live").status_code == 200


@pytest.fixture(scope="module")
def traffic(live_monitoring: LiveMonitoring) -> LiveMonitoring:
    """What users do, plus a burst of injected faults, until HighErrorRate fires in Prometheus."""
    live = live_monitoring
    sme = _register(live, "sme")
    partner = _register(live, "partner")
    for headers in (sme, partner):
        assert live.api("GET", "/api/v1/me", headers=headers).status_code == 200
    # Profiles enqueue match recomputation: a task for the Celery worker through Redis.
    assert live.api("POST", "/api/v1/smes", json=sme_payload(), headers=sme).status_code == 201
    assert live.api("POST", "/api/v1/partners", json=partner_payload(), headers=partner).status_code == 201
    assert live.api("GET", "/api/v1/smes/999999", headers=sme).status_code == 404
    assert live.api("GET", "/api/v1/me").status_code == 401  # counted by route and role (abb_authz_denied_total)
    for _ in range(3):  # the partner directory is read through the Redis cache: a miss, then hits
        assert live.api("GET", "/api/v1/partners", headers=sme).status_code == 200
    for page, millis in (("home", 650), ("dashboard", 900), ("login", 400)):
        assert live.api("POST", "/api/v1/rum", json={"page": page, "load_ms": millis}).status_code == 204
    send_healthy_traffic(live, 30)

    def one_fault_per_healthy_request() -> list[dict[str, Any]]:
        # Spread over several scrapes: a counter series that appears already at its final value has no rate.
        answer = live.api("GET", "/health/live", headers=FAULT)
        assert answer.status_code == 500
        assert answer.headers["content-type"].startswith("application/problem+json")
        send_healthy_traffic(live, 1)
        return live.alerts("HighErrorRate")

    wait_until(one_fault_per_healthy_request, timeout=60, what="HighErrorRate firing in Prometheus", every=0.25)
    return live


def test_every_dashboard_query_and_recording_rule_returns_a_series(traffic: LiveMonitoring) -> None:
    expressions = {f"{board}: {title}: {expr}": expr for board, title, expr in dashboard_queries()}
    expressions |= {f"recording rule {rule['record']}": rule["record"] for rule in recording_rules()}
    assert len(expressions) > 60

    def still_missing() -> bool:
        for name in [name for name, expr in expressions.items() if traffic.query(expr)]:
            del expressions[name]
        return not expressions

    # Rates need two scrapes of a series: poll the remaining ones, 20 s in all, then name those still missing.
    with contextlib.suppress(AssertionError):
        wait_until(still_missing, timeout=60, what="every query to return a series", every=1)
    assert not expressions, "queries without a series:\n" + "\n".join(expressions)


def _slack_titles(live: LiveMonitoring, alertname: str) -> list[str]:
    return [
        attachment["title"]
        for payload in live.webhooks.payloads("/slack")
        for attachment in payload.get("attachments", [])
        if alertname in attachment.get("title", "")
    ]


def test_error_rate_alert_reaches_slack_and_pagerduty_then_resolves(traffic: LiveMonitoring) -> None:
    live = traffic
    wait_until(
        lambda: any(t.startswith("[FIRING") for t in _slack_titles(live, "HighErrorRate")),
        timeout=60,
        what="HighErrorRate firing on the Slack webhook",
    )
    payload = next(
        p for p in live.webhooks.payloads("/slack") if "HighErrorRate" in p["attachments"][0]["title"]
    )  # Slack's incoming-webhook shape: channel, username, attachments with title/text/color
    assert payload["channel"] == "#abb-incidents"
    attachment = payload["attachments"][0]
    assert attachment["color"] == "danger"
    assert attachment["title"] == "[FIRING:1] HighErrorRate (abb-api, critical)"
    assert "of abb-api requests answered 5xx" in attachment["text"]
    assert "Runbook: docs/runbooks/HighErrorRate.md" in attachment["text"]
    # Alertmanager notifies each receiver on its own: PagerDuty's call may come after Slack's.
    pagerduty = wait_until(
        lambda: [p for p in live.webhooks.payloads("/pagerduty") if "HighErrorRate" in p["payload"]["summary"]],
        timeout=60,
        what="HighErrorRate on the PagerDuty webhook",
    )
    assert pagerduty[0]["routing_key"] == "local-test-routing-key"
    assert pagerduty[0]["event_action"] == "trigger"

    # The faults stop; healthy traffic brings the 5-minute error ratio under 5% (1 in 40 requests failed).
    failed = sum(float(s["value"][1]) for s in live.query('sum(abb_http_requests_total{status="500"})'))
    total = sum(float(s["value"][1]) for s in live.query("sum(abb_http_requests_total)"))
    send_healthy_traffic(live, int(40 * failed - total) + 1)
    wait_until(
        lambda: "[RESOLVED] HighErrorRate (abb-api, critical)" in _slack_titles(live, "HighErrorRate"),
        timeout=45,
        what="HighErrorRate resolved on the Slack webhook",
    )
    assert not live.alerts("HighErrorRate")
    resolved = [
        p for p in live.webhooks.payloads("/slack") if p["attachments"][0]["title"].startswith("[RESOLVED] High")
    ]
    assert resolved[0]["attachments"][0]["color"] == "good"


def test_warning_alert_reaches_the_email_route(traffic: LiveMonitoring) -> None:
    live = traffic

    def slow_page_load() -> list[dict[str, Any]]:
        answer = live.api("POST", "/api/v1/rum", json={"page": "directory-partner", "load_ms": 9000})
        assert answer.status_code == 204
        return live.alerts("FrontendPageLoadSlow")

    wait_until(slow_page_load, timeout=60, what="FrontendPageLoadSlow firing in Prometheus", every=0.25)

    def alert_mail() -> list[Any]:
        return [m for m in live.smtp.received() if "FrontendPageLoadSlow" in str(m["Subject"])]

    mails = wait_until(alert_mail, timeout=60, what="FrontendPageLoadSlow e-mail")
    mail = mails[0]
    assert mail["To"] == "ops@africabusinessbridge.example"
    assert mail["From"] == "alerts@africabusinessbridge.example"
    assert str(mail["Subject"]).startswith("[FIRING:1] FrontendPageLoadSlow (frontend, warning)")
    body = "".join(
        part.get_payload(decode=True).decode("utf-8", "replace") for part in mail.walk() if not part.is_multipart()
    )
    assert "directory-partner" in body and "docs/runbooks/FrontendPageLoadSlow.md" in body
    # Warnings never page: nothing about this alert on the Slack or PagerDuty webhooks.
    assert not _slack_titles(live, "FrontendPageLoadSlow")


def _post_alert(live: LiveMonitoring, **labels: str) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": labels,
        "annotations": {"summary": "posted by the inhibition test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }
    assert live.http.post(f"{live.alertmanager.url}/api/v2/alerts", json=[alert]).status_code == 200


def _alert_state(live: LiveMonitoring, **labels: str) -> dict[str, Any] | None:
    matchers = [f'{name}="{value}"' for name, value in labels.items()]
    answer = live.http.get(f"{live.alertmanager.url}/api/v2/alerts", params={"filter": matchers})
    alerts = answer.json()
    return alerts[0]["status"] if alerts else None


def test_database_down_inhibits_the_error_and_latency_alerts_it_causes(traffic: LiveMonitoring) -> None:
    live = traffic
    env = {"environment": "inhibition-test"}
    _post_alert(live, alertname="DatabaseUnreachable", severity="critical", service="database", **env)
    _post_alert(live, alertname="HighLatency", severity="warning", service="abb-api", **env)
    _post_alert(live, alertname="HighLatency", severity="warning", service="abb-api", environment="elsewhere")
    suppressed = wait_until(
        lambda: (_alert_state(live, alertname="HighLatency", **env) or {}).get("inhibitedBy"),
        timeout=15,
        what="HighLatency inhibited by DatabaseUnreachable",
    )
    assert suppressed
    assert _alert_state(live, alertname="HighLatency", **env)["state"] == "suppressed"  # type: ignore[index]
    # Only where the database is down: the same alert in another environment still notifies.
    assert _alert_state(live, alertname="HighLatency", environment="elsewhere")["state"] == "active"  # type: ignore[index]


def test_ci_figures_reach_prometheus_through_the_pushgateway(live_monitoring: LiveMonitoring) -> None:
    """`abb ci report` (run by the fixture, as CI runs it) pushed what its JUnit, coverage and ruff reports say."""

    def value(expr: str) -> dict[str, float]:
        return {
            s["metric"].get("result", s["metric"].get("benchmark", "")): float(s["value"][1])
            for s in live_monitoring.query(expr)
        }

    tests = wait_until(lambda: value('abb_ci_tests_total{job="abb-ci"}'), timeout=15, what="CI test counts")
    assert tests == {"passed": 36, "failed": 1, "errors": 0, "skipped": 3}
    assert value('abb_ci_coverage_ratio{job="abb-ci"}') == {"": 0.87}
    assert value('abb_ci_lint_findings{job="abb-ci"}') == {"": 2}
    assert value('abb_ci_build_duration_seconds{job="abb-ci"}') == {"": 321}
    assert value('abb_ci_benchmark_ratio{job="abb-ci"}') == {"matching": 0.85}
    assert value('abb_ci_run_success{job="abb-ci"}') == {"": 1}


def test_probing_without_credentials_reaches_the_security_channel(traffic: LiveMonitoring) -> None:
    """Attack traffic: many addresses (behind the same-host proxy, X-Forwarded-For) walk the API without
    credentials until SecurityAccessDeniedSurge (60 refusals a minute over 5 minutes) fires; Alertmanager posts
    it to the security channel in Slack's payload shape."""
    live = traffic
    sent = 0

    def probe() -> list[dict[str, Any]]:
        nonlocal sent
        for _ in range(50):
            sent += 1
            forwarded = {"X-Forwarded-For": f"198.51.100.{sent % 50}"}
            assert live.api("GET", f"/api/v1/deals/{sent}", headers=forwarded).status_code == 401
        return live.alerts("SecurityAccessDeniedSurge")

    firing = wait_until(probe, timeout=60, what="SecurityAccessDeniedSurge firing in Prometheus", every=0.1)
    assert firing[0]["labels"]["service"] == "security"

    def security_channel() -> list[dict[str, Any]]:
        return [
            p
            for p in live.webhooks.payloads("/slack")
            if p.get("channel") == "#abb-security" and "SecurityAccessDeniedSurge" in p["attachments"][0]["title"]
        ]

    posted = wait_until(security_channel, timeout=30, what="SecurityAccessDeniedSurge on the #abb-security webhook")
    attachment = posted[0]["attachments"][0]
    assert attachment["title"].startswith("[FIRING:1] SecurityAccessDeniedSurge (security, warning)")
    assert "Runbook: docs/runbooks/SecurityAccessDeniedSurge.md" in attachment["text"]
    # A warning: it pages nobody.
    paged = [p for p in live.webhooks.payloads("/pagerduty") if "SecurityAccessDeniedSurge" in p["payload"]["summary"]]
    assert not paged

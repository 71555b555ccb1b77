"""Security metrics (docs/observability.md, "Security"); the security alert rules read these names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

SECURITY_EVENTS = Counter(
    "abb_security_events", "Security events raised, by ECS action and outcome", ["action", "outcome"]
)
LOGIN_ATTEMPTS = Counter("abb_login_attempts", "Sign-in attempts, by outcome and reason", ["outcome", "reason"])
LOCKOUTS = Counter("abb_lockouts", "Temporary sign-in lockouts started, by scope (account or ip)", ["scope"])
RATE_LIMITED = Counter("abb_rate_limited", "Requests refused by a rate limit (429), by limit", ["limit"])
AUTHZ_DENIED = Counter(
    "abb_authz_denied", "401 and 403 answers, by route template and the caller's role", ["route", "role", "status"]
)
INJECTION_DETECTED = Counter(
    "abb_injection_detected", "Requests carrying an injection or probing pattern, by class and mode", ["kind", "mode"]
)
TRAFFIC_ANOMALIES = Counter("abb_traffic_anomalies", "Source addresses whose request rate left their baseline")


def initialise_label_values() -> None:
    """Known label values read 0 from the start, so rate() and the alerts see the first event."""
    for outcome, reason in (
        ("success", "ok"),
        ("failure", "bad_credentials"),
        ("failure", "locked"),
        ("failure", "too_soon"),
        ("failure", "disabled"),
    ):
        LOGIN_ATTEMPTS.labels(outcome, reason)
    for scope in ("account", "ip"):
        LOCKOUTS.labels(scope)
    for limit in ("ip", "user", "auth"):
        RATE_LIMITED.labels(limit)
    for kind in ("sqli", "xss", "traversal"):
        for mode in ("log", "block"):
            INJECTION_DETECTED.labels(kind, mode)
    TRAFFIC_ANOMALIES.inc(0)


class AuditChainCollector:
    """At scrape time, the last audit chain verification (run nightly and by `abb audit verify`), from the
    database: whichever process or machine verified, every API process reports the same result."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from abb.security.models import AuditVerification

        try:
            with self._engine().connect() as connection:
                last = connection.execute(
                    select(AuditVerification.ok, AuditVerification.verified_at)
                    .order_by(AuditVerification.id.desc())
                    .limit(1)
                ).first()
        except SQLAlchemyError:
            return  # the database's own metrics and health check report it
        if last is None:
            return
        ok = GaugeMetricFamily("abb_audit_chain_ok", "1 when the last audit chain verification held, 0 when broken")
        ok.add_metric([], 1.0 if last.ok else 0.0)
        yield ok
        at = last.verified_at if last.verified_at.tzinfo else last.verified_at.replace(tzinfo=UTC)
        when = GaugeMetricFamily("abb_audit_chain_verified_timestamp_seconds", "When the chain was last verified")
        when.add_metric([], at.timestamp())
        yield when

"""Wiring of the security package into the app (called by `abb.app.create_app`)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.orm import Session

from abb.core.config import Settings
from abb.security import metrics
from abb.security.audit import writer
from abb.security.changes import install_change_audit
from abb.security.middleware import SecurityMiddleware
from abb.security.ratelimit import RateLimits


def install_security(app: FastAPI, settings: Settings) -> None:
    """The security middleware (add it before the body-size limit so that it runs inside it) and CORS."""
    install_change_audit()
    metrics.initialise_label_values()
    app.state.rate_limits = RateLimits(settings)
    app.add_middleware(SecurityMiddleware, settings=settings, limits=app.state.rate_limits)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            max_age=600,
        )


def start_audit_writer(app: FastAPI, settings: Settings) -> None:
    """At start-up, once the database is open: where and how often security events are written.
    Tests put a scope of their own on `app.state.audit_session_scope` (the test's transaction)."""
    scope = getattr(app.state, "audit_session_scope", None)

    def session_scope() -> AbstractContextManager[Session]:
        session: Session = app.state.db.session_factory()
        return session

    # SQLite: batches are written by the middleware when no request is in flight, never by the writer's thread.
    quiet = (lambda: False) if settings.is_sqlite else None
    writer.configure(scope or session_scope, settings.security_flush_seconds, quiet)

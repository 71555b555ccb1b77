"""The ASGI application, and the one place that composes the layers: settings, database, middleware, error
handlers, every API router and page module, and what observability reports about the business (label
values, database gauges, page names), taken from the domains and handed to it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from abb import __version__
from abb.accounts import service as accounts
from abb.accounts.models import Role
from abb.accounts.router import router as accounts_router
from abb.companies.router import router as companies_router
from abb.console.router import router as security_router
from abb.core.config import Settings, get_settings
from abb.core.database import Database
from abb.core.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from abb.core.garbage_collection import settle_after_startup
from abb.core.http import AdmissionGate, BodySizeLimitMiddleware
from abb.core.openapi import Problem, problem_responses
from abb.core.text_input import ControlCharacterMiddleware
from abb.deals import service as deals
from abb.deals.models import ProviderName
from abb.deals.money import Currency
from abb.deals.router import router as deals_router
from abb.deals.webhooks import router as payment_webhooks
from abb.matching.engine import warm_up as warm_up_matching
from abb.matching.router import router as matching_router
from abb.observability import install_observability
from abb.observability.business import BusinessLabels
from abb.observability.collectors import DatabaseGauge
from abb.observability.recorder import recorder
from abb.ops.faults import FaultInjectionMiddleware, fault_injection_enabled
from abb.privacy.router import router as privacy_router
from abb.security.install import install_security, start_audit_writer
from abb.security.metrics import AuditChainCollector
from abb.training.router import router as training_router
from abb.uploads.router import router as uploads_router
from abb.uploads.router import upload_body_limits
from abb.web import accounts as account_pages
from abb.web import admin as admin_pages
from abb.web import companies as company_pages
from abb.web import connections as connection_pages
from abb.web import deals as deal_pages
from abb.web import matching as matching_pages
from abb.web import preferences as preference_pages
from abb.web import security_console as security_console_pages
from abb.web import training as training_pages
from abb.web import uploads as upload_pages
from abb.web.errors import render_error_page
from abb.web.i18n import LocaleMiddleware
from abb.web.kit import KNOWN_PAGES, STATIC_DIR, SignInRequired, redirect_to_sign_in

# FastAPI tries routes in this order, one by one: the API (most of the traffic) before the pages.
ROUTERS = (
    accounts_router,
    companies_router,
    matching_router,
    deals_router,
    training_router,
    uploads_router,
    payment_webhooks,
    security_router,
    privacy_router,
    account_pages.router,
    preference_pages.router,
    company_pages.router,
    matching_pages.router,
    deal_pages.router,
    training_pages.router,
    upload_pages.router,
    connection_pages.router,
    admin_pages.router,
    security_console_pages.router,
)
BUSINESS_LABELS = BusinessLabels(
    roles=[role.value for role in Role],
    deal_states=[state.value for state in deals.TRANSITIONS],  # the one transition table
    providers=[provider.value for provider in ProviderName],
    currencies=[currency.value for currency in Currency],
    revenue_sources=["deal_fee"],
)
DATABASE_GAUGES = (
    DatabaseGauge(
        "abb_active_users",
        "Distinct users seen (last_seen_at) within the window",
        "window",
        accounts.active_users_by_window,
    ),
    DatabaseGauge("abb_deals", "Deals currently in each state", "state", deals.deals_by_state),
)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_db = database is None
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        app.state.db = database or Database(settings)
        app.state.db.open_first_connection()
        warm_up_matching()  # before settle_after_startup: what it loads is frozen with the rest
        sys.setswitchinterval(settings.gil_switch_interval_seconds)  # docs/capacity.md
        start_audit_writer(app, settings)
        settle_after_startup(settings.gc_gen0_threshold)
        loop_lag = getattr(app.state, "loop_lag", None)
        if loop_lag is not None:
            loop_lag.start()
        try:
            yield
        finally:
            # On SIGTERM uvicorn gives requests ABB_SHUTDOWN_GRACE_SECONDS, cancels the rest, then comes here:
            # what they did is in the access log and the metrics before the process goes.
            if loop_lag is not None:
                await loop_lag.stop()
            recorder.flush()
            if owns_db:
                app.state.db.dispose()

    # Swagger UI (/docs) and ReDoc (/redoc) from the assets fastapi-offline ships: no CDN, they work offline.
    app = FastAPIOffline(
        title="Africa Business Bridge",
        version=__version__,
        description="Connects Italian SMEs with partners in Kenya, Tanzania and Ethiopia.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        static_url="/docs-assets",
        favicon_url="/favicon.ico",
        # Tracing (when on): one server span per request; per-operation spans cost more than they tell.
        telemetry={"operation_spans": False},
    )
    app.state.settings = settings
    app.state.gate = AdmissionGate(
        limit=settings.resolved_request_concurrency,
        max_waiting=settings.request_queue_max,
        wait_seconds=settings.request_queue_seconds,
        retry_after_seconds=settings.retry_after_seconds,
    )
    app.state.hashing_gate = AdmissionGate(
        limit=settings.password_hashing_concurrency,
        max_waiting=settings.request_queue_max,
        wait_seconds=settings.request_queue_seconds,
        retry_after_seconds=settings.retry_after_seconds,
    )
    if database is not None:
        app.state.db = database
    install_error_handlers(app, retry_after_seconds=settings.retry_after_seconds)
    app.state.html_error_renderer = render_error_page
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_security(app, settings)  # inside the body-size limit, so bodies it reads are bounded
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.add_middleware(ControlCharacterMiddleware)  # inside the body limit: it reads bounded bodies only
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        prefix_limits=upload_body_limits(settings.upload_max_bytes),
    )
    app.add_middleware(LocaleMiddleware)  # outside the body limit: its 413 page is in the reader's language too
    if fault_injection_enabled(settings):  # test-only (docs/monitoring.md)
        app.add_middleware(FaultInjectionMiddleware)
    install_observability(
        app,
        settings,
        business_labels=BUSINESS_LABELS,
        database_gauges=DATABASE_GAUGES,
        known_pages=KNOWN_PAGES,
        extra_collectors=[AuditChainCollector(lambda: app.state.db.engine)],
    )
    _register_problem_schema(app)
    return app


async def _favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon")


def _register_problem_schema(app: FastAPI) -> None:
    """Put the Problem schema in components so the problem+json $refs resolve."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema()
        _validation_errors_are_problems(schema)
        _answers_every_operation_can_give(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _answers_every_operation_can_give(schema: dict[str, Any]) -> None:
    """Answers that come from the layers every request passes, whatever its route declares: 429 from the
    rate limits on the whole API (abb.security), 503 from load shedding and an unreachable database
    (abb.core.http), and, for an operation that reads a body (even an optional one), 400 to bytes that are not
    JSON and 413 to a body over the limit."""
    for operation in (op for item in schema.get("paths", {}).values() for op in item.values()):
        statuses = (400, 413, 429, 503) if "requestBody" in operation else (429, 503)
        for status, answer in problem_responses(*statuses).items():
            operation["responses"].setdefault(
                str(status), {"description": answer["description"], "content": answer["content"]}
            )


def _validation_errors_are_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents its own 422 body (application/json, HTTPValidationError) on every operation with
    parameters; our handler answers problem+json (abb.core.errors.validation_problem), so say that instead."""
    problem = problem_responses(422)[422]
    for operation in (op for item in schema.get("paths", {}).values() for op in item.values()):
        documented = operation.get("responses", {}).get("422")
        if documented and PROBLEM_MEDIA_TYPE not in documented.get("content", {}):
            operation["responses"]["422"] = {"description": problem["description"], "content": problem["content"]}

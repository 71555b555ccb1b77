"""The ASGI application: settings, database, middleware, error handlers and every domain router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from abb import __version__
from abb.accounts.router import router as accounts_router
from abb.companies.router import router as companies_router
from abb.core.config import Settings, get_settings
from abb.core.database import Database
from abb.core.errors import install_error_handlers
from abb.core.garbage_collection import settle_after_startup
from abb.core.http import BodySizeLimitMiddleware
from abb.core.openapi import Problem
from abb.deals.pages import router as deals_pages
from abb.deals.router import router as deals_router
from abb.matching.pages import router as matching_pages
from abb.matching.router import router as matching_router
from abb.observability import install_observability
from abb.ops.faults import FaultInjectionMiddleware, fault_injection_enabled
from abb.payments.webhooks import router as payments_webhooks
from abb.privacy.router import router as privacy_router
from abb.security.install import install_security, start_audit_writer
from abb.security.metrics import AuditChainCollector
from abb.security.router import router as security_router
from abb.training.pages import router as training_pages
from abb.training.router import router as training_router
from abb.uploads.pages import router as uploads_pages
from abb.uploads.router import router as uploads_router
from abb.uploads.router import upload_body_limits
from abb.web.router import STATIC_DIR, SignInRequired, redirect_to_sign_in, render_error
from abb.web.router import router as web_router

ROUTERS = (
    accounts_router,
    companies_router,
    web_router,
    matching_router,
    matching_pages,
    training_router,
    training_pages,
    uploads_router,
    uploads_pages,
    deals_router,
    deals_pages,
    payments_webhooks,
    security_router,
    privacy_router,
)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owns_db = database is None
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        app.state.db = database or Database(settings)
        app.state.db.open_first_connection()
        start_audit_writer(app, settings)
        settle_after_startup(settings.gc_gen0_threshold)
        try:
            yield
        finally:
            if owns_db:
                app.state.db.dispose()

    app = FastAPI(
        title="Africa Business Bridge",
        version=__version__,
        description="Connects Italian SMEs with partners in Kenya, Tanzania and Ethiopia.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # Tracing (when on): one server span per request; per-operation spans cost more than they tell.
        telemetry={"operation_spans": False},
    )
    app.state.settings = settings
    if database is not None:
        app.state.db = database
    install_error_handlers(app)
    app.state.html_error_renderer = render_error
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_security(app, settings)  # inside the body-size limit, so bodies it reads are bounded
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        prefix_limits=upload_body_limits(settings.upload_max_bytes),
    )
    if fault_injection_enabled(settings):  # test-only (docs/monitoring.md)
        app.add_middleware(FaultInjectionMiddleware)
    install_observability(app, settings, [AuditChainCollector(lambda: app.state.db.engine)])
    _register_problem_schema(app)
    return app


def _register_problem_schema(app: FastAPI) -> None:
    """Put the Problem schema in components so the problem+json $refs resolve."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

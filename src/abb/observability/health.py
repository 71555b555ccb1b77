"""Health endpoints: `/health/live` (the process answers) and `/health/ready` (its dependencies answer).

Readiness checks the database, Redis (cache) and the Celery broker at once, each bounded by
`ABB_HEALTH_TIMEOUT_SECONDS`, and answers 503 problem+json naming each failing dependency. Nothing is
cached: a load balancer sees the recovery on its next probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from abb.core.config import Settings
from abb.core.errors import ServiceUnavailable
from abb.core.openapi import problem_responses
from abb.observability.timeouts import run_beside_requests, run_checks

router = APIRouter(prefix="/health", tags=["health"])


def _database_check(request: Request) -> Callable[[], object]:
    def check() -> None:
        with request.app.state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


def _redis_check(url: str, timeout: float) -> Callable[[], object]:
    def check() -> None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()

    return check


def dependency_checks(request: Request, settings: Settings) -> dict[str, Callable[[], object]]:
    """What readiness depends on: the database always; Redis and the broker when they are configured."""
    checks = {"database": _database_check(request)}
    timeout = settings.health_timeout_seconds
    if settings.redis_url:
        checks["redis"] = _redis_check(settings.redis_url, timeout)
    broker = settings.resolved_celery_broker_url
    if broker == settings.redis_url and "redis" in checks:
        checks["broker"] = checks["redis"]
    elif broker.startswith(("redis://", "rediss://", "unix://")):
        checks["broker"] = _redis_check(broker, timeout)
    return checks


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses=problem_responses(503))
async def ready(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    checks = dependency_checks(request, settings)
    results = await run_beside_requests(lambda: run_checks(checks, settings.health_timeout_seconds))
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        raise ServiceUnavailable(f"Not ready: {', '.join(failing)} unavailable.", extra={"checks": results})
    body: dict[str, Any] = {"status": "ok", "checks": results}
    return JSONResponse(body)

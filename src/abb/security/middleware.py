"""The security middleware (pure ASGI, inside the body-size limit): the caller's context for events, rate
limits per address, injection detection, the traffic anomaly detector, security headers, and 401/403
accounting (by route and role; 403s, and cross-tenant attempts, become events).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.config import Settings
from abb.core.errors import CROSS_TENANT_STATE, PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from abb.observability.logging import redact
from abb.security import detection
from abb.security.anomaly import RateAnomalyDetector
from abb.security.audit import writer
from abb.security.events import Caller, caller_var, emit
from abb.security.metrics import AUTHZ_DENIED, INJECTION_DETECTED, TRAFFIC_ANOMALIES
from abb.security.ratelimit import RateLimits

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# FastAPI's /docs page loads Swagger UI from its CDN and starts it with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
INSPECTED_BODIES = (b"application/json", b"application/x-www-form-urlencoded")
MAX_INSPECTED_BODY = 256 * 1024


def security_headers(settings: Settings) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """(headers for every answer, the same for /docs)."""
    common = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.hsts_seconds:
        common.append((b"strict-transport-security", f"max-age={settings.hsts_seconds}; includeSubDomains".encode()))
    return [*common, (b"content-security-policy", PAGE_CSP.encode())], [
        *common,
        (b"content-security-policy", DOCS_CSP.encode()),
    ]


def _anomaly(address: str, count: int, mean: float, z: float) -> None:
    TRAFFIC_ANOMALIES.inc()
    emit(
        "network",
        "traffic.anomaly",
        "unknown",
        source_ip=address,
        requests=count,
        baseline=round(mean, 2),
        z_score=round(z, 1),
    )


class SecurityMiddleware:
    # On SQLite a write committed while a request is between its first read and its first write makes that write
    # fail ("database is locked"), so there audit batches are written only when no request is in flight, and
    # requests wait while one is written (a few milliseconds). Both counters live on the event loop's thread.
    in_flight = 0
    writing = False

    def __init__(self, app: ASGIApp, *, settings: Settings, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits
        self.mode = settings.detection_mode
        self.flush_at_once = settings.security_flush_seconds == 0
        self.sqlite = settings.is_sqlite
        self.headers, self.docs_headers = security_headers(settings)
        self.anomalies = RateAnomalyDetector(
            interval=settings.anomaly_interval_seconds,
            z_threshold=settings.anomaly_z_threshold,
            min_requests=settings.anomaly_min_requests,
            on_anomaly=_anomaly,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else None
        state: dict[str, Any] = scope.setdefault("state", {})
        user_agent = None
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")[:256]
            elif name == b"content-type":
                content_type = value
        while SecurityMiddleware.writing:  # SQLite: no request starts while the audit batch is written
            await anyio.sleep(0.001)
        token = caller_var.set(Caller(ip, user_agent, state))
        SecurityMiddleware.in_flight += 1
        try:
            await self._handle(scope, receive, send, ip, state, content_type)
        finally:
            SecurityMiddleware.in_flight -= 1
            caller_var.reset(token)
            if writer.waiting and self.flush_at_once:
                await run_in_threadpool(writer.flush)
            elif writer.waiting and self.sqlite and not SecurityMiddleware.in_flight and not SecurityMiddleware.writing:
                # The last request in flight has ended: write now, and hold new requests until it is done (both
                # on the event loop's thread, so no request slips in between the check and the flag).
                SecurityMiddleware.writing = True
                try:
                    await run_in_threadpool(writer.flush)
                finally:
                    SecurityMiddleware.writing = False

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, ip: str | None, state: dict[str, Any], content_type: bytes
    ) -> None:
        path: str = scope["path"]
        extra = self.docs_headers if path.startswith(("/docs", "/openapi.json")) else self.headers
        if ip is not None:
            self.anomalies.seen(ip)
            retry = await self.limits.retry_after_for_address(path, scope["method"], ip)
            if retry is not None:
                await _refuse(
                    send,
                    429,
                    "too-many-requests",
                    "Too many requests",
                    f"Too many requests from your address; try again in {retry} s.",
                    extra,
                    [(b"retry-after", str(retry).encode())],
                )
                return
        if self.mode != "off":
            found = self._inspect_url(scope)
            if found is None and content_type.split(b";")[0].strip() in INSPECTED_BODIES:
                receive, found = await self._inspect_body(receive, content_type)
            if found is not None:
                kind, location, sample = found
                blocked = self.mode == "block"
                INJECTION_DETECTED.labels(kind, self.mode).inc()
                emit(
                    "intrusion_detection",
                    "injection.detected",
                    "failure" if blocked else "unknown",
                    kind=kind,
                    location=location,
                    route=path[:200],
                    sample=redact(sample[:120]),
                    mode=self.mode,
                )
                if blocked:
                    await _refuse(
                        send,
                        403,
                        "request-blocked",
                        "Request blocked",
                        "The request looks like an attack and was refused.",
                        extra,
                        [],
                    )
                    return
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _merge(message.get("headers", []), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
        if status in (401, 403):
            self._denied(scope, state, status)

    def _inspect_url(self, scope: Scope) -> tuple[str, str, str] | None:
        kind = detection.classify(scope.get("raw_path", b"").decode("latin-1") or scope["path"])
        if kind:
            return kind, "path", scope["path"]
        query = scope.get("query_string", b"")
        if query:
            # Each name and value on its own: "q=coffee&page=2" holds nothing to look at twice.
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)[: detection.MAX_VALUES]:
                for text in (name, value):
                    kind = detection.classify(text)
                    if kind:
                        return kind, f"query:{name[:40]}", text
        return None

    async def _inspect_body(self, receive: Receive, content_type: bytes) -> tuple[Receive, tuple[str, str, str] | None]:
        """Read the body (the body-size limit outside has bounded it), inspect it, and replay it to the app."""
        messages: list[Message] = []
        body = b""
        more = True
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        found = None
        if body and len(body) <= MAX_INSPECTED_BODY:
            found = _inspect_text_body(body, content_type)
        replay = iter(messages)

        async def replayed() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        return replayed, found

    def _denied(self, scope: Scope, state: dict[str, Any], status: int) -> None:
        route = scope.get("route")
        template = str(route.path_format) if route is not None else "unmatched"
        role = str(state.get("role", "anonymous"))
        AUTHZ_DENIED.labels(template, role, str(status)).inc()
        if state.get(CROSS_TENANT_STATE):
            emit(
                "iam",
                "access.cross_tenant",
                "failure",
                route=template,
                method=scope["method"],
                path=scope["path"][:200],
            )
        elif status == 403:
            emit("iam", "access.denied", "failure", route=template, method=scope["method"], role=role)


def _inspect_text_body(body: bytes, content_type: bytes) -> tuple[str, str, str] | None:
    text = body.decode("utf-8", "replace")
    if content_type.startswith(b"application/json"):
        try:
            values = list(detection.json_strings(json.loads(text)))
        except ValueError:
            values = [("body", text)]  # malformed JSON: FastAPI answers 400; still look at it
    else:
        values = [(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k not in detection.SKIPPED_FIELDS]
        values += [("", k) for k, _ in parse_qsl(text)][: detection.MAX_VALUES]
    for field, value in values[: detection.MAX_VALUES]:
        kind = detection.classify(value)
        if kind:
            return kind, f"body:{field}"[:80], value
    return None


def _merge(headers: Any, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    merged = list(headers)
    present = {name.lower() for name, _ in merged}
    merged.extend((name, value) for name, value in extra if name not in present)
    return merged


async def _refuse(
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    extra: list[tuple[bytes, bytes]],
    headers: list[tuple[bytes, bytes]],
) -> None:
    body = json.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

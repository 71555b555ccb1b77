"""RFC 9457 problem details: one exception family for business rules, one set of handlers.

Services raise `AppError` subclasses; the handlers below turn them, FastAPI's validation errors and
anything unexpected into `application/problem+json`. A problem's `type` is stable and never
carries request data, secrets or stack traces.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

# Errors that say the database cannot serve now (not that the request is wrong): 503 + Retry-After.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection within ABB_DATABASE_POOL_TIMEOUT
)
PROBLEM_MEDIA_TYPE = "application/problem+json"
CLIENT_CLOSED_REQUEST = 499
PROBLEM_BASE = "https://africabusinessbridge.example/problems/"
log = logging.getLogger("abb.errors")


class AppError(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class NotOwner(Forbidden):
    """Refused because the object exists but belongs to another user or company: a security event
    (`access.cross_tenant`) besides the 403."""


class HiddenFromCaller(NotFound):
    """Answered 404 so as not to reveal that the object exists, but it does and belongs to someone else:
    a security event (`access.cross_tenant`) like `NotOwner`."""


CROSS_TENANT_STATE = "abb_cross_tenant"  # set on the request's state when one of the two above is answered


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "This change is not allowed in the current state"


class Unprocessable(AppError):
    status, slug, title = 422, "validation-error", "The request is not valid"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class TooManyRequests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "A dependency is unavailable"


class Overloaded(ServiceUnavailable):
    """Shed before any work was done: the client may simply retry after Retry-After seconds."""

    slug, title = "overloaded", "The service is busy"


def retry_after(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


def database_problem(exc: Exception) -> tuple[str, str]:
    """The slug and title for a database error that is not the request's fault: busy (a lock or statement
    timeout, SQLite's write lock) or unavailable (no connection)."""
    text = str(getattr(exc, "orig", exc)).lower()
    busy = ("lock timeout", "statement timeout", "database is locked", "canceling statement")
    if any(word in text for word in busy):
        return "database-busy", "The database is busy"
    return "database-unavailable", "The database is unavailable"


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "The request is not valid"),
    429: ("too-many-requests", "Too many requests"),
}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    validation_errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Response:
    """problem+json for the API and for machines; an HTML page for a browser on a web page.

    The HTML renderer (`app.state.html_error_renderer`, set by the web layer) gets pydantic's own errors for a
    422 so that it can word each field's problem for people; the problem+json keeps the API's fields list.
    """
    app_state = getattr(request.scope.get("app"), "state", None)
    renderer = getattr(app_state, "html_error_renderer", None)
    if renderer is not None and _wants_html(request):
        response: Response = renderer(request, status, title, detail, validation_errors=validation_errors)
        return response
    return problem_response(status, slug, title, detail, request.url.path, **extra)


def problem_response(
    status: int, slug: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "profile", "sectors", 0) -> "profile.sectors[0]"; the "body"/"query" prefix is kept
    # only when the location is the whole body.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


def validation_problem(request: Request, errors: list[dict[str, Any]]) -> Response:
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(request, 400, "malformed-json", "Malformed JSON", "The request body is not valid JSON.")
    fields = [
        {
            "field": field_name(tuple(e.get("loc", ()))),
            "message": e.get("msg", "invalid"),
            "code": e.get("type"),
        }
        for e in errors
    ]
    names = ", ".join(sorted({f["field"] for f in fields}))
    return error_response(
        request,
        422,
        "validation-error",
        "The request is not valid",
        f"Invalid field(s): {names}",
        validation_errors=errors,
        errors=fields,
    )


def install_error_handlers(app: FastAPI, *, retry_after_seconds: int = 2) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if isinstance(exc, NotOwner | HiddenFromCaller):
            setattr(request.state, CROSS_TENANT_STATE, True)
        response = error_response(request, exc.status, exc.slug, exc.title, exc.detail, **exc.extra)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    retry_seconds = str(retry_after_seconds)

    async def _database_error(request: Request, exc: Exception) -> Response:
        # Lost or refused connections (a restart, a failover in progress), pool and lock timeouts: transient,
        # so 503 and a retry hint; never a 500.
        slug, title = database_problem(exc)
        log.warning("database error answered 503", extra={"error.type": type(exc).__name__, "problem": slug})
        detail = "Please retry shortly."
        response = error_response(request, 503, slug, title, detail)
        response.headers["Retry-After"] = retry_seconds
        return response

    for error in DATABASE_UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database_error)

    @app.exception_handler(ClientDisconnect)
    async def _client_left(_request: Request, _exc: ClientDisconnect) -> Response:
        # The client went away before its body arrived (a load test stopping, a closed tab): nobody reads the
        # answer, and it is not a server error. 499 is nginx's "client closed request".
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_problem(request, list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = error_response(request, exc.status_code, slug, title, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"error.type": type(exc).__name__})
        return error_response(request, 500, "internal-error", "Internal server error", "An unexpected error occurred.")

"""HTTP plumbing shared by every router: body size limit, pagination, the session and settings dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.config import Settings
from abb.core.errors import error_response


class BodySizeLimitMiddleware:
    """Answer 413 before reading more than `max_bytes` of a request body (declared or streamed).

    `prefix_limits` gives paths starting with a prefix their own limit (file uploads need more than JSON).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, prefix_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix_limits = prefix_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for prefix, n in self.prefix_limits.items() if path.startswith(prefix)), self.max_bytes)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await self._reject(scope, receive, send, limit)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._reject(scope, receive, send, limit)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        # The same answer as any other error: problem+json, or the site's error page for a browser.
        request = Request(scope, receive)
        detail = f"The request body exceeds {limit} bytes."
        response = error_response(request, 413, "payload-too-large", "Request body too large", detail)
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Dependencies that do no I/O are `async def`: FastAPI runs every sync dependency in the thread pool,
    # and those hops cost more than the work on a busy core. Opening a session does no I/O; closing it
    # returns the connection (a rollback on the wire), so that part runs in the thread pool.
    session = request.app.state.db.session_factory()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100)")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(from_attributes=True)

    items: list[T]
    total: int
    limit: int
    offset: int


# Ids in paths are bounded so that an absurd id is a 422, not a database overflow.
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]

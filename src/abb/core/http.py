"""HTTP plumbing shared by every router: body size limit, admission (load shedding), pagination, the session
and settings dependencies."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Generic, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.config import Settings
from abb.core.errors import Overloaded, error_response, retry_after


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


class AdmissionGate:
    """At most `limit` requests of this process hold a database session at once; the others wait in arrival
    order, at most `max_waiting` of them and each at most `wait_seconds`; beyond either bound a request is
    shed with 503 + Retry-After (`Overloaded`) before it did any work.

    Why this cannot deadlock (docs/capacity.md): `limit` is at most the pool's size, so an admitted request's
    checkout never waits for a connection; it waits at most for a thread, and every thread is busy with an
    admitted request that waits for nothing of ours (a row lock ends within ABB_DATABASE_LOCK_TIMEOUT_SECONDS).
    Giving a session back (its rollback and the connection's return) runs on threads reserved for that,
    `closers`, so it never queues behind requests waiting for a thread, and a request that failed holding a
    row lock releases it at once. Waiting happens here, on the event loop, where it costs a future.
    """

    def __init__(
        self,
        *,
        limit: int,
        max_waiting: int,
        wait_seconds: float,
        retry_after_seconds: int,
        on_shed: Callable[[str], None] | None = None,
    ) -> None:
        self.limit = limit
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self.retry_after_seconds = retry_after_seconds
        self.on_shed = on_shed
        self.admitted = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closers: anyio.CapacityLimiter | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def closers(self) -> anyio.CapacityLimiter:
        """Threads only for giving sessions back: one for every request that can hold one."""
        if self._closers is None:  # made on the event loop that serves the requests
            self._closers = anyio.CapacityLimiter(self.limit)
        return self._closers

    async def enter(self) -> None:
        if self.admitted < self.limit and not self._waiters:
            self.admitted += 1
            return
        if len(self._waiters) >= self.max_waiting:
            raise self._shed("queue_full")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.wait_seconds, _expire, waiter)
        try:
            await waiter
        except _QueueTimeout:
            raise self._shed("queue_timeout") from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.leave()  # handed a place just as the client went away: pass it on
            raise
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def leave(self) -> None:
        """Hand this request's place to the longest waiting one (admitted stays the same), or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.admitted -= 1

    def _shed(self, reason: str) -> Overloaded:
        if self.on_shed is not None:
            self.on_shed(reason)
        return Overloaded(
            "Too many requests are waiting; please retry shortly.", headers=retry_after(self.retry_after_seconds)
        )


class _QueueTimeout(Exception):
    pass


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(_QueueTimeout())


_READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Dependencies that do no I/O are `async def`: FastAPI runs every sync dependency in the thread pool,
    # and those hops cost more than the work on a busy core. Waiting for admission and opening a session do
    # no I/O; giving the session back (a rollback on the wire, the connection's return) runs on the gate's
    # own threads (AdmissionGate explains why).
    state = request.app.state
    gate: AdmissionGate = state.gate
    await gate.enter()
    try:
        database = state.db
        factory = database.session_factory if request.method in _READ_METHODS else database.write_session_factory
        session = factory()
        try:
            yield session
        finally:
            if session.in_transaction():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(session.close, limiter=gate.closers)
            else:
                session.close()  # no connection held: nothing on the wire
    finally:
        gate.leave()


SessionDep = Annotated[Session, Depends(get_session)]


async def password_hashing_turn(request: Request) -> AsyncIterator[None]:
    """A turn among the requests that run Argon2, taken before their session and their thread: a burst of
    sign-ins waits here, each a future on the event loop, holding no admission place and no thread that other
    requests need. Put it in the route's `dependencies` (those are resolved before the parameters)."""
    gate: AdmissionGate = request.app.state.hashing_gate
    await gate.enter()
    try:
        yield
    finally:
        gate.leave()


PASSWORD_HASHING_TURN = Depends(password_hashing_turn)


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

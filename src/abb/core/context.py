"""The request context: the request's id, the acting user and the client's address, kept in one place.

The observability middleware binds the request id for the whole request (log lines, the access line, a
task's header read it from here); the sign-in dependencies record the acting user with `set_actor`.
The actor is kept on the ASGI scope's state, not in a context variable: FastAPI runs each sync
dependency in a copy of the context, so a variable set there would be gone before the handler runs, while
the scope lives for the whole request and is what the access line reads after the answer.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.requests import HTTPConnection
from starlette.types import Scope

# The id of the request being answered, or of the request that queued the running task.
request_id_var: ContextVar[str | None] = ContextVar("abb_request_id", default=None)
ACTOR_STATE_KEY = "user_id"


def set_actor(connection: HTTPConnection, user_id: int) -> None:
    """Record who is acting on this request (a bearer token's or a browser session's user)."""
    connection.state.user_id = user_id


def actor_id(scope: Scope) -> str | None:
    """The acting user's id as text, once a sign-in dependency recorded it; None for anonymous requests."""
    state = scope.get("state")
    return str(state[ACTOR_STATE_KEY]) if state and ACTOR_STATE_KEY in state else None


def client_ip(scope: Scope) -> str | None:
    """The peer's address (behind a trusted proxy uvicorn's --proxy-headers puts X-Forwarded-For's here)."""
    client = scope.get("client")
    return str(client[0]) if client else None

"""Test-only fault injection: lets the live monitoring tests make real requests fail on demand.

Installed only when ABB_ENV=test and ABB_FAULT_INJECTION=true (production refuses the setting, see
`Settings.check_production`). A request carrying `X-Abb-Fault: error` is routed and handled as usual,
then its answer is replaced by a 500 problem, so metrics and logs see a real 5xx on the real route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.config import Settings
from abb.core.errors import problem_response

FAULT_HEADER = b"x-abb-fault"


def fault_injection_enabled(settings: Settings) -> bool:
    return settings.env == "test" and settings.fault_injection


class FaultInjectionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (FAULT_HEADER, b"error") not in scope["headers"]:
            await self.app(scope, receive, send)
            return

        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)
        response = problem_response(
            500, "injected-fault", "Injected fault", "A test asked for this request to fail.", scope["path"]
        )
        await response(scope, receive, send)

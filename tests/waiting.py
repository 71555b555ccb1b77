"""The one way a test waits: poll a check until it holds, and fail loudly, saying what was awaited, when the
deadline passes. Deadlines are generous upper bounds (a busy CI machine is slow), never timings under test."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimedOut(AssertionError):
    """A wait's deadline passed before its check held."""


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    every: float = 0.1,
    detail: Callable[[], object] | None = None,
) -> T:
    """Return the first truthy result of `check`; raise `WaitTimedOut` naming `what` after `timeout` seconds.
    `detail` is called at the deadline for what the failure message should show (a log, a list received)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            shown = f"\n{detail()}" if detail is not None else ""
            raise WaitTimedOut(f"timed out after {timeout}s waiting for {what}{shown}")
        time.sleep(every)

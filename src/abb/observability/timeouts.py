"""Blocking checks with a deadline (the caller gets an answer in time even if a check hangs), and the
threads the operations endpoints (/health/ready, /metrics) do their blocking work on."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
# A few threads: checks that hang (a dead database host) run out on their own timeouts meanwhile.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="abb-check")
# Not the request thread pool (ABB_THREADPOOL_SIZE): a probe or a scrape answers even while every request
# thread is busy, and never takes a thread a request is waiting for.
_operations_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="abb-ops")


async def run_beside_requests(work: Callable[[], T]) -> T:
    """`work()` on the operations threads, awaited without blocking the event loop."""
    context = contextvars.copy_context()  # the request id follows into log lines written there
    return await asyncio.wrap_future(_operations_executor.submit(context.run, work))


def run_with_timeout(check: Callable[[], T], timeout: float) -> T:
    """`check()`'s result, or TimeoutError after `timeout` seconds (the check is left to finish)."""
    return _executor.submit(check).result(timeout=timeout)


def run_checks(checks: dict[str, Callable[[], object]], timeout: float) -> dict[str, str]:
    """Run every check at once; each is "ok", "timeout" or the error's type, all within `timeout` seconds."""
    futures = {name: _executor.submit(check) for name, check in checks.items()}
    deadline = time.monotonic() + timeout
    results: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            results[name] = "timeout"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return results

"""Run a blocking check with a deadline: the caller gets an answer in time even if the check hangs."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
# A few threads: checks that hang (a dead database host) run out on their own timeouts meanwhile.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="abb-check")


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

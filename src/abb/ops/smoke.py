"""Smoke test of a deployed environment, run by the pipeline against staging and against each production
canary step (.github/workflows/pipeline.yml):

    python -m abb.ops.smoke https://staging.africabusinessbridge.example [--expect-metrics-closed]

Read-only journeys a user and an operator depend on: the process answers, its dependencies answer, the
pages render, the API answers bad input with problem+json, and (behind the load balancer) Cloud Armor keeps
/metrics closed. Exit status 1 names each failed check.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Check:
    name: str
    method: str
    path: str
    passes: Callable[[httpx.Response], bool]


def _is_problem(status: int) -> Callable[[httpx.Response], bool]:
    return lambda r: (
        r.status_code == status and r.headers.get("content-type", "").startswith("application/problem+json")
    )


CHECKS = (
    Check("process answers", "GET", "/health/live", lambda r: r.status_code == 200),
    Check("dependencies answer", "GET", "/health/ready", lambda r: r.status_code == 200),
    Check("sign-in page renders", "GET", "/login", lambda r: r.status_code == 200 and "<form" in r.text),
    Check("API docs render", "GET", "/docs", lambda r: r.status_code == 200),
    Check("unknown API path is a problem+json 404", "GET", "/api/v1/no-such-thing", _is_problem(404)),
    Check("anonymous API call is a problem+json 401", "GET", "/api/v1/me/profile", _is_problem(401)),
)
METRICS_CLOSED = Check("/metrics closed at the edge", "GET", "/metrics", lambda r: r.status_code in (403, 404))


def run(client: httpx.Client, *, expect_metrics_closed: bool) -> list[str]:
    """The names of the checks that failed, with what came back."""
    failures = []
    for check in (*CHECKS, METRICS_CLOSED) if expect_metrics_closed else CHECKS:
        try:
            response = client.request(check.method, check.path)
        except httpx.HTTPError as exc:
            failures.append(f"{check.name}: {check.method} {check.path} raised {exc!r}")
            continue
        if not check.passes(response):
            failures.append(f"{check.name}: {check.method} {check.path} -> {response.status_code}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a deployed environment.")
    parser.add_argument("base_url")
    parser.add_argument("--expect-metrics-closed", action="store_true", help="behind the load balancer")
    args = parser.parse_args(argv)
    with httpx.Client(base_url=args.base_url, timeout=10, follow_redirects=False) as client:
        failures = run(client, expect_metrics_closed=args.expect_metrics_closed)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"{len(CHECKS) + args.expect_metrics_closed - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make perf`: load tests of the service as deployed (seed §1.3), in steps, with the knee and a JSON report.

    .venv/bin/python perf/run.py                      # steps of 50, 100, 150 … users, 30 s each
    .venv/bin/python perf/run.py --step-seconds 20 --max-users 150 --pushgateway http://127.0.0.1:9091

A throwaway PostgreSQL (tests/harness) gets the demo data (`abb seed-demo`); `abb serve --workers N` runs with
production settings (ABB_ENV=production: a random secret key, Secure cookies, metrics and access log on); locust
runs headless against loopback (perf/locustfile.py); users start at 2 a second (each signs in: Argon2 at production
cost) and the step's figures cover the `--step-seconds` after all have started: 50 users, then 50 more each
step until p95 passes 1 s, errors appear, or `--max-users` (the run is bounded). For each step: a table per
endpoint (requests/s, p50/p95/p99, errors), and where the time goes from the service's own /metrics (database
statement time and pool waits per request, against request time). The knee is the most users with p95 < 300 ms
and no errors. Targets at 50 users: no errors, reads p95 < 100 ms, writes p95 < 300 ms. The report is written
to var/perf/report.json and, with --pushgateway (or ABB_PUSHGATEWAY_URL), pushed under job abb-perf for the
Development dashboard ("Load tests" row).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.harness.serve import Served  # noqa: E402 - after the path is set
from tests.harness.services import PostgresServer  # noqa: E402

BIN = Path(sys.executable).parent
WRITES = ("POST", "PUT", "PATCH", "DELETE")
READ_P95, WRITE_P95, KNEE_P95, STOP_P95 = 0.100, 0.300, 0.300, 1.0
# Users start at this rate: each signs in (Argon2 at production cost, one at a time per worker: about 2 per
# second per worker on a busy 2-core machine), and the step's figures start once all have started.
SPAWN_RATE = 2


# Production refuses to serve /metrics without a guard: this run's own token opens it.
METRICS_TOKEN = secrets.token_urlsafe(32)


def production_env(base: dict[str, str]) -> dict[str, str]:
    """The served app's environment: production settings (tests/test_perf_run.py checks they start)."""
    return {
        **base,
        "ABB_ENV": "production",
        "ABB_SECRET_KEY": secrets.token_urlsafe(48),
        "ABB_METRICS_TOKEN": METRICS_TOKEN,
        "ABB_HOST_METRICS": "false",
    }


def metric_sums(url: str) -> dict[str, float]:
    """Counters from the service's /metrics that tell where request time went (summed over workers)."""
    page = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30).text

    def total(pattern: str) -> float:
        return sum(float(v) for v in re.findall(pattern, page, re.M))

    return {
        "http_seconds": total(r'^abb_http_request_duration_seconds_sum\{[^}]*route="/api[^}]*\} (\S+)')
        + total(r'^abb_http_request_duration_seconds_sum\{[^}]*route="/(?:partners|matches)"[^}]*\} (\S+)'),
        "requests": total(r'^abb_http_request_duration_seconds_count\{[^}]*route="/api[^}]*\} (\S+)')
        + total(r'^abb_http_request_duration_seconds_count\{[^}]*route="/(?:partners|matches)"[^}]*\} (\S+)'),
        "db_seconds": total(r"^abb_db_query_duration_seconds_sum\{[^}]*\} (\S+)"),
        "db_statements": total(r"^abb_db_query_duration_seconds_count\{[^}]*\} (\S+)"),
        "pool_wait_seconds": total(r"^abb_db_pool_wait_seconds_sum (\S+)"),
        "shed": total(r"^abb_http_requests_shed_total\{[^}]*\} (\S+)"),
    }


def read_stats(prefix: Path) -> list[dict[str, Any]]:
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if not row["Request Count"] or row["Request Count"] == "0":
                continue
            rows.append(
                {
                    "method": row["Type"],
                    "endpoint": row["Name"],
                    "requests": int(row["Request Count"]),
                    "errors": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]),
                    "p50": float(row["50%"] or 0) / 1000,
                    "p95": float(row["95%"] or 0) / 1000,
                    "p99": float(row["99%"] or 0) / 1000,
                }
            )
    return rows


def run_step(url: str, users: int, seconds: int, work: Path) -> tuple[list[dict[str, Any]], dict[str, float]]:
    before = metric_sums(url)
    prefix = work / f"step-{users}"
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "perf" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(SPAWN_RATE),
        "-t",
        f"{users // SPAWN_RATE + seconds}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--reset-stats",  # figures from the moment every user is started (sign-ins are their own, costly, phase)
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(command, check=False, capture_output=True, timeout=seconds + 120)
    after = metric_sums(url)
    return read_stats(prefix), {key: after[key] - before[key] for key in after}


def print_step(users: int, rows: list[dict[str, Any]], delta: dict[str, float]) -> None:
    print(f"\n{users} users")
    print(f"  {'endpoint':<46} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in sorted(rows, key=lambda r: -r["p95"]):
        name = f"{row['method']} {row['endpoint']}" if row["endpoint"] != "Aggregated" else "all"
        print(
            f"  {name:<46} {row['rps']:>7.1f} {row['p50'] * 1000:>8.0f} {row['p95'] * 1000:>8.0f}"
            f" {row['p99'] * 1000:>8.0f} {row['errors']:>7}"
        )
    if delta["requests"]:
        per_request = delta["http_seconds"] / delta["requests"]
        db = delta["db_seconds"] / delta["requests"]
        wait = delta["pool_wait_seconds"] / delta["requests"]
        print(
            f"  per request (service's metrics): {per_request * 1000:.1f} ms in all, database statements "
            f"{db * 1000:.1f} ms ({db / per_request:.0%}, {delta['db_statements'] / delta['requests']:.1f} "
            f"statements), pool wait {wait * 1000:.2f} ms; the rest is Python (routing, validation, "
            f"templates, hashing) and queueing for the worker's core; shed {delta['shed']:.0f}"
        )


def push(gateway: str, report: dict[str, Any]) -> None:
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    knee = Gauge("abb_perf_knee_users", "Most users with p95 < 300 ms and no errors", registry=registry)
    knee.set(report["knee_users"])
    latency = Gauge(
        "abb_perf_latency_seconds", "Latency by endpoint and step", ["endpoint", "users", "quantile"], registry=registry
    )
    rps = Gauge(
        "abb_perf_requests_per_second", "Throughput by endpoint and step", ["endpoint", "users"], registry=registry
    )
    errors = Gauge("abb_perf_errors", "Errors by endpoint and step", ["endpoint", "users"], registry=registry)
    for step in report["steps"]:
        for row in step["endpoints"]:
            name, users = f"{row['method']} {row['endpoint']}".strip(), str(step["users"])
            for quantile in ("p50", "p95", "p99"):
                latency.labels(name, users, f"0.{quantile[1:]}").set(row[quantile])
            rps.labels(name, users).set(row["rps"])
            errors.labels(name, users).set(row["errors"])
    pushadd_to_gateway(gateway, job="abb-perf", registry=registry, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--step-seconds", type=int, default=30)
    parser.add_argument("--first-users", type=int, default=50)
    parser.add_argument("--step-users", type=int, default=50)
    parser.add_argument("--max-users", type=int, default=300)
    parser.add_argument("--pushgateway", default=os.environ.get("ABB_PUSHGATEWAY_URL", ""))
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "perf" / "report.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="abb-perf-"))
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)
    postgres = PostgresServer.launch()
    try:
        url = postgres.create_database("abb_perf")
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        base.update({"ABB_DATABASE_URL": url, "ABB_VAR_DIR": str(work)})
        seeding = {**base, "ABB_ENV": "test", "ABB_SECRET_KEY": secrets.token_urlsafe(32)}
        subprocess.run([str(BIN / "abb"), "migrate"], env=seeding, check=True, capture_output=True, timeout=300)
        smes = os.environ.get("ABB_PERF_SMES", "300")
        subprocess.run(
            [str(BIN / "abb"), "seed-demo", "--smes", smes, "--partners", smes],
            env=seeding,
            check=True,
            capture_output=True,
            timeout=900,
        )
        steps: list[dict[str, Any]] = []
        with Served(production_env(base), work / "serve.log", workers=args.workers) as served:
            users = args.first_users
            while users <= args.max_users:
                rows, delta = run_step(served.url, users, args.step_seconds, work)
                print_step(users, rows, delta)
                total = next((r for r in rows if r["endpoint"] == "Aggregated"), None)
                steps.append({"users": users, "endpoints": rows, "metrics": delta})
                if total is None or total["errors"] or total["p95"] > STOP_P95:
                    break
                users += args.step_users
    finally:
        postgres.close()
    knee = max(
        (s["users"] for s in steps if _aggregate(s)["p95"] < KNEE_P95 and not _aggregate(s)["errors"]), default=0
    )
    first = steps[0]
    checks = {
        "no errors at the first step": all(r["errors"] == 0 for r in first["endpoints"]),
        "reads p95 < 100 ms at the first step": all(
            r["p95"] < READ_P95 for r in first["endpoints"] if r["method"] == "GET" and "page" not in r["endpoint"]
        ),
        "writes p95 < 300 ms at the first step": all(
            r["p95"] < WRITE_P95 for r in first["endpoints"] if r["method"] in WRITES and "sign in" not in r["endpoint"]
        ),
    }
    report = {
        "workers": args.workers,
        "knee_users": knee,
        "steps": steps,
        "checks": checks,
        "time": time.time(),
        "load_average_after": Path("/proc/loadavg").read_text().split()[:3],
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2))
    print(f"\nknee: {knee} users (most with p95 < 300 ms and no errors); report: {args.report}")
    for name, ok in checks.items():
        print(f"  {'ok    ' if ok else 'MISSED'} {name}")
    print(f"load average after: {' '.join(report['load_average_after'])}")
    if args.pushgateway:
        push(args.pushgateway, report)
        print(f"pushed to {args.pushgateway} (job abb-perf)")


def _aggregate(step: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in step["endpoints"] if r["endpoint"] == "Aggregated")


if __name__ == "__main__":
    main()

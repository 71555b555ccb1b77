"""What observability costs: throughput and p99 of the same app with instrumentation off and on.

    .venv/bin/python benchmarks/overhead.py               # 10 rounds, about 7 minutes
    .venv/bin/python benchmarks/overhead.py --rounds 1 --slices 2   # a quick look

Each round starts one `abb serve` worker per variant, all pinned to CPU 0 with taskset (an idle server
costs nothing); wrk (Debian's package, installed here when missing and root) on CPU 1 loads one server
at a time, the variants taking 1-second turns (ABC CBA ABC CBA, 4 turns each per endpoint); then the
round's servers stop:
- plain: ABB_METRICS_ENABLED=false, ABB_ACCESS_LOG=false (no middleware, no database hooks) = 1.00
- metrics+logs: the defaults (RED metrics, request ids, one JSON access line per request, to a file)
- +tracing 10%: the same plus OpenTelemetry at ABB_TRACING_SAMPLE_RATIO=0.1, exported over OTLP/HTTP
  to a local sink in this process
Endpoints: a trivial JSON endpoint (GET /health/live) and a database-backed read (GET /api/v1/me: JWT
check and a user read from the embedded SQLite database). Reported: median requests/s, p99 and server CPU
per request over the rounds, and each variant's ratio to plain: the median, over every slice of every
round, of the variant's turn over plain's turn in that slice (the verdict; turns a second apart see the
same machine), with the middle half of those ratios; the median of the rounds' own ratios; and the
variant's median throughput over plain's, as the issue measured its reference figures. Why this shape:
on a shared machine the speed of one server changes from one second to the next (another tenant's burst
can halve a turn), and two processes of the very same app differ for their whole life, so each round
compares fresh processes in turns a second long, and the median over 40 pairs of adjacent turns keeps a
few unlucky seconds from deciding (the median over 10 rounds' averages cannot: one burst moves a round).
Targets (issue 5): metrics+logs >= 0.80x (trivial) and >= 0.95x (database), +tracing 10% >= 0.60x
(trivial); /metrics renders in under 20 ms after 100,000 requests over 50 routes (measured in this
process, through the same middleware and registry).

    .venv/bin/python benchmarks/overhead.py --security    # what security costs (issue 15), same method

With --security the variants are the security middleware's detection modes: `detection off`
(ABB_DETECTION_MODE=off, the baseline = 1.00), `detection log` (the default) and `detection block`, all
with metrics and access lines on. Endpoints: /health/live (only the path to inspect), the same with a
realistic query string (quotes, dashes, percentages, SQL-like words: each value goes through libinjection),
GET /api/v1/me, and GET /api/v1/admin/users with the same SME token: a 403 whose every request raises an
`access.denied` security event, written to the hash-chained audit table in batches. Event writing is read
from the last two: "403+event" over "database" per round (the same token check and user read; the refusal
adds an exception, a problem+json body and the event), and, in this process, the request path's share
(`emit`: a counter and a deque append) and a batch write's cost per event; the audit rows written are
counted against the refused requests sent (events are kept, never dropped, when batches fall behind).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx

from abb.ops.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
ABB = str(Path(sys.executable).with_name("abb"))
PASSWORD = "olive-groves-of-puglia-2026"
VARIANTS: dict[str, dict[str, str]] = {
    "plain": {"ABB_METRICS_ENABLED": "false", "ABB_ACCESS_LOG": "false"},
    "metrics+logs": {},
    "+tracing 10%": {"ABB_TRACING_ENABLED": "true", "ABB_TRACING_SAMPLE_RATIO": "0.1"},
}
TARGETS = {("metrics+logs", "trivial"): 0.80, ("metrics+logs", "database"): 0.95, ("+tracing 10%", "trivial"): 0.60}
SECURITY_VARIANTS: dict[str, dict[str, str]] = {
    "detection off": {"ABB_DETECTION_MODE": "off"},
    "detection log": {"ABB_DETECTION_MODE": "log"},
    "detection block": {"ABB_DETECTION_MODE": "block"},
}
# Legitimate text with what makes detection look closer: quotes, dashes, a percentage, SQL-like words.
LEGIT_QUERY = urlencode(
    {
        "q": 'Frantoio D\'Angelo: olio extra-vergine, 20% sconto - select drop-off "Puglia" union of growers',
        "contact": "Siobhan O'Brien",
        "sector": "agri-food",
        "page": "2",
    }
)
# Each request a security event: an SME asks for the admins' user list.
EVENT_PATH = "/api/v1/admin/users"


# The rate limits out of the way: wrk sends thousands of requests a second from one address and one user.
UNLIMITED_RATES = {"ABB_RATE_LIMIT_IP": "100000000/minute", "ABB_RATE_LIMIT_USER": "100000000/minute"}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install wrk (Debian package), or run this as root to have it installed")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


class OtlpSink:
    """Accepts OTLP/HTTP exports and drops them, so that tracing pays its real export cost."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def prepare_database(base_env: dict[str, str]) -> None:
    subprocess.run([ABB, "migrate"], env=base_env, check=True, capture_output=True, timeout=300)


def sign_in(url: str) -> dict[str, str]:
    """The benchmark user (registered by the first server; 409 afterwards) and its bearer header."""
    account = {"email": "bench@example.com", "password": PASSWORD, "full_name": "Bench", "role": "sme"}
    httpx.post(f"{url}/api/v1/auth/register", json=account, timeout=30)
    login = httpx.post(f"{url}/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD}, timeout=30)
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    # One request alone records the user's activity; concurrent first requests would all try that write.
    httpx.get(f"{url}/api/v1/me", headers=auth, timeout=30).raise_for_status()
    return auth


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", ABB, "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start; see {log}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat), immune to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WrkRun(NamedTuple):
    rps: float
    p99: float  # seconds
    cpu: float  # server CPU seconds in the run
    requests: int


def run_wrk(wrk: str, url: str, seconds: int, headers: dict[str, str], pid: int, *, refused: bool = False) -> WrkRun:
    """One wrk run on CPU 1 against the server process `pid` (`refused`: every answer is meant to be a 4xx)."""
    cpu_before = cpu_seconds(pid)
    cmd = ["taskset", "-c", "1", wrk, "-t1", "-c16", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors and not refused:
        raise RuntimeError(f"wrk saw error answers from {url}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if refused and errors is None:
        raise RuntimeError(f"{url} was meant to refuse every request:\n{out}")
    return WrkRun(rps, float(value) * _UNITS[unit], cpu_seconds(pid) - cpu_before, requests)


def combine(runs: list[WrkRun]) -> tuple[float, float, float]:
    """A round's slices of one variant as (requests/s, p99 seconds, CPU seconds per request)."""
    requests = sum(run.requests for run in runs)
    return (
        statistics.fmean(run.rps for run in runs),  # slices of equal length
        statistics.median(run.p99 for run in runs),
        sum(run.cpu for run in runs) / max(requests, 1),
    )


def measure_metrics_render(work: Path) -> tuple[float, int]:
    """Median /metrics render time after 100,000 requests over 50 routes through the real middleware."""
    os.environ.update(
        {"ABB_ENV": "test", "ABB_VAR_DIR": str(work), "ABB_DATABASE_URL": f"sqlite:///{work / 'abb.sqlite3'}"}
    )
    from prometheus_client import generate_latest

    from abb.app import DATABASE_GAUGES
    from abb.core.config import get_settings
    from abb.core.database import Database
    from abb.observability.collectors import BuildInfoCollector, DatabaseCollector, HostCollector
    from abb.observability.metrics import exposition_registry
    from abb.observability.middleware import ObservabilityMiddleware

    class Route:
        def __init__(self, n: int) -> None:
            self.path_format = f"/api/v1/bench{n}/{{item_id}}"

    routes = [Route(n) for n in range(50)]

    async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["route"] = routes[scope["n"] % 50]
        status = 404 if scope["n"] % 10 == 0 else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    middleware = ObservabilityMiddleware(endpoint, metrics=True, access_log=False)

    async def drive() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(_message: dict[str, Any]) -> None:
            pass

        for n in range(100_000):
            scope = {"type": "http", "method": "GET", "path": f"/x/{n}", "headers": [], "n": n}
            await middleware(scope, receive, send)

    asyncio.run(drive())
    settings = get_settings()
    database = Database(settings)
    registry = exposition_registry(
        [
            BuildInfoCollector(settings),
            DatabaseCollector(lambda: database.engine, settings, DATABASE_GAUGES),
            HostCollector(),
        ]
    )
    generate_latest(registry)  # warm: first database read, first psutil sample
    times = []
    for _ in range(20):
        start = time.perf_counter()
        page = generate_latest(registry)
        times.append(time.perf_counter() - start)
    database.dispose()
    return statistics.median(times), len(page)


Endpoint = tuple[str, str, dict[str, str]]  # (name, path, headers)
Results = dict[tuple[str, str], list[tuple[float, float, float]]]


def run_rounds(
    args: argparse.Namespace,
    wrk: str,
    base_env: dict[str, str],
    work: Path,
    variants: dict[str, dict[str, str]],
    endpoints_for: Any,
) -> tuple[Results, dict[tuple[str, str], list[float]], dict[str, int]]:
    """Every round: fresh servers of every variant, then turns of every variant on every endpoint. Returns
    each (variant, endpoint)'s rounds as (req/s, p99, CPU/request), its turns' ratios to the first variant,
    and the requests sent to each endpoint."""
    baseline = next(iter(variants))
    results: Results = {}
    # Each turn's throughput over the baseline's turn in the same slice (ABC: run seconds apart).
    turn_ratios: dict[tuple[str, str], list[float]] = {}
    sent: dict[str, int] = {}
    started = time.monotonic()
    auth: dict[str, str] = {}
    for round_no in range(1, args.rounds + 1):
        # Fresh servers every round: two servers of the very same app can differ by several per cent for
        # their whole life, so each round samples new processes. All variants' servers run at once (an idle
        # one costs nothing) and take 1-second turns, so the machine's slower and faster spells hit them alike.
        servers: dict[str, Server] = {}
        try:
            for variant, overrides in variants.items():
                env = {**base_env, "ABB_TRACING_ENABLED": "false", **overrides}
                log = work / f"server-{variant.replace(' ', '_').replace('%', '')}-{round_no}.log"
                servers[variant] = Server(env, log)
            auth = auth or sign_in(servers[baseline].url)  # one user in the shared database, valid everywhere
            endpoints: list[Endpoint] = endpoints_for(auth)
            for server in servers.values():
                for endpoint, path, headers in endpoints:
                    warm = run_wrk(wrk, server.url + path, 1, headers, server.process.pid, refused=path == EVENT_PATH)
                    sent[endpoint] = sent.get(endpoint, 0) + warm.requests
            for endpoint, path, headers in endpoints:
                slices: dict[str, list[WrkRun]] = {variant: [] for variant in variants}
                for slice_no in range(args.slices):
                    # ABC CBA ABC …: a variant runs next to every other one, first and last alike.
                    order = list(variants) if (round_no + slice_no) % 2 else list(reversed(variants))
                    for variant in order:
                        server = servers[variant]
                        slices[variant].append(
                            run_wrk(
                                wrk,
                                server.url + path,
                                args.seconds,
                                headers,
                                server.process.pid,
                                refused=path == EVENT_PATH,
                            )
                        )
                for variant, turns in slices.items():
                    sent[endpoint] = sent.get(endpoint, 0) + sum(turn.requests for turn in turns)
                    results.setdefault((variant, endpoint), []).append(combine(turns))
                    turn_ratios.setdefault((variant, endpoint), []).extend(
                        turn.rps / base.rps for turn, base in zip(turns, slices[baseline], strict=True)
                    )
        finally:
            for server in servers.values():
                server.stop()
        print(f"round {round_no} done ({time.monotonic() - started:.0f} s)", flush=True)
    return results, turn_ratios, sent


def print_table(
    args: argparse.Namespace,
    results: Results,
    turn_ratios: dict[tuple[str, str], list[float]],
    variants: dict[str, dict[str, str]],
    endpoints: list[str],
    targets: dict[tuple[str, str], float],
) -> None:
    baseline = next(iter(variants))
    print(f"\nmedians of {args.rounds} rounds of {args.slices} turns; 1 worker on CPU 0, wrk -t1 -c16 on CPU 1")
    print(f"ratio: the median over every slice of the variant's turn over {baseline}'s turn in that slice (turns a")
    print("second apart, fresh servers every round; the verdict), with the middle half (25th-75th percentile) of")
    print("those ratios; by round: the median of the rounds' own ratios; of medians: the variant's median throughput")
    print(f"over {baseline}'s, as the issue measured its reference figures; CPU ratio: by round, as ratio\n")
    header = ("endpoint", "variant", "req/s", "p99 ms", "ratio", "middle half", "target", "by round", "of medians")
    print("{:<10} {:<16} {:>8} {:>8} {:>6} {:>12} {:>12} {:>9} {:>10}".format(*header), end="")
    print(" {:>11} {:>9}".format("CPU us/req", "CPU ratio"))
    for endpoint in endpoints:
        plain = results[(baseline, endpoint)]
        plain_rps = statistics.median(r[0] for r in plain)
        for variant in variants:
            runs = results[(variant, endpoint)]
            rps = statistics.median(r[0] for r in runs)
            p99 = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[2] for r in runs)
            ratios = turn_ratios[(variant, endpoint)]
            ratio = statistics.median(ratios)
            quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
            spread = f"{quartiles[0]:.2f}-{quartiles[2]:.2f}"
            by_round = statistics.median(run[0] / base[0] for run, base in zip(runs, plain, strict=True))
            # CPU ratio: the baseline's CPU per request / this variant's (the throughput ratio of a core to itself).
            cpu_ratio = statistics.median(base[2] / run[2] for run, base in zip(runs, plain, strict=True))
            target = targets.get((variant, endpoint))
            verdict = "" if target is None else (f">={target:.2f} " + ("ok" if ratio >= target else "MISSED"))
            print(
                f"{endpoint:<10} {variant:<16} {rps:>8.0f} {p99 * 1000:>8.2f} {ratio:>5.3f}x {spread:>12}"
                f" {verdict:>12} {by_round:>8.3f}x {rps / plain_rps:>9.3f}x {cpu * 1e6:>11.0f} {cpu_ratio:>8.3f}x"
            )


def save_rounds(work: Path, results: Results, turn_ratios: dict[tuple[str, str], list[float]]) -> None:
    raw = {f"{variant} | {endpoint}": runs for (variant, endpoint), runs in results.items()}
    raw |= {f"{variant} | {endpoint} | turn ratios": ratios for (variant, endpoint), ratios in turn_ratios.items()}
    (work / "rounds.json").write_text(json.dumps(raw, indent=1))  # (req/s, p99 s, CPU s/request) per round


def measure_event_writing(work: Path) -> tuple[float, float]:
    """In this process, against a copy of the benchmark's database: the request path's cost of one security
    event (`emit`: the event, a counter increment and a deque append), and a batch write's cost per event (100
    at a time, hash chain and insert)."""
    import logging

    from abb.core.config import get_settings
    from abb.core.database import Database
    from abb.security.audit import writer
    from abb.security.events import emit

    logging.getLogger("abb.security").disabled = True  # the events' JSON lines would flood this terminal
    os.environ.update({"ABB_ENV": "test", "ABB_VAR_DIR": str(work)})
    shutil.copy(work / "abb.sqlite3", work / "events.sqlite3")
    os.environ["ABB_DATABASE_URL"] = f"sqlite:///{work / 'events.sqlite3'}"
    get_settings.cache_clear()
    database = Database(get_settings())
    writer.configure(database.session_factory, flush_seconds=3600)  # this function flushes by hand
    emit_times, write_times = [], []
    for _ in range(50):
        start = time.perf_counter()
        for _ in range(100):
            emit("iam", "access.denied", "failure", route=EVENT_PATH, method="GET", role="sme")
        emit_times.append((time.perf_counter() - start) / 100)
        start = time.perf_counter()
        writer.flush()
        write_times.append((time.perf_counter() - start) / 100)
    database.dispose()
    return statistics.median(emit_times), statistics.median(write_times)


def audit_rows(work: Path) -> int:
    import sqlite3

    with sqlite3.connect(work / "abb.sqlite3") as connection:
        return int(connection.execute("SELECT count(*) FROM audit_log WHERE action = 'access.denied'").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Many rounds: a server's CPU cost per request differs by up to ±10 % from one process to the next and
    # drifts with the machine's other load, so a 5 % difference needs a dozen paired rounds to show.
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--slices", type=int, default=4, help="turns of every variant per endpoint and round")
    parser.add_argument("--seconds", type=int, default=1, help="length of one turn (one wrk run)")
    parser.add_argument("--security", action="store_true", help="the security middleware's and events' cost instead")
    args = parser.parse_args()
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="abb-overhead-"))
    sink = OtlpSink()
    base_env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "ABB_ENV": "test",
        "ABB_SECRET_KEY": "overhead-benchmark-secret-key-0123456789abcdef",
        "ABB_VAR_DIR": str(work),
        "ABB_DATABASE_URL": f"sqlite:///{work / 'abb.sqlite3'}",
        "ABB_HOST_METRICS": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.port}",
        **UNLIMITED_RATES,
    }
    prepare_database(base_env)
    started = time.monotonic()
    if args.security:
        run_security(args, wrk, base_env, work)
    else:
        results, turn_ratios, _sent = run_rounds(
            args,
            wrk,
            base_env,
            work,
            VARIANTS,
            lambda auth: [("trivial", "/health/live", {}), ("database", "/api/v1/me", auth)],
        )
        print_table(args, results, turn_ratios, VARIANTS, ["trivial", "database"], TARGETS)
        save_rounds(work, results, turn_ratios)
        render, size = measure_metrics_render(work)
        verdict = "ok" if render < 0.020 else "MISSED"
        print(f"\n/metrics render after 100,000 requests over 50 routes: {render * 1000:.1f} ms ({size} bytes)")
        print(f"target < 20 ms: {verdict}")
    print(f"total {time.monotonic() - started:.0f} s; logs in {work}")


def run_security(args: argparse.Namespace, wrk: str, base_env: dict[str, str], work: Path) -> None:
    endpoints = ["trivial", "text query", "database", "403+event"]
    results, turn_ratios, sent = run_rounds(
        args,
        wrk,
        base_env,
        work,
        SECURITY_VARIANTS,
        lambda auth: [
            ("trivial", "/health/live", {}),
            ("text query", f"/health/live?{LEGIT_QUERY}", {}),
            ("database", "/api/v1/me", auth),
            ("403+event", EVENT_PATH, auth),
        ],
    )
    print_table(args, results, turn_ratios, SECURITY_VARIANTS, endpoints, {})
    save_rounds(work, results, turn_ratios)
    print("\n403+event over database (same token check and user read; plus the refusal and one security event):")
    for variant in SECURITY_VARIANTS:
        pairs = list(zip(results[(variant, "403+event")], results[(variant, "database")], strict=True))
        rps_ratio = statistics.median(event[0] / me[0] for event, me in pairs)
        extra_cpu = statistics.median(event[2] - me[2] for event, me in pairs)
        print(f"  {variant:<16} throughput {rps_ratio:.3f}x, CPU {extra_cpu * 1e6:+.0f} us/request (medians by round)")
    emitted, written_each = measure_event_writing(work)
    print(f"\nsecurity event on the request path (emit): {emitted * 1e6:.1f} us; its batch write (100 a batch,")
    print(
        f"SQLite, hash chain and insert; not the JSON log line): {written_each * 1e6:.0f} us per event, by the writer"
    )
    print("thread (PostgreSQL) or between requests (SQLite)")
    print(
        f"audit rows of access.denied written by the servers: {audit_rows(work)};"
        f" refused requests sent: {sent['403+event']}"
    )


if __name__ == "__main__":
    main()

"""Throughput of the real service against bare FastAPI, in the same run, and a concurrency sweep (issue 12).

    .venv/bin/python benchmarks/throughput.py                       # everything, about 6 minutes
    .venv/bin/python benchmarks/throughput.py --slices 2 --seconds 1 --skip-sweep   # a quick look

Servers (each one uvicorn worker pinned to CPU 0 with taskset, wrk -t1 pinned to CPU 1, as benchmarks/overhead.py):
- bare /hello: FastAPI `GET /hello` (benchmarks/reference_apps.py), the reference for `/health/live`;
- bare row read: FastAPI + SQLAlchemy reading one row by primary key, on the same SQLite file and on the
  same PostgreSQL database as the service: the reference for `GET /api/v1/me`;
- abb on SQLite and abb on PostgreSQL (`abb serve`, instrumentation on: metrics, access log).
Pairs take interleaved turns (AB BA AB …, `--seconds` each, `--slices` per pair): the ratio is the median
over the slices of the service's turn over the reference's turn a second apart (the overhead.py verdict).
Then, on PostgreSQL: p95 of the partner directory and the match list at 32 connections; `abb serve --workers 2`
against one worker (both unpinned, wrk unpinned: 2 cores only); and the sweep of 1, 8, 32, 128, 512
connections on `/api/v1/me` and on the partner directory page, counting responses >= 500 from the server's
own /metrics (wrk's "non-2xx" would also count a 503 as an error; the server tells which).
Targets: /health/live >= 0.80x bare /hello; /api/v1/me >= 0.70x the bare row read; partners and matches p95 <
50 ms at 32 connections on PostgreSQL; 2 workers >= 1.6x one; every sweep level >= 0.85x the best, 0 x 5xx.
The load average is printed before and after: on a shared machine, figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import httpx
from overhead import UNLIMITED_RATES, cpu_seconds, ensure_wrk, free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.harness.services import PostgresServer  # noqa: E402 - after the path is set

BIN = Path(sys.executable).parent
DEMO_PASSWORD = "bridge-demo-2026"
DEMO_SME = "sme@demo.africabusinessbridge.example"
SWEEP = (1, 8, 32, 128, 512)
# wrk's Lua hook: the figures of a run as one JSON line (wrk's own report has no p95).
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%f,"p50":%f,"p95":%f,"p99":%f,"non2xx":%d,'
    .. '"socket_errors":%d}\\n', summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e6,
    latency:percentile(95) / 1e6, latency:percentile(99) / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


class Run(NamedTuple):
    rps: float
    p50: float
    p95: float
    p99: float
    non2xx: int
    socket_errors: int
    cpu: float  # server CPU seconds per request


class Server:
    """A server process (`abb serve` or uvicorn on a reference app), optionally pinned to CPU 0."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], work: Path, *, pinned: bool = True) -> None:
        self.name = name
        self.port = free_port()
        self.log = open(work / f"{name.replace(' ', '_').replace('/', '')}.log", "ab")  # noqa: SIM115 - closed in stop()
        command = [*(["taskset", "-c", "0"] if pinned else []), *argv, "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT / "benchmarks"
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not start; see {self.log.name}")

    def pids(self) -> list[int]:
        children = subprocess.run(["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in children.split()] or [self.process.pid]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def wrk(
    tool: str,
    script: Path,
    server: Server,
    path: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    pinned: bool = True,
) -> Run:
    cpu_before = server.cpu()
    command = [
        *(["taskset", "-c", "1"] if pinned else []),
        tool,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        server.url + path,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    requests = max(figures["requests"], 1)
    return Run(
        figures["requests"] / figures["seconds"],
        figures["p50"],
        figures["p95"],
        figures["p99"],
        figures["non2xx"],
        figures["socket_errors"],
        (server.cpu() - cpu_before) / requests,
    )


def server_errors(server: Server) -> int:
    """Responses >= 500 the service has counted so far (its own /metrics, all workers)."""
    page = httpx.get(server.url + "/metrics", timeout=30).text
    return sum(
        int(float(v)) for v in re.findall(r'^abb_http_requests_total\{[^}]*status="5\d\d"[^}]*\} (\S+)', page, re.M)
    )


def interleaved(
    tool: str,
    script: Path,
    pair: tuple[tuple[Server, str, dict[str, str]], ...],
    args: argparse.Namespace,
    connections: int = 8,
) -> tuple[float, list[Run], list[Run]]:
    """AB BA AB …: the median of the second's turn over the first's turn, and both sides' runs."""
    for server, path, headers in pair:  # warm-up
        wrk(tool, script, server, path, connections=connections, seconds=1, headers=headers)
    runs: tuple[list[Run], list[Run]] = ([], [])
    for slice_no in range(args.slices):
        order = (0, 1) if slice_no % 2 == 0 else (1, 0)
        for side in order:
            server, path, headers = pair[side]
            runs[side].append(
                wrk(tool, script, server, path, connections=connections, seconds=args.seconds, headers=headers)
            )
    ratio = statistics.median(b.rps / a.rps for a, b in zip(*runs, strict=True))
    return ratio, runs[0], runs[1]


def bearer(url: str) -> dict[str, str]:
    response = httpx.post(f"{url}/api/v1/auth/login", json={"email": DEMO_SME, "password": DEMO_PASSWORD}, timeout=60)
    response.raise_for_status()
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    httpx.get(f"{url}/api/v1/me", headers=headers, timeout=30).raise_for_status()  # the activity stamp, alone
    return headers


def page_cookie(url: str) -> dict[str, str]:
    """The web session cookie of the demo SME, signed in through the sign-in form (CSRF double submit)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/login")
        csrf = client.cookies.get("abb_csrf", "")
        response = client.post("/login", data={"email": DEMO_SME, "password": DEMO_PASSWORD, "csrf_token": csrf})
        session = response.cookies.get("abb_session") or client.cookies.get("abb_session")
        if not session:
            raise RuntimeError(f"sign-in form did not set a session cookie ({response.status_code})")
        return {"Cookie": f"abb_session={session}"}


def median_run(runs: list[Run]) -> tuple[float, float]:
    return statistics.median(r.rps for r in runs), statistics.median(r.p99 for r in runs)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=6, help="turns of each side per comparison")
    parser.add_argument("--seconds", type=int, default=2, help="length of one turn (one wrk run)")
    parser.add_argument("--sweep-seconds", type=int, default=5, help="length of one sweep level")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    tool = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="abb-throughput-"))
    script = work / "report.lua"
    script.write_text(WRK_SCRIPT)
    print(f"load average before: {loadavg()}  (2 cores shared with other work: figures move with it)", flush=True)
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base.update(
        {
            "ABB_ENV": "test",
            "ABB_SECRET_KEY": "throughput-benchmark-secret-key-0123456789abcdef",
            "ABB_VAR_DIR": str(work),
            "ABB_HOST_METRICS": "false",
            "ABB_COOKIE_SECURE": "false",
            **UNLIMITED_RATES,
        }
    )
    postgres = PostgresServer()
    databases = {"sqlite": f"sqlite:///{work / 'abb.sqlite3'}", "postgresql": postgres.create_database("abb_bench")}
    for url in databases.values():
        env = {**base, "ABB_DATABASE_URL": url}
        subprocess.run([str(BIN / "abb"), "migrate"], env=env, check=True, capture_output=True, timeout=300)
        subprocess.run(
            [str(BIN / "abb"), "seed-demo", "--smes", "200", "--partners", "300"],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
    uvicorn = [str(BIN / "python"), "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    servers: list[Server] = []
    results: list[tuple[str, str, str]] = []

    def start(name: str, argv: list[str], url: str, *, pinned: bool = True) -> Server:
        server = Server(name, argv, {**base, "ABB_DATABASE_URL": url}, work, pinned=pinned)
        servers.append(server)
        return server

    try:
        hello = start("bare hello", [*uvicorn, "reference_apps:hello_app"], databases["sqlite"])
        abb = {db: start(f"abb {db}", [str(BIN / "abb"), "serve"], url) for db, url in databases.items()}
        rows = {db: start(f"bare row {db}", [*uvicorn, "reference_apps:row_app"], url) for db, url in databases.items()}
        auth = {db: bearer(server.url) for db, server in abb.items()}
        me_id = httpx.get(abb["sqlite"].url + "/api/v1/me", headers=auth["sqlite"]).json()["id"]

        print("\nservice / reference, interleaved turns, 1 worker on CPU 0, wrk -t1 -c8 on CPU 1", flush=True)
        ratio, ref, svc = interleaved(tool, script, ((hello, "/hello", {}), (abb["sqlite"], "/health/live", {})), args)
        results.append(("/health/live vs bare /hello", f"{ratio:.2f}x", "ok" if ratio >= 0.80 else "MISSED (>= 0.80x)"))
        print(f"  /health/live {median_run(svc)[0]:.0f} req/s vs bare /hello {median_run(ref)[0]:.0f}: {ratio:.2f}x")
        for db in databases:
            me_ref = f"/users/{httpx.get(abb[db].url + '/api/v1/me', headers=auth[db]).json()['id']}"
            ratio, ref, svc = interleaved(
                tool, script, ((rows[db], me_ref, {}), (abb[db], "/api/v1/me", auth[db])), args
            )
            verdict = "ok" if ratio >= 0.70 else "MISSED (>= 0.70x)"
            results.append((f"/api/v1/me vs bare row read ({db})", f"{ratio:.2f}x", verdict))
            print(
                f"  /api/v1/me on {db} {median_run(svc)[0]:.0f} req/s (p99 {median_run(svc)[1] * 1000:.1f} ms) vs "
                f"bare row read {median_run(ref)[0]:.0f} (p99 {median_run(ref)[1] * 1000:.1f} ms): {ratio:.2f}x"
            )
        del me_id

        print("\nPostgreSQL, 32 connections, 1 worker on CPU 0", flush=True)
        for path in ("/api/v1/partners", "/api/v1/matches"):
            wrk(tool, script, abb["postgresql"], path, connections=32, seconds=1, headers=auth["postgresql"])
            run = wrk(
                tool,
                script,
                abb["postgresql"],
                path,
                connections=32,
                seconds=args.seconds * 3,
                headers=auth["postgresql"],
            )
            verdict = "ok" if run.p95 < 0.050 and run.non2xx == 0 else "MISSED (< 50 ms)"
            results.append((f"{path} p95 at 32 connections (postgresql)", f"{run.p95 * 1000:.1f} ms", verdict))
            print(
                f"  {path}: {run.rps:.0f} req/s, p50 {run.p50 * 1000:.1f} ms, p95 {run.p95 * 1000:.1f} ms, "
                f"p99 {run.p99 * 1000:.1f} ms, non-2xx {run.non2xx}"
            )
        for server in servers:
            server.stop()
        servers.clear()

        print("\nabb serve --workers 2 against 1 worker (PostgreSQL, unpinned, wrk -c32 unpinned)", flush=True)
        one = start("abb 1 worker", [str(BIN / "abb"), "serve"], databases["postgresql"], pinned=False)
        two = start(
            "abb 2 workers", [str(BIN / "abb"), "serve", "--workers", "2"], databases["postgresql"], pinned=False
        )
        headers = bearer(one.url)
        turns: tuple[list[Run], list[Run]] = ([], [])
        for slice_no in range(args.slices):
            for side in (0, 1) if slice_no % 2 == 0 else (1, 0):
                server = (one, two)[side]
                turns[side].append(
                    wrk(
                        tool,
                        script,
                        server,
                        "/api/v1/me",
                        connections=32,
                        seconds=args.seconds,
                        headers=headers,
                        pinned=False,
                    )
                )
        ratio = statistics.median(b.rps / a.rps for a, b in zip(*turns, strict=True))
        results.append(
            ("2 workers vs 1 (/api/v1/me, postgresql)", f"{ratio:.2f}x", "ok" if ratio >= 1.6 else "MISSED (>= 1.6x)")
        )
        print(f"  1 worker {median_run(turns[0])[0]:.0f} req/s, 2 workers {median_run(turns[1])[0]:.0f}: {ratio:.2f}x")
        one.stop()
        servers.remove(one)

        if not args.skip_sweep:
            print("\nconcurrency sweep (PostgreSQL, abb serve --workers 2, wrk unpinned)", flush=True)
            cookie = page_cookie(two.url)
            for label, path, hdrs in (("/api/v1/me", "/api/v1/me", headers), ("page /partners", "/partners", cookie)):
                levels = []
                for connections in SWEEP:
                    errors_before = server_errors(two)
                    run = wrk(
                        tool,
                        script,
                        two,
                        path,
                        connections=connections,
                        seconds=args.sweep_seconds,
                        headers=hdrs,
                        pinned=False,
                    )
                    five = server_errors(two) - errors_before
                    levels.append((connections, run, five))
                    print(
                        f"  {label:<16} c={connections:<4} {run.rps:8.0f} req/s  p50 {run.p50 * 1000:7.1f} ms  "
                        f"p99 {run.p99 * 1000:8.1f} ms  non-2xx {run.non2xx}  5xx {five}  socket errors "
                        f"{run.socket_errors}",
                        flush=True,
                    )
                best = max(run.rps for _, run, _ in levels)
                worst = min(run.rps / best for _, run, _ in levels)
                fives = sum(five for _, _, five in levels)
                ok = worst >= 0.85 and fives == 0
                results.append(
                    (
                        f"sweep {label}: worst level / best, 5xx",
                        f"{worst:.2f}x, {fives}",
                        "ok" if ok else "MISSED (>= 0.85x, 0)",
                    )
                )
    finally:
        for server in servers:
            server.stop()
        postgres.close()
    print(f"\nload average after: {loadavg()}")
    print(f"\n{'measure':<48} {'value':>14}  verdict")
    for name, value, verdict in results:
        print(f"{name:<48} {value:>14}  {verdict}")


if __name__ == "__main__":
    main()

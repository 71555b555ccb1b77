"""What observability costs in CPU instructions per request: a count that does not depend on the machine's load.

    .venv/bin/python benchmarks/instructions.py              # about 3 minutes
    .venv/bin/python benchmarks/instructions.py --requests 200

`benchmarks/overhead.py` measures throughput, the figure the issue's targets are set in, but on a shared
machine one round differs from the next by more than the 5 % it has to resolve on the database read.
This companion counts the instructions the process executes per request with valgrind's callgrind
(Debian's `valgrind` package, installed here when missing and root): the same requests give the same
count, so the effect of a change to the instrumentation shows exactly. Instructions are not time (cache
misses, thread hand-offs and system calls are not in them: the database read costs 1.5x the instructions
of the trivial endpoint and about 4x its time), so this attributes cost; overhead.py judges it.

Each variant runs in a fresh process under callgrind with counting off: the app (the same variants as
overhead.py: plain, and metrics+logs with their defaults) is driven in-process through its ASGI interface,
warmed up with 300 requests, then counting is switched on for --requests requests and the process ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, str]] = {
    "plain": {"ABB_METRICS_ENABLED": "false", "ABB_ACCESS_LOG": "false"},
    "metrics+logs": {},
}
ENDPOINTS = {"trivial": "/health/live", "database": "/api/v1/me"}
PASSWORD = "olive-groves-of-puglia-2026"
WARM_UP = 300


def ensure_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    if os.geteuid() != 0:
        sys.exit("valgrind is missing: apt-get install valgrind (Debian package), or run this as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], env=env, check=True, capture_output=True)


def drive(path: str, requests: int, ready: Path, go: Path) -> None:
    """The child: warm the app up, say so, wait for counting to be on, serve `requests` requests, end."""
    import httpx

    from abb.app import create_app
    from abb.observability.logging import flush_logs

    app = create_app()

    async def main() -> None:
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            account = {"email": "bench@example.com", "password": PASSWORD, "full_name": "Bench", "role": "sme"}
            await client.post("/api/v1/auth/register", json=account)
            login = await client.post("/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD})
            token = login.json()["access_token"]
            headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"authorization", f"Bearer {token}".encode())]

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start" and message["status"] != 200:
                    raise RuntimeError(f"{path} answered {message['status']}")

            def scope() -> dict[str, Any]:
                return {
                    "type": "http",
                    "asgi": {"version": "3.0"},
                    "http_version": "1.1",
                    "method": "GET",
                    "scheme": "http",
                    "path": path,
                    "raw_path": path.encode(),
                    "query_string": b"",
                    "root_path": "",
                    "headers": headers,
                    "client": ("127.0.0.1", 40000),
                    "server": ("127.0.0.1", 80),
                }

            for _ in range(WARM_UP):
                await app(scope(), receive, send)
            ready.write_text(str(os.getpid()))
            while not go.exists():
                time.sleep(0.05)
            for _ in range(requests):
                await app(scope(), receive, send)
            flush_logs()  # the batched metrics and access lines of these requests belong to them
            os._exit(0)  # counting stops here: interpreter shutdown is not part of a request

    asyncio.run(main())


def count(variant: str, path: str, requests: int, work: Path) -> int:
    """Instructions executed for `requests` requests of `variant` (callgrind's total, counting from warm)."""
    tag = f"{variant}-{path}".replace("/", "_").replace("+", "_")
    ready, go, out = work / f"{tag}.ready", work / f"{tag}.go", work / f"{tag}.callgrind"
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "ABB_ENV": "test",
        "ABB_SECRET_KEY": "instructions-benchmark-secret-key-0123456789abcdef",
        "ABB_VAR_DIR": str(work),
        "ABB_DATABASE_URL": f"sqlite:///{work / (tag + '.sqlite3')}",
        "ABB_HOST_METRICS": "false",
        "ABB_TRACING_ENABLED": "false",
        "PYTHONHASHSEED": "0",
        **VARIANTS[variant],
    }
    subprocess.run([str(Path(sys.executable).with_name("abb")), "migrate"], env=env, check=True, capture_output=True)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    cmd += [sys.executable, __file__, "--drive", path, "--requests", str(requests)]
    cmd += ["--ready", str(ready), "--go", str(go)]
    with open(work / f"{tag}.log", "wb") as log:
        child = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900
        while not ready.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                raise RuntimeError(f"the driver did not get ready; see {work / (tag + '.log')}")
            time.sleep(0.5)
        subprocess.run(["callgrind_control", "--instr=on", ready.read_text()], check=True, capture_output=True)
        go.touch()
        if child.wait(timeout=1800) != 0:
            raise RuntimeError(f"the driver failed; see {work / (tag + '.log')}")
    collected = re.search(r"Collected : (\d+)", (work / f"{tag}.log").read_text())
    if not collected:
        raise RuntimeError(f"callgrind printed no total; see {work / (tag + '.log')}")
    return int(collected.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive(args.drive, args.requests, args.ready, args.go)
        return
    ensure_valgrind()
    work = Path(tempfile.mkdtemp(prefix="abb-instructions-"))
    print(f"instructions per request over {args.requests} requests after {WARM_UP} warm-up, in-process (callgrind)\n")
    print(f"{'endpoint':<10} {'variant':<14} {'instructions':>13} {'added':>9} {'ratio':>6}")
    for endpoint, path in ENDPOINTS.items():
        per_request = {variant: count(variant, path, args.requests, work) / args.requests for variant in VARIANTS}
        plain = per_request["plain"]
        for variant, instructions in per_request.items():
            print(
                f"{endpoint:<10} {variant:<14} {instructions:>13,.0f} {instructions - plain:>+9,.0f}"
                f" {plain / instructions:>5.3f}x"
            )
    print(f"\nlogs and callgrind files in {work} (callgrind_annotate FILE breaks a count down by C function)")


if __name__ == "__main__":
    main()

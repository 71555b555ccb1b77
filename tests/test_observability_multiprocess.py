"""`abb serve --workers 2` as a real server: the request count on /metrics adds up across both processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.fixtures_observability import sample
from tests.harness.services import free_port, wait_for_port
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ABB = str(Path(sys.executable).with_name("abb"))
REQUESTS = 300


def test_two_workers_report_exactly_the_requests_served(tmp_path: Path):
    env = {
        **{key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ},
        "ABB_ENV": "test",
        "ABB_SECRET_KEY": "multiprocess-test-secret-key-0123456789abcdef",
        "ABB_VAR_DIR": str(tmp_path / "var"),
        "ABB_DATABASE_URL": f"sqlite:///{tmp_path / 'abb.sqlite3'}",
    }
    subprocess.run([ABB, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [ABB, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"

        def call(i: int) -> int:
            # A new connection each time, so that both workers accept some of them.
            headers = {"Connection": "close", "X-Request-ID": f"mp-{i}"}
            return httpx.get(f"{base}/health/live", headers=headers, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(REQUESTS)))
        assert statuses == [200] * REQUESTS

        # The worker that answers the scrape records its own waiting requests first; the other one records
        # its batch within ABB_TELEMETRY_FLUSH_SECONDS (1 s by default). A few scrapes, never more than N.
        def scraped_all() -> str | None:
            metrics = httpx.get(f"{base}/metrics", timeout=10)
            assert metrics.status_code == 200
            served = sample(metrics.text, "abb_http_requests_total", method="GET", route="/health/live", status="200")
            assert served <= REQUESTS
            return metrics.text if served == REQUESTS else None

        text = wait_until(scraped_all, timeout=60, every=0.3, what=f"/metrics to count all {REQUESTS} requests")
        assert sample(text, "abb_http_request_duration_seconds_count", method="GET", route="/health/live") == (REQUESTS)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    access = [json.loads(line) for line in log_path.read_text().splitlines() if '"abb.access"' in line]
    pids = {line["process.pid"] for line in access if line["http.request.id"].startswith("mp-")}
    assert len(pids) == 2, "both workers should have served some of the requests"

"""Nothing blocks the event loop (issue 12): while 20 sign-ins (Argon2 verification) and a matching recompute
run, `/health/live` keeps answering. Asserted on counts and an upper bound, not on a tight timer: p99 under 50 ms,
i.e. at most 1 % of the probes sent during the burst may take longer than 50 ms. On a shared machine the
operating system alone can delay probes that much, so a control is probed the same way at the same time (a bare
FastAPI app in its own process, nothing to block its loop): the service may have as many slow probes as the
control's twice plus three. A handler blocking the loop for a sign-in's hash (tens of ms each, twenty of them)
exceeds both bounds many times over."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from abb.demo.seed import DEMO_PASSWORD
from tests.fixtures_observability import family_names, sample
from tests.harness.serve import Served, abb, serve_env
from tests.harness.services import free_port, wait_for_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

SLOW = 0.050
SIGN_INS = 20
DEMO_SME = "sme@demo.africabusinessbridge.example"
DEMO_PARTNER = "partner@demo.africabusinessbridge.example"


def test_health_live_keeps_answering_while_sign_ins_and_a_recompute_run(tmp_path: Path):
    # A generous queue: sign-ins take their turn for Argon2 (one at a time per process), and on a busy shared
    # machine twenty of them may take longer than the default 10 s; this test is about the loop, not throughput.
    env = serve_env(
        tmp_path, f"sqlite:///{tmp_path / 'abb.sqlite3'}", real_password_hashing=True, request_queue_seconds="120"
    )
    abb(env, "migrate")
    abb(env, "seed-demo", "--smes", "20", "--partners", "150")
    with Served(env, tmp_path / "serve.log") as served:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            signed_in = client.post("/api/v1/auth/login", json={"email": DEMO_SME, "password": DEMO_PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
            sme = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            assert client.get("/health/live").status_code == 200

        probes: list[tuple[int, float]] = []
        control_probes: list[tuple[int, float]] = []
        burst_over = threading.Event()

        def probe(url: str, into: list[tuple[int, float]]) -> None:
            with httpx.Client(base_url=url, timeout=30) as prober:
                while not burst_over.is_set():
                    start = time.perf_counter()
                    status = prober.get("/health/live").status_code
                    into.append((status, time.perf_counter() - start))
                    time.sleep(0.005)

        def sign_in(i: int) -> int:
            email = DEMO_SME if i % 2 else DEMO_PARTNER
            with httpx.Client(base_url=served.url, timeout=60) as caller:
                return caller.post("/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}).status_code

        def recompute() -> int:
            with httpx.Client(base_url=served.url, timeout=60) as caller:
                return caller.post("/api/v1/matches/recompute", headers=sme).status_code

        control_port = free_port()
        control = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.harness.control_app:app", "--port", str(control_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(control_port)
            probers = [
                threading.Thread(target=probe, args=(served.url, probes)),
                threading.Thread(target=probe, args=(f"http://127.0.0.1:{control_port}", control_probes)),
            ]
            for prober in probers:
                prober.start()
            try:
                with ThreadPoolExecutor(max_workers=SIGN_INS + 1) as pool:
                    recomputed = pool.submit(recompute)
                    statuses = list(pool.map(sign_in, range(SIGN_INS)))
                    assert recomputed.result() == 200
            finally:
                burst_over.set()
                for prober in probers:
                    prober.join(timeout=60)
        finally:
            control.terminate()
            control.wait(timeout=30)
        assert statuses == [200] * SIGN_INS
        assert probes and all(status == 200 for status, _ in probes)
        assert len(probes) >= 20, f"only {len(probes)} probes ran during the burst"
        with httpx.Client(base_url=served.url, timeout=30) as client:
            exposition = client.get("/metrics").text
        assert "abb_event_loop_lag_seconds" in family_names(exposition)
        lag = sample(exposition, "abb_event_loop_lag_seconds")
        slow = [round(seconds, 3) for _, seconds in probes if seconds > SLOW]
        control_slow = sum(1 for _, seconds in control_probes if seconds > SLOW)
        allowed = max(len(probes) // 100, 2 * control_slow + 3)
        assert len(slow) <= allowed, (
            f"{len(slow)} of {len(probes)} probes over 50 ms (allowed {allowed}; the control had {control_slow} of "
            f"{len(control_probes)}): {slow}; the server's loop lag over the last 15 s: {lag}"
        )

"""Prometheus metrics: route templates, the /metrics guard, every contract family, page timings."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from abb.web.kit import KNOWN_PAGES
from tests.factories import PASSWORD, assert_problem
from tests.fixtures_observability import LOOPBACK, family_names, metric_samples, sample
from tests.harness.services import free_port, wait_for_port

pytestmark = pytest.mark.slow

GIULIA = {"email": "giulia.metrics@example.it", "password": PASSWORD, "full_name": "Giulia Rossi", "role": "sme"}

# docs/observability.md and the alert rules read exactly these families.
CONTRACT_FAMILIES = {
    "abb_http_requests",
    "abb_http_request_duration_seconds",
    "abb_http_requests_in_flight",
    "abb_http_response_size_bytes",
    "abb_db_query_duration_seconds",
    "abb_db_pool_size",
    "abb_db_pool_checked_out",
    "abb_db_pool_overflow",
    "abb_db_pool_wait_seconds",
    "abb_db_up",
    "abb_celery_task_duration_seconds",
    "abb_celery_task_failures",
    "abb_celery_task_retries",
    "abb_cache_requests",
    "abb_active_users",
    "abb_deals",
    "abb_frontend_page_load_seconds",
    "abb_build_info",
    "abb_host_cpu_usage_ratio",
    "abb_host_memory_usage_ratio",
    "abb_host_disk_usage_ratio",
    "abb_host_disk_io_bytes",
    "abb_user_registrations",
    "abb_matches_created",
    "abb_matches_accepted",
    "abb_deals_created",
    "abb_transaction_value",
    "abb_payments_failed",
    "abb_payment_retries",
    "abb_revenue",
    "abb_course_enrollments",
    "process_cpu_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
}


def scrape(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def _drive(app: FastAPI, requests: list[tuple[str, str]]) -> list[int]:
    """Call the ASGI app directly: 10,000 requests in seconds, through the full middleware stack."""
    statuses = []
    for method, path in requests:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": LOOPBACK,
            "server": ("testserver", 443),
        }
        await app(scope, receive, send)
        statuses.append(sent[0]["status"])
    return statuses


def test_route_templates_not_raw_paths_and_unknown_paths_folded(make_obs_app):
    app = make_obs_app(access_log=False, rate_limit_ip="1000000/minute")  # 1,200 requests from one address
    with TestClient(app, client=LOOPBACK) as client:
        before = scrape(client)
        ids = range(1, 1_001)
        statuses = asyncio.run(_drive(app, [("GET", f"/api/v1/smes/{i}") for i in ids]))
        unknown = asyncio.run(_drive(app, [("GET", f"/no/such/page/{i}") for i in range(200)]))
        after = scrape(client)
    assert set(statuses) == {401} and set(unknown) == {404}
    route = "/api/v1/smes/{profile_id}"
    assert sample(after, "abb_http_requests_total", method="GET", route=route, status="401") - sample(
        before, "abb_http_requests_total", method="GET", route=route, status="401"
    ) == len(ids)
    assert sample(after, "abb_http_requests_total", method="GET", route="unmatched", status="404") - sample(
        before, "abb_http_requests_total", method="GET", route="unmatched", status="404"
    ) == len(unknown)
    routes = {dict(labels).get("route") for (_name, labels) in metric_samples(after)}
    assert not any(r and ("/smes/1" in r or "/no/such" in r) for r in routes), "a raw path became a label"
    counts = [
        key
        for key in metric_samples(after)
        if key[0] == "abb_http_request_duration_seconds_count" and dict(key[1]) == {"method": "GET", "route": route}
    ]
    assert len(counts) == 1  # 1,000 ids, one series (other tests in this process may add other methods)


def test_metrics_not_public_outside_allow_list_or_without_token(make_obs_app):
    with TestClient(make_obs_app(), client=("203.0.113.9", 40000)) as outsider:
        assert_problem(outsider.get("/metrics"), 403, "forbidden")
    with TestClient(make_obs_app(), client=LOOPBACK) as local:
        assert "abb_http_requests_total" in scrape(local)
    token_app = make_obs_app(metrics_token="scrape-token-0123456789", metrics_allow=[])
    with TestClient(token_app, client=LOOPBACK) as client:
        assert_problem(client.get("/metrics"), 403)  # loopback alone is no longer enough
        assert_problem(client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}), 403)
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert ok.status_code == 200 and "abb_build_info" in ok.text


def test_metrics_on_a_separate_port(make_obs_app):
    port = free_port()
    with TestClient(make_obs_app(metrics_port=port), client=LOOPBACK) as client:
        assert_problem(client.get("/metrics"), 404)
        client.get("/health/live")
        wait_for_port(port)
        separate = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert separate.status_code == 200
    assert "abb_http_requests_total" in separate.text


def test_every_contract_family_after_traffic(make_obs_app):
    app = make_obs_app()
    with TestClient(app, base_url="https://testserver", client=LOOPBACK) as client:
        before = scrape(client)
        assert client.post("/api/v1/auth/register", json=GIULIA).status_code == 201
        tokens = client.post("/api/v1/auth/login", json={"email": GIULIA["email"], "password": PASSWORD}).json()
        assert (
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
        )
        client.get("/no/such/page")
        assert client.post("/api/v1/rum", json={"page": "dashboard", "load_ms": 850}).status_code == 204
        after = scrape(client)
    missing = CONTRACT_FAMILIES - family_names(after)
    assert not missing, f"families missing from /metrics: {sorted(missing)}"
    assert (
        sample(after, "abb_user_registrations_total", role="sme")
        - sample(before, "abb_user_registrations_total", role="sme")
        == 1
    )
    assert sample(after, "abb_db_up") == 1
    assert sample(after, "abb_active_users", window="24h") >= 1
    assert sample(after, "abb_active_users", window="7d") >= sample(after, "abb_active_users", window="24h")
    for state in ("draft", "awaiting_payment", "paid", "settled", "cancelled", "failed", "refunded"):
        assert (("abb_deals", frozenset({("state", state)}))) in metric_samples(after)
    assert sample(after, "abb_db_query_duration_seconds_count", statement="insert") > sample(
        before, "abb_db_query_duration_seconds_count", statement="insert"
    )
    assert sample(after, "abb_db_query_duration_seconds_count", statement="select") > sample(
        before, "abb_db_query_duration_seconds_count", statement="select"
    )
    assert sample(after, "abb_db_pool_size") >= 1
    assert sample(after, "abb_db_pool_wait_seconds_count") > sample(before, "abb_db_pool_wait_seconds_count")
    assert sample(after, "abb_http_requests_in_flight") >= 1  # the scrape itself
    assert 0 <= sample(after, "abb_host_memory_usage_ratio") <= 1
    assert sample(after, "abb_host_disk_io_bytes_total", direction="read") > 0
    assert sample(after, "process_resident_memory_bytes") > 0
    build = [labels for (name, labels) in metric_samples(after) if name == "abb_build_info"]
    assert len(build) == 1 and dict(build[0])["version"]


def test_host_collector_can_be_turned_off(make_obs_app):
    with TestClient(make_obs_app(host_metrics=False), client=LOOPBACK) as client:
        text = scrape(client)
    assert "abb_host_cpu_usage_ratio" not in text
    assert "abb_db_up" in text


def test_page_timings_are_bounded_and_validated(make_obs_app):
    assert {"home", "dashboard", "login"} <= KNOWN_PAGES
    with TestClient(make_obs_app(), client=LOOPBACK) as client:
        before = scrape(client)
        assert client.post("/api/v1/rum", json={"page": "login", "load_ms": 1500}).status_code == 204
        for i in range(20):
            assert client.post("/api/v1/rum", json={"page": f"made-up-{i}", "load_ms": 100}).status_code == 204
        for bad in (
            {"page": "login", "load_ms": -1},
            {"page": "login", "load_ms": 0},
            {"page": "login", "load_ms": 10**9},
            {"page": "Login Page!", "load_ms": 100},
            {"page": "x" * 65, "load_ms": 100},
            {"page": "login", "load_ms": 100, "user": "someone"},
            {"page": "login"},
        ):
            assert_problem(client.post("/api/v1/rum", json=bad), 422)
        assert_problem(
            client.post("/api/v1/rum", content=b"{", headers={"Content-Type": "application/json"}),
            400,
            "malformed-json",
        )
        assert_problem(
            client.post("/api/v1/rum", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}), 413
        )
        after = scrape(client)
    count = "abb_frontend_page_load_seconds_count"
    assert sample(after, count, page="login") - sample(before, count, page="login") == 1
    assert sample(after, count, page="other") - sample(before, count, page="other") == 20
    assert (
        sample(after, "abb_frontend_page_load_seconds_bucket", page="login", le="2.0")
        - sample(before, "abb_frontend_page_load_seconds_bucket", page="login", le="2.0")
        == 1
    )
    assert not any("made-up" in str(labels) for (_n, labels) in metric_samples(after))


def test_pages_post_their_navigation_timing(make_obs_app):
    with TestClient(make_obs_app(), client=LOOPBACK) as client:
        page = client.get("/login")
        script = client.get("/static/rum.js")
    assert page.status_code == 200
    assert 'data-page="login"' in page.text
    assert '<script src="/static/rum.js"' in page.text  # a file: the CSP allows no inline script
    assert 'navigator.sendBeacon("/api/v1/rum"' in script.text


def test_pool_gauges_follow_checkouts_and_every_statement_is_timed_by_kind(tmp_path, monkeypatch):
    import gc

    from prometheus_client import generate_latest
    from sqlalchemy import create_engine, text

    from abb.observability.database import install_database_hooks
    from abb.observability.metrics import exposition_registry
    from abb.observability.recorder import recorder
    from tests.conftest import make_settings

    install_database_hooks(make_settings())
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}", pool_size=2, max_overflow=3)
    registry = exposition_registry([])  # as /metrics renders it: what waits for a batch is added first
    monkeypatch.setattr(recorder, "flush_seconds", 30)  # as in the API: timings wait for the batch or a scrape

    def now() -> str:
        return generate_latest(registry).decode()

    gc.collect()  # pools of engines other tests dropped leave now, not between the readings below
    before = now()
    first, second, third = engine.connect(), engine.connect(), engine.connect()  # the third one is overflow
    first.execute(text("CREATE TABLE t (x INTEGER)"))
    first.execute(text("INSERT INTO t VALUES (1)"))
    second.execute(text("SELECT x FROM t")).all()
    during = now()
    for connection in (first, second, third):
        connection.close()
    after = now()
    engine.dispose()

    def delta(text_after: str, name: str, **labels: str) -> float:
        return sample(text_after, name, **labels) - sample(before, name, **labels)

    assert delta(during, "abb_db_pool_checked_out") == 3 and delta(after, "abb_db_pool_checked_out") == 0
    assert delta(during, "abb_db_pool_overflow") == 1 and delta(during, "abb_db_pool_size") == 2
    assert delta(during, "abb_db_pool_wait_seconds_count") == 3
    for kind in ("other", "insert", "select"):  # CREATE counts as "other"
        assert delta(during, "abb_db_query_duration_seconds_count", statement=kind) >= 1


def test_a_histogram_tally_gives_what_observe_gives():
    import random

    from prometheus_client import CollectorRegistry, Histogram

    from abb.observability.metrics import LATENCY_BUCKETS, HistogramTally

    registry = CollectorRegistry()
    observed = Histogram(
        "tally_check_observed", "observe() per value", ["route"], buckets=LATENCY_BUCKETS, registry=registry
    )
    tallied = Histogram(
        "tally_check_tallied", "the same values, tallied", ["route"], buckets=LATENCY_BUCKETS, registry=registry
    )
    rng = random.Random(5)
    # Every bound exactly (observe() counts a value equal to a bound in that bucket), around them, beyond the last.
    values = [*LATENCY_BUCKETS, *(b * 1.000001 for b in LATENCY_BUCKETS), 0.0, 1e9]
    values += [rng.lognormvariate(-4, 2) for _ in range(500)]
    tally = HistogramTally(tallied.labels("/r"))
    for batch_start in range(0, len(values), 64):  # committed batch by batch, as the recorder does
        for value in values[batch_start : batch_start + 64]:
            observed.labels("/r").observe(value)
            tally.observe(value)
        tally.commit()
    tally.commit()  # nothing waiting: adds nothing

    def samples(name: str) -> dict[tuple[str, str], float]:
        family = next(f for f in registry.collect() if f.name == name)
        return {(s.name.removeprefix(name), s.labels.get("le", "")): s.value for s in family.samples}

    tallied_samples, observed_samples = samples("tally_check_tallied"), samples("tally_check_observed")
    # The sum only to rounding: added per batch rather than value by value.
    assert tallied_samples.pop(("_sum", "")) == pytest.approx(observed_samples.pop(("_sum", "")), rel=1e-12)
    assert tallied_samples == observed_samples  # every bucket and the count, exactly
    assert observed_samples[("_count", "")] == len(values)

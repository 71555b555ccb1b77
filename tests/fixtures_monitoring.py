"""Fixtures for the monitoring tests: the promtool/amtool binaries, and one live stack per test module.

The live stack is the real thing on loopback: the app (`abb serve`, SQLite, fault injection allowed because
ABB_ENV=test) and a Celery worker (`abb worker`) on a real Redis, node/postgres/redis exporters, a Pushgateway
fed by `abb ci report`, Prometheus and Alertmanager with configs derived from deploy/ (1s intervals, every
alert's `for:` shortened to 1s, 1s notification grouping), a Slack/PagerDuty webhook double and a local SMTP server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from abb.ops import monitoring_stack as stack
from tests.harness.redis import RedisServer
from tests.harness.services import PostgresServer, free_port, unavailable
from tests.waiting import wait_until

if TYPE_CHECKING:
    from tests.fixtures_redis import Mailbox

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(stack.RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def recording_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(stack.RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) for every target of every panel of the committed dashboards."""
    queries = []
    for path in sorted((stack.DEPLOY_DIR / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append((path.stem, panel["title"], target["expr"]))
    return queries


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (scripts/install-test-services.sh installs it)")
    return str(path)


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _binary("amtool")


def push_ci_report(work: Path, gateway: str) -> None:
    """What CI does after a run: `abb ci report` with its JUnit, coverage and ruff reports."""
    from tests.harness.monitoring import ABB

    junit = work / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="40" failures="1" errors="0" skipped="3"/></testsuites>'
    )
    coverage = work / "coverage.xml"
    coverage.write_text('<coverage line-rate="0.87" branch-rate="0.7" version="7"/>')
    lint = work / "ruff.json"
    lint.write_text(json.dumps([{"code": "E501", "filename": "x.py"}, {"code": "F401", "filename": "y.py"}]))
    args = ["--gateway", gateway, "--build-seconds", "321", "--success", "--deployment", "success"]
    args += ["--junit", str(junit), "--coverage-xml", str(coverage), "--lint-report", str(lint)]
    args += ["--security-findings", "0", "--benchmark", "matching=0.85"]
    report = subprocess.run([ABB, "ci", "report", *args], capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr


def push_recovery_figures(gateway: str) -> None:
    """What `abb backup run` and `abb dr drill` push, from a pgBackRest `info` entry and a drill report."""
    from abb.ops.recovery import metrics

    now = time.time()
    info = {
        "name": "abb",
        "backup": [
            {"type": kind, "label": f"{kind}-1", "database": {"repo-key": 1},
             "timestamp": {"start": now - age - 60, "stop": now - age},
             "info": {"size": 50_000_000, "repository": {"delta": 4_000_000}}}
            for kind, age in (("full", 86400.0), ("incr", 600.0))
        ],
        "repo": [{"key": 1, "status": {"code": 0}}],
    }  # fmt: skip
    metrics.push(gateway, metrics.BACKUP_JOB, metrics.backup_registry(info), {"stanza": "abb"})
    report = {"rto_seconds": 64.2, "rpo": {"rows_lost": 0, "archive_exposure_seconds": 3.5},
              "database_bytes": 1_032_086_019, "passed": True}  # fmt: skip
    metrics.push(gateway, metrics.DRILL_JOB, metrics.drill_registry(report))


def push_perf_report(gateway: str) -> None:
    """What `make perf --pushgateway` pushes (perf/run.py's own push), from a one-step report."""
    spec = importlib.util.spec_from_file_location("perf_run", Path(__file__).resolve().parent.parent / "perf/run.py")
    assert spec and spec.loader
    perf_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(perf_run)
    row = {"method": "GET", "endpoint": "/api/v1/me", "rps": 180.0, "p50": 0.02, "p95": 0.06, "p99": 0.09, "errors": 0}
    perf_run.push(gateway, {"knee_users": 100, "steps": [{"users": 50, "endpoints": [row]}]})


@dataclass
class LiveMonitoring:
    app: stack.Server
    prometheus: stack.Server
    alertmanager: stack.Server
    pushgateway: stack.Server
    webhooks: stack.WebhookReceiver
    smtp: Mailbox
    http: httpx.Client

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.prometheus.url}/api/v1/query", params={"query": expr})
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (expr, body)
        return list(body["data"]["result"])

    def alerts(self, name: str, state: str = "firing") -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.prometheus.url}/api/v1/alerts").json()
        return [a for a in answer["data"]["alerts"] if a["labels"]["alertname"] == name and a["state"] == state]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.app.url}{path}", **kwargs)


@pytest.fixture(scope="module")
def live_monitoring(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[LiveMonitoring]:
    from tests.fixtures_redis import Mailbox  # a plugin module: imported once pytest has registered it
    from tests.harness import monitoring as harness

    for name in (
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-pushgateway",
        "prometheus-node-exporter",
        "prometheus-postgres-exporter",
        "prometheus-redis-exporter",
    ):
        _binary(name)
    work = tmp_path_factory.mktemp("monitoring")
    with contextlib.ExitStack() as cleanup:
        # The session's Redis, database 1: its own broker queue and cache, apart from the Celery tests' database 0.
        redis_url = f"redis://127.0.0.1:{redis_server.port}/1"
        env = harness.app_env(work, ABB_REDIS_URL=redis_url)
        servers = {
            "abb-api": harness.app_server(work, free_port(), env),
            "abb-worker": harness.worker_server(work, free_port(), env),
            "node": stack.node_exporter(work, free_port()),
            "postgres": harness.postgres_exporter(work, free_port(), postgres_server),
            "redis": harness.redis_exporter(work, free_port(), redis_url),
            "pushgateway": stack.pushgateway(work, free_port()),
        }
        for server in servers.values():
            cleanup.callback(server.stop)
            server.start(timeout=60)
        push_ci_report(work, servers["pushgateway"].url)
        push_recovery_figures(servers["pushgateway"].url)
        push_perf_report(servers["pushgateway"].url)
        # The audit chain's verification (hourly by the worker's beat): its result is a dashboard panel and an alert.
        verified = subprocess.run(
            [harness.ABB, "audit", "verify"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        webhooks = cleanup.enter_context(stack.WebhookReceiver())
        # The operations team's mail relay: the Celery tests' aiosmtpd mailbox, on its own port.
        smtp, smtp_port = Mailbox(), free_port()
        controller = Controller(smtp, hostname=stack.LOOPBACK, port=smtp_port, ready_timeout=10)
        controller.start()
        cleanup.callback(controller.stop)
        prometheus, alertmanager = cleanup.enter_context(
            stack.local_stack(
                work,
                targets={job: [server.address] for job, server in servers.items()},
                prometheus_port=free_port(),
                alertmanager_port=free_port(),
                receiver=webhooks,
                smtp=f"{stack.LOOPBACK}:{smtp_port}",
                interval="1s",
                alert_for="1s",
                fast_notifications=True,
            )
        )
        http = cleanup.enter_context(httpx.Client(timeout=10))
        live = LiveMonitoring(
            servers["abb-api"], prometheus, alertmanager, servers["pushgateway"], webhooks, smtp, http
        )
        wait_until(lambda: len(live.query("up == 1")) == len(servers), timeout=60, what="every target scraped")
        yield live

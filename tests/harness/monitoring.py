"""The live monitoring tests' services: the real app (`abb serve`) and worker (`abb worker`) as subprocesses,
and the postgres/redis exporters.

Prometheus, Alertmanager, the Pushgateway and the Slack/PagerDuty double come from `abb.ops.monitoring_stack`,
the same code `make monitoring` runs. Every process listens on a free loopback port and is stopped by its PID.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from abb.ops.monitoring_stack import DEPLOY_DIR, LOOPBACK, Server, require_binary
from tests.harness.serve import CHEAP_PASSWORD_HASHING, as_env
from tests.harness.services import PostgresServer

ABB = str(Path(sys.executable).with_name("abb"))


def app_env(work: Path, **extra: str) -> dict[str, str]:
    """The app's settings for a live test: env=test (fault injection allowed), SQLite in `work`."""
    return {
        "ABB_ENV": "test",
        "ABB_SECRET_KEY": "live-monitoring-test-secret-key-0123456789",
        "ABB_VAR_DIR": str(work / "var"),
        "ABB_DATABASE_URL": f"sqlite:///{work / 'var' / 'abb.sqlite3'}",
        "ABB_FAULT_INJECTION": "true",
        "ABB_METRICS_CACHE_SECONDS": "1",
        "ABB_LOG_JSON": "false",
        "ABB_ACCESS_LOG": "false",
        **as_env(CHEAP_PASSWORD_HASHING),
        **extra,
    }


def app_server(work: Path, port: int, env: dict[str, str]) -> Server:
    (work / "var").mkdir(parents=True, exist_ok=True)
    subprocess.run([ABB, "migrate"], env={**os.environ, **env}, check=True, capture_output=True, timeout=120)
    return Server(
        "abb-api",
        [ABB, "serve", "--host", LOOPBACK, "--port", str(port)],
        port,
        work / "abb-api.log",
        env=env,
        ready_path="/health/live",
    )


def worker_server(work: Path, metrics_port: int, env: dict[str, str]) -> Server:
    return Server(
        "abb-worker",
        [ABB, "worker", "--pool", "solo", "--concurrency", "1", "--loglevel", "WARNING"],
        metrics_port,
        work / "abb-worker.log",
        env={**env, "ABB_WORKER_METRICS_PORT": str(metrics_port)},
        ready_path="/metrics",
    )


def postgres_exporter(work: Path, port: int, postgres: PostgresServer) -> Server:
    return Server(
        "postgres-exporter",
        [
            require_binary("prometheus-postgres-exporter"),
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--extend.query-path={DEPLOY_DIR / 'postgres-exporter' / 'queries.yml'}",  # archiving, replication
        ],
        port,
        work / "postgres-exporter.log",
        env={"DATA_SOURCE_NAME": f"host={LOOPBACK} port={postgres.port} user=postgres dbname=postgres sslmode=disable"},
        ready_path="/metrics",
    )


def redis_exporter(work: Path, port: int, redis_url: str) -> Server:
    return Server(
        "redis-exporter",
        [
            require_binary("prometheus-redis-exporter"),
            f"--redis.addr={redis_url}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        port,
        work / "redis-exporter.log",
        ready_path="/metrics",
    )

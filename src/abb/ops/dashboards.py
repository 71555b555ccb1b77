"""Grafana dashboards as code (grafanalib): Operations, Business and Development.

    .venv/bin/python -m abb.ops.dashboards            # rewrites deploy/grafana/dashboards/*.json

The JSON is committed; tests/test_monitoring_config.py fails when it differs from what this module generates,
and the live test runs every panel's PromQL against a real Prometheus. Queries use fixed windows (no Grafana
variables) so that they mean the same in Grafana, in Prometheus' UI and in the tests.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard, GridPos, RowPanel, Stat, Table, Target, Time, TimeSeries

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioned in deploy/grafana/provisioning
OUT_DIR = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"
SLO = 0.999
GRID_WIDTH = 24
PANEL_HEIGHT = 8


@dataclass(frozen=True)
class Panel:
    """A panel before layout: kind, title, (PromQL, legend) pairs, unit, width in grid columns."""

    kind: str  # "timeseries", "stat" or "table"
    title: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    width: int = 8
    description: str = ""


def timeseries(
    title: str, *queries: tuple[str, str], unit: str = "short", width: int = 8, description: str = ""
) -> Panel:
    return Panel("timeseries", title, queries, unit, width, description)


def stat(title: str, query: str, *, unit: str = "short", width: int = 6, description: str = "") -> Panel:
    return Panel("stat", title, ((query, ""),), unit, width, description)


def table(title: str, query: str, *, width: int = 24, description: str = "") -> Panel:
    return Panel("table", title, ((query, ""),), "short", width, description)


def _targets(panel: Panel) -> list[Target]:
    instant = panel.kind != "timeseries"
    return [
        Target(
            expr=expr,
            legendFormat=legend,
            refId=chr(ord("A") + i),
            instant=instant,
            format="table" if panel.kind == "table" else "time_series",
            datasource=DATASOURCE,
        )
        for i, (expr, legend) in enumerate(panel.queries)
    ]


def _build(panel: Panel, pos: GridPos) -> object:
    common = {
        "title": panel.title,
        "description": panel.description,
        "dataSource": DATASOURCE,
        "targets": _targets(panel),
        "gridPos": pos,
    }
    if panel.kind == "stat":
        return Stat(format=panel.unit, reduceCalc="lastNotNull", **common)
    if panel.kind == "table":
        return Table(**common)
    return TimeSeries(unit=panel.unit, legendDisplayMode="list", **common)


def layout(sections: Iterable[tuple[str, list[Panel]]]) -> list[object]:
    """Rows of panels, left to right, wrapping at the grid width."""
    panels: list[object] = []
    y = 0
    for title, row in sections:
        panels.append(RowPanel(title=title, gridPos=GridPos(h=1, w=GRID_WIDTH, x=0, y=y)))
        y += 1
        x = 0
        for panel in row:
            if x + panel.width > GRID_WIDTH:
                x, y = 0, y + PANEL_HEIGHT
            panels.append(_build(panel, GridPos(h=PANEL_HEIGHT, w=panel.width, x=x, y=y)))
            x += panel.width
        y += PANEL_HEIGHT
    return panels


def dashboard(uid: str, title: str, description: str, sections: list[tuple[str, list[Panel]]]) -> Dashboard:
    return Dashboard(
        uid=uid,
        title=title,
        description=description,
        tags=["abb"],
        timezone="utc",
        refresh="1m",
        time=Time("now-24h", "now"),
        panels=layout(sections),
    ).auto_panel_ids()


def operations() -> Dashboard:
    api = 'job="abb-api"'
    return dashboard(
        "abb-operations",
        "ABB / Operations",
        "Health of Africa Business Bridge: availability against the 99.9% SLO, traffic, errors, latency, "
        "resources, database, background work, cache and firing alerts (docs/monitoring.md).",
        [
            (
                "Availability",
                [
                    stat(
                        "Availability, 30 days (SLO 99.9%)",
                        f"1 - job:abb_http_request_errors:ratio_rate30d{{{api}}}",
                        unit="percentunit",
                    ),
                    stat(
                        "Error budget left, 30 days",
                        f"job:abb_http_error_budget:remaining_ratio30d{{{api}}}",
                        unit="percentunit",
                    ),
                    stat("API instances up", f"sum(up{{{api}}})"),
                    stat("Requests in flight", "sum(abb_http_requests_in_flight)"),
                    timeseries(
                        "Error ratio against burn-rate thresholds",
                        (f"job:abb_http_request_errors:ratio_rate5m{{{api}}}", "5m"),
                        (f"job:abb_http_request_errors:ratio_rate1h{{{api}}}", "1h"),
                        (f"job:abb_http_request_errors:ratio_rate6h{{{api}}}", "6h"),
                        (f"vector({14.4 * (1 - SLO):.4f})", "page: 14.4x budget burn"),
                        unit="percentunit",
                        width=24,
                    ),
                ],
            ),
            (
                "Traffic, errors and latency",
                [
                    timeseries(
                        "Request rate",
                        ("job:abb_http_requests:rate5m", "{{job}}"),
                        ("topk(10, job_route:abb_http_requests:rate5m)", "{{route}}"),
                        unit="reqps",
                    ),
                    timeseries(
                        "Error ratio by endpoint (5xx)",
                        ("job_route:abb_http_request_errors:ratio_rate5m", "{{route}}"),
                        unit="percentunit",
                    ),
                    timeseries(
                        "Latency p50 / p95 / p99",
                        (f"job:abb_http_request_duration_seconds:p50_rate5m{{{api}}}", "p50"),
                        (f"job:abb_http_request_duration_seconds:p95_rate5m{{{api}}}", "p95"),
                        (f"job:abb_http_request_duration_seconds:p99_rate5m{{{api}}}", "p99"),
                        unit="s",
                    ),
                    timeseries(
                        "p95 latency by endpoint",
                        ("topk(10, job_route:abb_http_request_duration_seconds:p95_rate5m)", "{{route}}"),
                        unit="s",
                        width=12,
                    ),
                    timeseries(
                        "Responses by status",
                        ("sum by (status) (rate(abb_http_requests_total[5m]))", "{{status}}"),
                        unit="reqps",
                        width=12,
                    ),
                ],
            ),
            (
                "Resources",
                [
                    timeseries(
                        "Host CPU", ("instance:node_cpu_usage:ratio_rate5m", "{{instance}}"), unit="percentunit"
                    ),
                    timeseries("Host memory", ("instance:node_memory_usage:ratio", "{{instance}}"), unit="percentunit"),
                    timeseries(
                        "Disk use",
                        ("instance_mountpoint:node_filesystem_usage:ratio", "{{instance}} {{mountpoint}}"),
                        unit="percentunit",
                    ),
                    timeseries(
                        "Application CPU",
                        ('rate(process_cpu_seconds_total{job=~"abb-api|abb-worker"}[5m])', "{{job}} {{instance}}"),
                        unit="percentunit",
                        width=12,
                    ),
                    timeseries(
                        "Application memory (RSS)",
                        ('process_resident_memory_bytes{job=~"abb-api|abb-worker"}', "{{job}} {{instance}}"),
                        unit="bytes",
                        width=12,
                    ),
                ],
            ),
            (
                "Database",
                [
                    stat("Database reachable (app)", "min(abb_db_up)"),
                    stat("PostgreSQL up (exporter)", "min(pg_up)"),
                    stat("Pool saturation", "max(job_instance:abb_db_pool:saturation_ratio)", unit="percentunit"),
                    stat("PostgreSQL connections", "sum(pg_stat_database_numbackends)"),
                    timeseries(
                        "Connection pool",
                        ("sum(abb_db_pool_size)", "pool size"),
                        ("sum(abb_db_pool_checked_out)", "checked out"),
                        ("sum(abb_db_pool_overflow)", "overflow"),
                    ),
                    timeseries("Pool wait p95", ("job:abb_db_pool_wait_seconds:p95_rate5m", "{{job}}"), unit="s"),
                    timeseries(
                        "Query p95 by statement",
                        ("job_statement:abb_db_query_duration_seconds:p95_rate5m", "{{statement}}"),
                        unit="s",
                    ),
                ],
            ),
            (
                "Background work, cache and frontend",
                [
                    timeseries("Celery queue depth", ("queue:abb_celery_queue_depth:max", "{{queue}}")),
                    timeseries(
                        "Celery tasks",
                        (
                            "sum by (task, outcome) (rate(abb_celery_task_duration_seconds_count[5m]))",
                            "{{task}} {{outcome}}",
                        ),
                        unit="ops",
                    ),
                    timeseries(
                        "Celery task p95", ("task:abb_celery_task_duration_seconds:p95_rate5m", "{{task}}"), unit="s"
                    ),
                    timeseries(
                        "Celery task failure ratio",
                        ("task:abb_celery_task_failures:ratio_rate15m", "{{task}}"),
                        unit="percentunit",
                    ),
                    timeseries(
                        "Cache hit ratio",
                        ("job_cache:abb_cache_requests:hit_ratio_rate5m", "{{cache}}"),
                        unit="percentunit",
                    ),
                    timeseries(
                        "Redis memory and clients",
                        ("sum(redis_memory_used_bytes)", "used memory"),
                        ("sum(redis_connected_clients)", "clients"),
                    ),
                    timeseries(
                        "Frontend page load p95",
                        ("page:abb_frontend_page_load_seconds:p95_rate10m", "{{page}}"),
                        unit="s",
                        width=24,
                    ),
                ],
            ),
            backups_section(),
            capacity_section(),
            load_section(),
            security_row(),
            (
                "Alerts",
                [
                    table(
                        "Firing alerts",
                        'sum by (alertname, severity, service) (ALERTS{alertstate="firing"})',
                        description="Alerts firing now; each has its runbook at docs/runbooks/<alertname>.md.",
                    )
                ],
            ),
        ],
    )


def load_section() -> tuple[str, list[Panel]]:
    """Load shedding, the admission queue and the event loop's lag (docs/capacity.md)."""
    return (
        "Load: shedding and event loop",
        [
            timeseries(
                "Requests shed (503 + Retry-After)",
                ("sum by (reason) (rate(abb_http_requests_shed_total[5m]))", "{{reason}}"),
                unit="reqps",
                description="Refused before any work because too many requests were waiting (ApiLoadShedding).",
            ),
            timeseries(
                "Requests queued for admission",
                ("sum by (instance) (abb_http_requests_queued)", "{{instance}}"),
                description="Waiting for a database session; at most ABB_REQUEST_QUEUE_MAX per worker process.",
            ),
            timeseries(
                "Event loop lag (largest of 15 s)",
                ("max by (instance) (abb_event_loop_lag_seconds)", "{{instance}}"),
                unit="s",
                description="How late the loop's timer fired: work blocking the loop (EventLoopLagHigh above 0.1 s).",
            ),
        ],
    )


def backups_section() -> tuple[str, list[Panel]]:
    """Backups, WAL archiving, replication and the last drill (docs/runbooks/disaster-recovery.md)."""
    last = "abb_backup_last_success_timestamp_seconds"
    return (
        "Backups and recovery",
        [
            stat(
                "Last full backup age",
                f'time() - max({last}{{type="full"}})',
                unit="s",
                description="Alert BackupFullMissing above 8 days.",
            ),
            stat(
                "Last backup age (any type)",
                f"time() - max({last})",
                unit="s",
                description="Alert BackupMissing above 26 hours.",
            ),
            stat(
                "Streaming standbys",
                "max(pg_replication_streaming_standbys and pg_replication_is_primary == 1)",
                description="Alert ReplicaAbsent at 0.",
            ),
            stat("WAL archiving failing", "max(pg_archiver_failing)", description="1: the last attempt failed."),
            timeseries(
                "Backup duration and size",
                ("max by (type) (abb_backup_last_duration_seconds)", "{{type}} duration (s)"),
                ("max by (type) (abb_backup_last_size_bytes) / 1e9", "{{type}} database GB"),
            ),
            timeseries(
                "WAL archive age, archive failures, replication lag",
                ("max(pg_archiver_last_archive_age_seconds)", "seconds since the last archived segment"),
                ("sum(increase(pg_archiver_failed_count[1h]))", "archive failures per hour"),
                ("max by (instance) (pg_replication_max_replay_lag_seconds)", "{{instance}} standby lag (s)"),
                unit="short",
            ),
            stat("Last drill RTO", "abb_dr_drill_rto_seconds", unit="s", description="Target: 300 s at 1 GB."),
            stat("Last drill rows lost (RPO)", "abb_dr_drill_rpo_rows", description="Must be 0."),
            stat(
                "Last drill age",
                "time() - abb_dr_drill_last_run_timestamp_seconds",
                unit="s",
                description="Alert DrDrillOverdue above 100 days.",
            ),
            stat("Last drill met its targets", "abb_dr_drill_success", description="1: passed."),
        ],
    )


WEEK_SECONDS = 7 * 86400
FILESYSTEMS = 'fstype!~"tmpfs|ramfs|devtmpfs|squashfs|nsfs|fuse.*"'


def capacity_section() -> tuple[str, list[Panel]]:
    """Now and in 7 days at the last day's rate: the figures behind the capacity warnings
    (deploy/prometheus/rules/capacity.yml) and the weekly capacity review (docs/operations.md)."""

    def projected(title: str, series: str, legend: str, unit: str) -> Panel:
        return timeseries(
            title,
            (series, f"{legend} now"),
            (f"predict_linear({series}[1d], {WEEK_SECONDS})", f"{legend} in 7 days"),
            unit=unit,
            width=12,
            description="The last day's linear trend projected a week ahead; the capacity warning fires at the limit.",
        )

    return (
        "Capacity (7-day projection)",
        [
            projected(
                "Disk free in 7 days",
                f"node_filesystem_avail_bytes{{{FILESYSTEMS}}}",
                "{{instance}} {{mountpoint}}",
                "bytes",
            ),
            projected("Database size in 7 days", "instance:pg_database_size_bytes:sum", "{{instance}}", "bytes"),
            projected("Connection use in 7 days", "instance:pg_connections:usage_ratio", "{{instance}}", "percentunit"),
            projected("Queue depth in 7 days", "queue:abb_celery_queue_depth:max", "{{queue}}", "short"),
        ],
    )


def security_row() -> tuple[str, list[Panel]]:
    """The Operations dashboard's Security row: the signals of deploy/prometheus/rules/security.yml."""
    return (
        "Security",
        [
            timeseries(
                "Sign-in attempts per minute",
                ("sum by (outcome, reason) (rate(abb_login_attempts_total[5m])) * 60", "{{outcome}} {{reason}}"),
                description="SecurityBruteForceSurge fires at 30 failures a minute.",
            ),
            timeseries(
                "Lockouts and rate-limit refusals per minute",
                ("sum by (scope) (rate(abb_lockouts_total[10m])) * 60", "lockout {{scope}}"),
                ("sum by (limit) (rate(abb_rate_limited_total[5m])) * 60", "429 {{limit}}"),
            ),
            timeseries(
                "Injection attempts per minute",
                ("sum by (kind, mode) (rate(abb_injection_detected_total[5m])) * 60", "{{kind}} ({{mode}})"),
            ),
            timeseries(
                "401/403 per minute by route and role",
                (
                    "topk(10, sum by (route, role, status) (rate(abb_authz_denied_total[5m])) * 60)",
                    "{{status}} {{role}} {{route}}",
                ),
                width=12,
            ),
            timeseries(
                "Security events per minute",
                (
                    "topk(10, sum by (action, outcome) (rate(abb_security_events_total[5m])) * 60)",
                    "{{action}} {{outcome}}",
                ),
                width=6,
            ),
            stat(
                "Audit chain intact",
                "min(abb_audit_chain_ok)",
                width=3,
                description="1 when the last verification held; AuditChainBroken fires at 0.",
            ),
            stat("Traffic anomalies (1 h)", "sum(increase(abb_traffic_anomalies_total[1h]))", width=3),
        ],
    )


def business() -> Dashboard:
    return dashboard(
        "abb-business",
        "ABB / Business",
        "Growth and engagement, matches, deals and payments, training and revenue (docs/monitoring.md).",
        [
            (
                "Users",
                [
                    timeseries(
                        "Registrations per day by role",
                        ("sum by (role) (increase(abb_user_registrations_total[1d]))", "{{role}}"),
                        width=12,
                    ),
                    timeseries("Active users", ("abb_active_users", "{{window}}"), width=12),
                ],
            ),
            (
                "Matches and deals",
                [
                    timeseries(
                        "Matches per day",
                        ("sum(increase(abb_matches_created_total[1d]))", "created"),
                        ("sum(increase(abb_matches_accepted_total[1d]))", "accepted"),
                    ),
                    timeseries("Deals by state", ("sum by (state) (abb_deals)", "{{state}}")),
                    stat(
                        "Match to deal conversion, 30 days",
                        "sum(increase(abb_deals_created_total[30d])) / sum(increase(abb_matches_accepted_total[30d]))",
                        unit="percentunit",
                        width=8,
                    ),
                    timeseries(
                        "Deals opened and state changes per day",
                        ("sum(increase(abb_deals_created_total[1d]))", "opened"),
                        ("sum by (state) (increase(abb_deal_transitions_total[1d]))", "entered {{state}}"),
                        width=24,
                    ),
                ],
            ),
            (
                "Payments and revenue",
                [
                    timeseries(
                        "Transaction value per day by currency",
                        ("sum by (currency) (increase(abb_transaction_value_total[1d]))", "{{currency}}"),
                    ),
                    timeseries(
                        "Payments per day",
                        (
                            "sum by (provider, currency) (increase(abb_transactions_total[1d]))",
                            "{{provider}} {{currency}}",
                        ),
                    ),
                    timeseries(
                        "Failed and retried payments per day",
                        ("sum by (provider) (increase(abb_payments_failed_total[1d]))", "failed {{provider}}"),
                        ("sum by (provider) (increase(abb_payment_retries_total[1d]))", "retried {{provider}}"),
                    ),
                    timeseries(
                        "Revenue, 30 days, by currency and source",
                        ("sum by (currency, source) (increase(abb_revenue_total[30d]))", "{{currency}} {{source}}"),
                        width=12,
                    ),
                    timeseries(
                        "Course and webinar enrollments per day",
                        ("sum(increase(abb_course_enrollments_total[1d]))", "enrollments"),
                        width=12,
                    ),
                ],
            ),
        ],
    )


def development() -> Dashboard:
    ci = 'job="abb-ci"'
    deployments = "abb_ci_last_deployment_timestamp_seconds"
    return dashboard(
        "abb-development",
        "ABB / Development",
        "Delivery and code health from `abb ci report` (pushed to the Pushgateway by CI). "
        "Deployments are counted as changes of the last-deployment timestamp within the window.",
        [
            (
                "Delivery",
                [
                    stat("Deployments, 7 days", f'sum(changes({deployments}{{status="success"}}[7d]))'),
                    stat(
                        "Deployment success rate, 30 days",
                        f'sum(changes({deployments}{{status="success"}}[30d])) / sum(changes({deployments}[30d]))',
                        unit="percentunit",
                    ),
                    stat("Last CI run passed", f"abb_ci_run_success{{{ci}}}"),
                    stat("Since last CI run", f"time() - abb_ci_last_run_timestamp_seconds{{{ci}}}", unit="s"),
                    timeseries(
                        "Build duration", (f"abb_ci_build_duration_seconds{{{ci}}}", "build"), unit="s", width=12
                    ),
                    timeseries("Tests by result", (f"abb_ci_tests_total{{{ci}}}", "{{result}}"), width=12),
                ],
            ),
            (
                "Code health and performance",
                [
                    timeseries(
                        "Test coverage",
                        (f"abb_ci_coverage_ratio{{{ci}}}", "lines covered"),
                        (f"abb_ci_branch_coverage_ratio{{{ci}}}", "branches covered"),
                        unit="percentunit",
                    ),
                    timeseries(
                        "Lint and security findings",
                        (f"abb_ci_lint_findings{{{ci}}}", "lint"),
                        (f"abb_ci_security_findings{{{ci}}}", "security"),
                    ),
                    timeseries(
                        "Benchmarks against their same-run baseline",
                        (f"abb_ci_benchmark_ratio{{{ci}}}", "{{benchmark}}"),
                        description="A ratio above 1 is slower (or larger) than the baseline measured in the same run.",
                    ),
                ],
            ),
            load_test_section(),
        ],
    )


def load_test_section() -> tuple[str, list[Panel]]:
    """`make perf` results pushed under job abb-perf (perf/run.py): the trend of the knee and of p95 per endpoint."""
    perf = 'job="abb-perf"'
    return (
        "Load tests (make perf)",
        [
            timeseries("Knee: most users with p95 < 300 ms and no errors", (f"abb_perf_knee_users{{{perf}}}", "users")),
            timeseries(
                "p95 at 50 users by endpoint",
                (f'abb_perf_latency_seconds{{{perf},quantile="0.95",users="50"}}', "{{endpoint}}"),
                unit="s",
            ),
            timeseries(
                "Throughput at 50 users by endpoint",
                (f'abb_perf_requests_per_second{{{perf},users="50"}}', "{{endpoint}}"),
                unit="reqps",
            ),
        ],
    )


DASHBOARDS = {"operations": operations, "business": business, "development": development}


def render(board: Dashboard) -> str:
    return json.dumps(board.to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2) + "\n"


def write_all(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DASHBOARDS.items():
        path = out_dir / f"{name}.json"
        path.write_text(render(build()))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the Grafana dashboards as JSON.")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="directory to write the JSON files to")
    for path in write_all(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()

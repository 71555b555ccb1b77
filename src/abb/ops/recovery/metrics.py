"""Backup and drill figures for Prometheus, pushed to the Pushgateway (job `abb-backup`, `abb-dr-drill`).

The backup gauges are derived from pgBackRest's own `info --output=json` after every `abb backup run`, so
they describe what the repositories hold, not what one run believed. WAL archiving and replication come
from the server itself through postgres_exporter's custom queries (deploy/postgres-exporter/queries.yml).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

BACKUP_JOB = "abb-backup"
DRILL_JOB = "abb-dr-drill"


def backup_registry(stanza_info: dict[str, Any], *, documents_time: float | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    labels = ["stanza", "repo", "type"]
    last = Gauge("abb_backup_last_success_timestamp_seconds", "End of the newest backup", labels, registry=registry)
    duration = Gauge("abb_backup_last_duration_seconds", "Duration of the newest backup", labels, registry=registry)
    size = Gauge("abb_backup_last_size_bytes", "Database size in the newest backup", labels, registry=registry)
    stored = Gauge(
        "abb_backup_last_repository_bytes", "Bytes the newest backup added to its repository", labels, registry=registry
    )
    count = Gauge("abb_backup_count", "Backups held", labels, registry=registry)
    repo_ok = Gauge("abb_backup_repository_ok", "1 when pgBackRest reads the repository", ["stanza", "repo"],
                    registry=registry)  # fmt: skip
    stanza = str(stanza_info.get("name", ""))
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for backup in stanza_info.get("backup", []):
        key = (str(backup["database"]["repo-key"]), backup["type"])
        count.labels(stanza, *key).inc()
        if key not in newest or backup["timestamp"]["stop"] > newest[key]["timestamp"]["stop"]:
            newest[key] = backup
    for (repo, kind), backup in newest.items():
        last.labels(stanza, repo, kind).set(backup["timestamp"]["stop"])
        duration.labels(stanza, repo, kind).set(backup["timestamp"]["stop"] - backup["timestamp"]["start"])
        size.labels(stanza, repo, kind).set(backup["info"]["size"])
        stored.labels(stanza, repo, kind).set(backup["info"]["repository"]["delta"])
    for repo_entry in stanza_info.get("repo", []):
        repo_ok.labels(stanza, str(repo_entry["key"])).set(1 if repo_entry["status"]["code"] in (0, 2) else 0)
    if documents_time is not None:
        Gauge("abb_backup_documents_last_success_timestamp_seconds", "Last copy of the uploaded documents",
              ["stanza"], registry=registry).labels(stanza).set(documents_time)  # fmt: skip
    return registry


def drill_registry(report: dict[str, Any]) -> CollectorRegistry:
    registry = CollectorRegistry()
    Gauge("abb_dr_drill_rto_seconds", "Disaster to application ready, last drill", registry=registry).set(
        report["rto_seconds"]
    )
    Gauge("abb_dr_drill_rpo_rows", "Rows acknowledged before the target and missing after restore, last drill",
          registry=registry).set(report["rpo"]["rows_lost"])  # fmt: skip
    Gauge("abb_dr_drill_archive_exposure_seconds", "WAL not yet archived at the disaster, last drill",
          registry=registry).set(report["rpo"]["archive_exposure_seconds"])  # fmt: skip
    Gauge("abb_dr_drill_database_bytes", "Size of the drilled database", registry=registry).set(
        report["database_bytes"]
    )
    Gauge("abb_dr_drill_success", "1 when the last drill met its targets", registry=registry).set(
        1 if report["passed"] else 0
    )
    Gauge("abb_dr_drill_last_run_timestamp_seconds", "When the last drill ended", registry=registry).set(time.time())
    return registry


def push(gateway: str, job: str, registry: CollectorRegistry, grouping: dict[str, str] | None = None) -> None:
    push_to_gateway(gateway, job=job, registry=registry, grouping_key=grouping or {}, timeout=10)

"""What `abb backup run|list|verify` and `abb restore` do, for production and for the drill alike."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from abb.ops.recovery import documents, metrics
from abb.ops.recovery.cluster import Cluster, default_bin_dir
from abb.ops.recovery.errors import RecoveryError
from abb.ops.recovery.pgbackrest import BACKUP_TYPES, Backrest, backups
from abb.ops.recovery.settings import RecoverySettings

Echo = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


def server(settings: RecoverySettings) -> Cluster:
    return Cluster(
        data_dir=settings.pg_data,
        port=settings.pg_port,
        socket_dir=settings.pg_socket_dir,
        host=settings.pg_host,
        bin_dir=default_bin_dir(),
        log_file=settings.log_dir / f"postgresql-{settings.stanza}.log",
    )


def parse_target(text: str) -> datetime:
    """ISO 8601; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError as exc:
        raise RecoveryError(f"'{text}' is not a time: use ISO 8601, e.g. 2026-03-01T14:30:00Z") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def pg_time(moment: datetime) -> str:
    """The form pgBackRest and PostgreSQL's recovery_target_time read (microseconds kept)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


# --- backup -------------------------------------------------------------------------------------------------


@dataclass
class BackupOutcome:
    kind: str
    repos: list[int]
    labels: list[str]
    seconds: float
    documents: list[documents.DocumentsCopy]


def run_backup(
    settings: RecoverySettings, *, kind: str, repos: list[int] | None = None, echo: Echo = _quiet
) -> BackupOutcome:
    if kind not in BACKUP_TYPES:
        raise RecoveryError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, not '{kind}'")
    backrest = Backrest(settings)
    started = time.monotonic()
    echo(f"checking stanza '{settings.stanza}' and WAL archiving")
    backrest.ensure_stanza()
    labels = []
    for repo in repos or [1, 2]:
        echo(f"{kind} backup to repo{repo}")
        output = backrest.run("backup", f"--type={kind}", f"--repo={repo}", "--log-level-console=info", echo=echo)
        labels += [line.rsplit("= ", 1)[1] for line in output.splitlines() if "new backup label" in line]
    copies = []
    if settings.upload_dir is not None:
        stanza_info = backrest.info()
        kept = backups(stanza_info)
        for _repo, path in settings.posix_repos():
            copy = documents.back_up(settings.upload_dir, path)
            echo(f"documents: {copy.files} files ({copy.copied} new) checksummed into {copy.manifest}")
            if kept:
                documents.prune(path, older_than=datetime.fromtimestamp(kept[0]["timestamp"]["start"], UTC))
            copies.append(copy)
    outcome = BackupOutcome(kind, repos or [1, 2], labels, time.monotonic() - started, copies)
    if settings.pushgateway_url:
        push_backup_metrics(settings, documents_time=time.time() if copies else None)
    return outcome


def push_backup_metrics(settings: RecoverySettings, *, documents_time: float | None = None) -> None:
    registry = metrics.backup_registry(Backrest(settings).info(), documents_time=documents_time)
    try:
        metrics.push(settings.pushgateway_url, metrics.BACKUP_JOB, registry, {"stanza": settings.stanza})
    except OSError as exc:
        raise RecoveryError(f"backup done, but its metrics could not be pushed to the Pushgateway: {exc}") from exc


def list_backups(settings: RecoverySettings) -> list[dict[str, Any]]:
    return backups(Backrest(settings).info())


def verify(settings: RecoverySettings, *, echo: Echo = _quiet) -> list[str]:
    """pgBackRest's verify on every repository (backups and WAL readable and decryptable), plus the documents."""
    backrest = Backrest(settings)
    problems = []
    for repo in (1, 2):
        echo(f"verifying repo{repo}")
        output = backrest.run("verify", f"--repo={repo}", "--log-level-console=info", echo=echo)
        problems += [line.split("INFO: ", 1)[-1] for line in output.splitlines() if "missing" in line.lower()]
    for _repo, path in settings.posix_repos():
        checked, found = documents.verify(path)
        echo(f"documents in {path}: {checked} checked")
        problems += found
    return problems


# --- restore ------------------------------------------------------------------------------------------------


@dataclass
class RestoreOutcome:
    target: datetime | None
    backup_label: str
    repo: int | None
    restore_seconds: float
    recovery_seconds: float
    documents_restored: int


def check_target(stanza_info: dict[str, Any], target: datetime | None, *, repo: int | None) -> dict[str, Any]:
    """The backup a restore to `target` starts from, or a one-line refusal."""
    candidates = [b for b in backups(stanza_info) if repo is None or b["database"]["repo-key"] == repo]
    where = f"repo{repo}" if repo else "any repository"
    if not candidates:
        raise RecoveryError(f"no backup in {where} to restore from")
    if target is None:
        return candidates[-1]
    now = datetime.now(UTC)
    if target > now:
        raise RecoveryError(f"target {target.isoformat()} is in the future (now {now.isoformat(timespec='seconds')})")
    oldest_end = datetime.fromtimestamp(candidates[0]["timestamp"]["stop"], UTC)
    if target < oldest_end:
        raise RecoveryError(
            f"target {target.isoformat()} is before the oldest backup in {where} "
            f"({candidates[0]['label']}, consistent from {oldest_end.isoformat()})"
        )
    usable = [b for b in candidates if datetime.fromtimestamp(b["timestamp"]["stop"], UTC) <= target]
    return usable[-1]


def restore(
    settings: RecoverySettings,
    *,
    target: datetime | None,
    force: bool = False,
    repo: int | None = None,
    start: bool = True,
    echo: Echo = _quiet,
) -> RestoreOutcome:
    """Restore the cluster at `settings.pg_data` to `target` (or the end of the archive) and start it promoted."""
    cluster = server(settings)
    if cluster.is_running():
        raise RecoveryError(
            f"PostgreSQL is running on {cluster.data_dir} (port {cluster.port}): stop it before restoring"
        )
    if cluster.has_data() and not force:
        raise RecoveryError(f"data directory {cluster.data_dir} is not empty: pass --force to overwrite it")
    backrest = Backrest(settings)
    chosen = check_target(backrest.info(repo=repo), target, repo=repo)
    echo(f"restoring from backup {chosen['label']} (repo{chosen['database']['repo-key']})")
    if cluster.has_data():
        echo(f"--force: emptying {cluster.data_dir}")
        cluster.wipe()
    started = time.monotonic()
    args = [f"--set={chosen['label']}", f"--repo={chosen['database']['repo-key']}", "--log-level-console=info"]
    if target is not None:
        args += ["--type=time", f"--target={pg_time(target)}", "--target-action=promote"]
    backrest.run("restore", *args, echo=echo)
    restored_at = time.monotonic()
    if start:
        echo("starting PostgreSQL and replaying WAL")
        _start_and_recover(cluster, target)
    recovered_at = time.monotonic()
    count = 0
    if settings.upload_dir is not None:
        paths = dict(settings.posix_repos())
        source = paths.get(chosen["database"]["repo-key"], paths[1])
        count = documents.restore(source, settings.upload_dir, at=target, force=force)
        echo(f"documents: {count} files restored into {settings.upload_dir} from {source}, checksums verified")
    return RestoreOutcome(
        target,
        chosen["label"],
        chosen["database"]["repo-key"],
        restored_at - started,
        recovered_at - restored_at,
        count,
    )


def _start_and_recover(cluster: Cluster, target: datetime | None) -> None:
    log_start = cluster.log_file.stat().st_size if cluster.log_file and cluster.log_file.exists() else 0
    try:
        cluster.start()  # returns once hot standby accepts connections, before the target is reached
        while True:
            with contextlib.suppress(psycopg.Error):
                if not cluster.in_recovery():
                    break
            if not cluster.is_running():
                raise RecoveryError("PostgreSQL stopped during recovery: see its log")
            time.sleep(0.1)
    except RecoveryError as exc:
        log = _log_since(cluster.log_file, log_start)
        if "recovery ended before configured recovery target was reached" in log:
            raise RecoveryError(
                f"missing WAL: the archive ends before the target {target.isoformat() if target else ''}; "
                "restore to an earlier time, or find the missing WAL segments"
            ) from exc
        if "could not locate required checkpoint record" in log or "invalid checkpoint record" in log:
            raise RecoveryError("missing WAL: the backup's own WAL is not in the archive") from exc
        raise


def _log_since(path: Path | None, offset: int) -> str:
    if path is None or not path.exists():
        return ""
    with open(path, errors="replace") as log:
        log.seek(offset)
        return log.read()

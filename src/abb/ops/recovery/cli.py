"""`abb backup …`, `abb restore`, `abb dr …`: every refusal is one line on stderr and exit status 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported when a command runs: `abb --help` stays fast
    from abb.ops.recovery.cluster import Cluster
    from abb.ops.recovery.settings import RecoverySettings

backup_app = typer.Typer(help="pgBackRest backups of the PostgreSQL database and the uploaded documents.")
dr_app = typer.Typer(help="Disaster recovery: drills, failover to the standby, rebuilding a standby.")


def echo(line: str) -> None:
    typer.echo(line)


@contextmanager
def one_line_errors() -> Iterator[None]:
    from abb.ops.recovery.errors import RecoveryError

    try:
        yield
    except RecoveryError as exc:
        typer.echo(f"error: {str(exc).strip().splitlines()[0]}", err=True)
        raise typer.Exit(1) from exc


def _settings() -> RecoverySettings:
    from abb.ops.recovery.settings import RecoverySettings

    return RecoverySettings()


@backup_app.command("configure")
def backup_configure(
    postgresql_conf: Annotated[
        Path | None, typer.Option(help="Also append the WAL archiving settings to this postgresql.conf")
    ] = None,
) -> None:
    """Render the pgBackRest configuration from deploy/pgbackrest/ with the passphrase from its secret file."""
    from abb.ops.recovery.pgbackrest import render_archiving, write_config

    with one_line_errors():
        settings = _settings()
        written = write_config(settings)
        typer.echo(f"wrote {written} (mode 600, passphrase from {settings.passphrase_file})")
        if postgresql_conf:
            with open(postgresql_conf, "a") as conf:
                conf.write("\n" + render_archiving(settings))
            typer.echo(f"appended WAL archiving settings to {postgresql_conf}: restart PostgreSQL")


@backup_app.command("run")
def backup_run(
    kind: Annotated[str, typer.Option("--type", help="full, diff or incr")] = "incr",
    repo: Annotated[int | None, typer.Option(min=1, max=2, help="Only this repository (default: both)")] = None,
) -> None:
    """Back up to both repositories (creating the stanza the first time), copy the documents, push metrics."""
    from abb.ops.recovery.operations import run_backup

    with one_line_errors():
        outcome = run_backup(_settings(), kind=kind, repos=[repo] if repo else None, echo=echo)
    typer.echo(f"{kind} backup done in {outcome.seconds:.1f}s: {', '.join(outcome.labels)}")


@backup_app.command("list")
def backup_list(as_json: Annotated[bool, typer.Option("--json", help="pgBackRest's JSON entries")] = False) -> None:
    """The backups in every repository, oldest first, with the time each one is consistent from."""
    from abb.ops.recovery.operations import list_backups

    with one_line_errors():
        found = list_backups(_settings())
    if as_json:
        typer.echo(json.dumps(found, indent=1))
        return
    if not found:
        typer.echo("no backups")
    for b in found:
        stop = datetime.fromtimestamp(b["timestamp"]["stop"], UTC).isoformat()
        typer.echo(
            f"repo{b['database']['repo-key']}  {b['label']:<28} {b['type']:<5} consistent from {stop}  "
            f"{b['info']['size'] / 1e6:,.1f} MB (stored {b['info']['repository']['delta'] / 1e6:,.1f} MB)"
        )


@backup_app.command("verify")
def backup_verify() -> None:
    """Read and decrypt every backup and WAL segment in both repositories; check the document copies."""
    from abb.ops.recovery.operations import verify

    with one_line_errors():
        problems = verify(_settings(), echo=echo)
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo("verified: every backup, WAL segment and document copy is readable")


def restore(
    to: Annotated[str | None, typer.Option("--to", help="Target time, ISO 8601 (UTC without an offset)")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Everything the archive holds")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty data directory / documents")] = False,
    repo: Annotated[int | None, typer.Option(min=1, max=2, help="Restore from this repository only")] = None,
) -> None:
    """Restore the database (and the documents) to a point in time, then start PostgreSQL promoted."""
    from abb.ops.recovery.operations import parse_target
    from abb.ops.recovery.operations import restore as run_restore

    if (to is None) == (not latest):
        typer.echo("error: give exactly one of --to TIMESTAMP or --latest", err=True)
        raise typer.Exit(2)
    with one_line_errors():
        target = parse_target(to) if to else None
        outcome = run_restore(_settings(), target=target, force=force, repo=repo, echo=echo)
    typer.echo(
        f"restored {outcome.backup_label} from repo{outcome.repo} to "
        f"{outcome.target.isoformat() if outcome.target else 'the end of the archive'}: files "
        f"{outcome.restore_seconds:.1f}s, WAL replay {outcome.recovery_seconds:.1f}s"
    )


def register(app: typer.Typer) -> None:
    """Add the commands to the main `abb` application."""
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore)
    app.add_typer(dr_app, name="dr")


@dr_app.command("drill")
def dr_drill(
    size_mb: Annotated[int, typer.Option("--size-mb", min=1, max=100_000, help="Database size to drill")] = 30,
    writers: Annotated[int, typer.Option(min=1, max=16, help="Concurrent writers through the API")] = 2,
    before: Annotated[float, typer.Option(min=0.5, help="Seconds of writes before the target")] = 4.0,
    after: Annotated[float, typer.Option(min=0.5, help="Seconds of writes after the target")] = 3.0,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here")] = None,
    pushgateway: Annotated[str, typer.Option(envvar="ABB_PUSHGATEWAY_URL", help="Push the figures here")] = "",
    keep: Annotated[bool, typer.Option("--keep", help="Leave the clusters and logs for a look")] = False,
) -> None:
    """Backup, writes through the API, disaster, restore to a target: prints and reports RTO and RPO."""
    from abb.ops.recovery.drill import DrillOptions, run_drill

    options = DrillOptions(
        size_mb=size_mb,
        writers=writers,
        seconds_before_target=before,
        seconds_after_target=after,
        report=report,
        pushgateway_url=pushgateway,
        keep=keep,
    )
    with one_line_errors():
        result = run_drill(options, echo=echo)
    if not result["passed"]:
        raise typer.Exit(1)


def _local_server() -> Cluster:
    from abb.ops.recovery.operations import server

    return server(_settings())


@dr_app.command("failover")
def dr_failover(
    primary: Annotated[str, typer.Option(help="HOST:PORT of the primary being replaced")],
    force: Annotated[bool, typer.Option("--force", help="Promote although the primary still answers")] = False,
) -> None:
    """Promote the standby on this host (ABB_BACKUP_PG_*) to primary; refuses while the old primary answers."""
    from abb.ops.recovery.failover import promote, remote

    with one_line_errors():
        promote(_local_server(), primary=remote(primary), force=force, echo=echo)


@dr_app.command("watch")
def dr_watch(
    primary: Annotated[str, typer.Option(help="HOST:PORT of the primary to watch")],
    grace: Annotated[float, typer.Option(min=1, help="Seconds of silence before promoting")] = 30.0,
) -> None:
    """Watchdog on the standby's host: promote the local standby once the primary is silent for GRACE seconds."""
    from abb.ops.recovery.failover import remote, watch

    with one_line_errors():
        promoted = watch(remote(primary), _local_server(), grace=grace, interval=1.0, echo=echo)
    if not promoted:
        raise typer.Exit(1)


@dr_app.command("rebuild-standby")
def dr_rebuild_standby(
    primary: Annotated[str, typer.Option(help="HOST:PORT of the new primary to follow")],
    force: Annotated[bool, typer.Option("--force", help="Replace this host's data directory")] = False,
) -> None:
    """Turn this host's stopped (old primary) server into a standby of PRIMARY, then turn sync replication on."""
    from abb.ops.recovery.failover import rebuild_standby, remote

    with one_line_errors():
        rebuild_standby(_local_server(), remote(primary), force=force, echo=echo)

"""The `abb` command line."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, cast

import typer

from abb.ops.recovery.cli import register as register_recovery

app = typer.Typer(
    help="Africa Business Bridge: serve, migrate, seed and administer the platform.", no_args_is_help=True
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="ABB_HOST", help="Address to listen on")] = "127.0.0.1",
    # PORT is what Cloud Run sets; ABB_WORKERS lets one container image size itself per deployment.
    port: Annotated[int, typer.Option(min=1, max=65535, envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32, envvar="ABB_WORKERS", help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Serve the API and the web pages."""
    import uvicorn

    from abb.core.config import get_settings
    from abb.observability.logging import configure_logging, uvicorn_log_config
    from abb.observability.metrics import prepare_multiprocess_dir

    settings = get_settings()  # fail fast on an unsafe production configuration, before forking workers
    configure_logging(settings)
    if workers > 1:
        # Each worker writes its metric values here; /metrics adds them up (prometheus_client multiprocess).
        prepare_multiprocess_dir(settings.var_dir / f"prometheus-{port}")
    uvicorn.run(
        "abb.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        # SIGTERM: stop accepting, give requests in progress this long, cancel the rest, then the app's
        # shutdown flushes access lines and metrics (Cloud Run sends SIGKILL 10 s after SIGTERM).
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
        access_log=False,  # abb.observability writes one JSON access line per request
        log_config=uvicorn_log_config(),  # uvicorn's records go through our handler (JSON or text lines)
    )


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    from abb.core.migrate import upgrade

    upgrade(revision=revision)
    typer.echo(f"database migrated to {revision}")


@app.command("seed-demo")
def seed_demo(
    smes: Annotated[int, typer.Option(min=0, max=1_000_000, help="Italian SMEs to create")] = 40,
    partners: Annotated[int, typer.Option(min=0, max=1_000_000, help="Partners in KE/TZ/ET to create")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed, for repeatable data")] = 2026,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when users already exist")] = False,
) -> None:
    """Fill the database with realistic synthetic SMEs and partners (and the demo logins)."""
    from abb.demo.seed import seed_database

    summary = seed_database(smes=smes, partners=partners, seed=seed, if_empty=if_empty)
    typer.echo(summary)


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    full_name: Annotated[str, typer.Option(prompt=True)] = "Administrator",
) -> None:
    """Create an administrator account (the password is asked for, never passed as an argument)."""
    from pydantic import TypeAdapter, ValidationError

    from abb.accounts import service
    from abb.accounts.schemas import AdminCreateUserIn, Email
    from abb.core.config import get_settings
    from abb.core.database import Database
    from abb.core.errors import AppError

    try:
        address = TypeAdapter(Email).validate_python(email)
    except ValidationError as exc:
        raise typer.BadParameter("not a valid e-mail address", param_hint="--email") from exc
    password = getpass.getpass("Password: ")
    settings = get_settings()
    db = Database(settings)
    try:
        with db.session_factory() as session:
            # Not validated again: the address was checked above, the password is the service's to judge.
            admin_in = AdminCreateUserIn.model_construct(
                email=address, password=password, full_name=full_name, role="admin"
            )
            user = service.register(session, register_in=admin_in, settings=settings)
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"administrator {user.email} created (id {user.id})")


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Tasks run at the same time")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, threads or solo")] = "prefork",
    beat: Annotated[
        bool, typer.Option("--beat", help="Also run the scheduler (nightly recompute); in one worker only")
    ] = False,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Run a Celery worker for the background tasks (needs ABB_REDIS_URL or ABB_CELERY_BROKER_URL)."""
    from abb.core.config import get_settings

    if pool not in ("prefork", "threads", "solo"):
        raise typer.BadParameter("choose prefork, threads or solo", param_hint="--pool")
    settings = get_settings()
    if not settings.resolved_celery_broker_url:
        typer.echo(
            "error: set ABB_REDIS_URL (or ABB_CELERY_BROKER_URL); without it tasks run inside `abb serve`", err=True
        )
        raise typer.Exit(2)
    if pool == "prefork" and settings.worker_metrics_port:
        # Pool processes write metric values here for ABB_WORKER_METRICS_PORT to add up; it must be set
        # before prometheus_client is first imported (abb.tasks imports it).
        import os
        import tempfile

        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="abb-worker-metrics-"))
    from abb.tasks.celery_app import celery_app

    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}"]
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"]
    celery_app.worker_main(argv)


audit_app = typer.Typer(help="The security audit log: verify its hash chain.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit row's hash and link; report the first broken link (exit status 1 if any)."""
    from abb.core.config import get_settings
    from abb.core.database import Database
    from abb.security.audit import verify_and_record

    db = Database(get_settings())
    try:
        with db.session_factory() as session:
            result = verify_and_record(session)
    finally:
        db.dispose()
    if result.ok:
        typer.echo(f"audit chain intact: {result.rows_checked} rows, last id {result.last_id}")
        return
    typer.echo(f"audit chain BROKEN at row {result.broken_at_id}: {result.reason}")
    typer.echo(f"{result.rows_checked} rows intact before it")
    raise typer.Exit(1)


ci_app = typer.Typer(help="Continuous integration: report a run's figures to the monitoring stack.")
app.add_typer(ci_app, name="ci")


@ci_app.command("report")
def ci_report(
    gateway: Annotated[str, typer.Option(envvar="ABB_PUSHGATEWAY_URL", help="Pushgateway address")],
    build_seconds: Annotated[float | None, typer.Option(min=0, help="Wall time of the run")] = None,
    success: Annotated[bool | None, typer.Option("--success/--failure", help="How the run ended")] = None,
    junit: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="pytest --junitxml")] = None,
    coverage_xml: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="Cobertura XML")] = None,
    lint_report: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="ruff check --output-format=json")
    ] = None,
    security_findings: Annotated[int | None, typer.Option(min=0)] = None,
    deployment: Annotated[str | None, typer.Option(help="Outcome of a deployment: success or failure")] = None,
    benchmark: Annotated[
        list[str] | None, typer.Option(help="NAME=RATIO against the same run's baseline; repeatable")
    ] = None,
) -> None:
    """Push this CI run's figures (build, tests, coverage, findings, deployment, benchmarks) to the Pushgateway."""
    from abb.ops import ci_report as report

    if deployment not in (None, "success", "failure"):
        raise typer.BadParameter("must be success or failure", param_hint="--deployment")
    ratios: dict[str, float] = {}
    for item in benchmark or []:
        name, _, value = item.partition("=")
        try:
            if not name.strip():
                raise ValueError(item)
            ratios[name.strip()] = float(value)
        except ValueError as exc:
            raise typer.BadParameter(f"{item!r} is not NAME=RATIO", param_hint="--benchmark") from exc
    figures = report.CiFigures(
        build_seconds=build_seconds,
        succeeded=success,
        tests=report.read_junit(junit) if junit else {},
        coverage_ratio=report.read_cobertura_coverage(coverage_xml) if coverage_xml else None,
        branch_coverage_ratio=report.read_cobertura_coverage(coverage_xml, "branch-rate") if coverage_xml else None,
        lint_findings=report.read_ruff_findings(lint_report) if lint_report else None,
        security_findings=security_findings,
        deployment=cast(report.DeploymentStatus | None, deployment),
        benchmark_ratios=ratios,
    )
    try:
        report.push(gateway, figures)
    except OSError as exc:
        typer.echo(f"error: could not push to the Pushgateway: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"pushed CI figures to {gateway} (job {report.JOB})")


register_recovery(app)  # abb backup …, abb restore, abb dr …

if __name__ == "__main__":
    app()

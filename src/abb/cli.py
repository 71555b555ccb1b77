"""The `abb` command line."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

app = typer.Typer(
    help="Africa Business Bridge: serve, migrate, seed and administer the platform.", no_args_is_help=True
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Serve the API and the web pages."""
    import uvicorn

    from abb.core.config import get_settings

    get_settings()  # fail fast on an unsafe production configuration, before forking workers
    uvicorn.run(
        "abb.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        access_log=False,
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
    from abb.accounts.models import Role
    from abb.accounts.schemas import Email
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
            user = service.register(
                session,
                email=address,
                password=password,
                full_name=full_name,
                role=Role.ADMIN,
                settings=settings,
            )
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"administrator {user.email} created (id {user.id})")


if __name__ == "__main__":
    app()

"""Run Alembic migrations from code (CLI, tests) without an alembic.ini on disk."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "abb:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection | None = None, revision: str = "heads") -> None:
    command.upgrade(alembic_config(connection=connection), revision)

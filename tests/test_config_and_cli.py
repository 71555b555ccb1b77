"""Settings safety, the command line, and migrations that match the models."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from abb.accounts.models import User
from abb.cli import app as cli
from abb.companies.models import PartnerProfile, SmeProfile
from abb.companies.taxonomy import CITIES
from abb.core.config import DEV_SECRET_KEY, Settings
from abb.core.database import Base
from abb.core.migrate import upgrade
from abb.models import load_all_models

STRONG = "a-properly-random-production-secret-0123456789"
PG_URL = "postgresql://abb:hunter2-db-password@db.internal:5432/abb"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"database_url": PG_URL}, "ABB_SECRET_KEY"),
        ({"database_url": PG_URL, "secret_key": "short-secret"}, "ABB_SECRET_KEY"),
        ({"secret_key": STRONG}, "ABB_DATABASE_URL"),
        ({"secret_key": STRONG, "database_url": PG_URL, "cookie_secure": False}, "ABB_COOKIE_SECURE"),
        # an address allow-list alone does not guard /metrics behind a same-host proxy (issue 15)
        ({"secret_key": STRONG, "database_url": PG_URL, "metrics_allow": ["127.0.0.0/8"]}, "ABB_METRICS_TOKEN"),
        # the test suite's cheap Argon2 cost must never reach production
        (
            {"secret_key": STRONG, "database_url": PG_URL, "metrics_port": 9464, "password_hash_memory_kib": 8},
            "ABB_PASSWORD_HASH_MEMORY_KIB",
        ),
        (
            {"secret_key": STRONG, "database_url": PG_URL, "metrics_port": 9464, "password_hash_time_cost": 1},
            "ABB_PASSWORD_HASH_TIME_COST",
        ),
    ],
)
def test_production_refuses_unsafe_settings_without_echoing_them(overrides, named):
    with pytest.raises(ValidationError) as info:
        Settings(env="production", **overrides)
    message = str(info.value)
    assert named in message
    for secret in ("hunter2-db-password", "short-secret", DEV_SECRET_KEY):
        assert secret not in message


def test_production_accepts_safe_settings_and_dev_needs_nothing(monkeypatch):
    settings = Settings(env="production", secret_key=STRONG, database_url=PG_URL, metrics_port=9464)
    assert not settings.is_sqlite
    assert STRONG not in repr(settings) and "hunter2" not in repr(settings.secret_key)
    for name in ("ABB_ENV", "ABB_DATABASE_URL", "ABB_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert Settings(_env_file=None).resolved_database_url.startswith("sqlite:///")


def test_serve_refuses_to_start_in_unsafe_production(tmp_path):
    env = {"ABB_ENV": "production", "ABB_SECRET_KEY": "short", "ABB_DATABASE_URL": PG_URL, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "abb", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "refusing to start in production" in output
    assert "hunter2-db-password" not in output


_STARTUP_GC = """
import gc
from fastapi.testclient import TestClient
from abb.app import create_app
app = create_app()
before = gc.get_freeze_count()
with TestClient(app):
    print(before, gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_startup_freezes_what_it_built_and_sets_young_collections(tmp_path):
    """A fresh process: nothing frozen before start-up, start-up's objects frozen after it, the threshold set."""
    env = {
        "ABB_ENV": "test",
        "ABB_VAR_DIR": str(tmp_path),
        "ABB_DATABASE_URL": f"sqlite:///{tmp_path / 'gc.sqlite3'}",
        "ABB_GC_GEN0_THRESHOLD": "5000",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP_GC], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    before, after, threshold = map(int, result.stdout.split()[-3:])
    assert before == 0
    assert after > 100_000  # imports, the app and its routes: the objects the process keeps for good
    assert threshold == 5000


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["seed-demo"], ["create-admin"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_migrate_and_seed_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("ABB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ABB_DATABASE_URL", raising=False)
    from abb.core.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        seeded = runner.invoke(cli, ["seed-demo", "--smes", "25", "--partners", "35"])
        assert seeded.exit_code == 0, seeded.output
        again = runner.invoke(cli, ["seed-demo", "--if-empty"])
        assert "already has users" in again.output
        bad = runner.invoke(cli, ["seed-demo", "--smes", "-1"])
        assert bad.exit_code != 0
    finally:
        get_settings.cache_clear()
    engine = create_engine(f"sqlite:///{tmp_path / 'abb.sqlite3'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SmeProfile)) == 25
        partners = conn.execute(select(PartnerProfile.country, PartnerProfile.city)).all()
        assert len(partners) == 35
        assert all(city in CITIES[country] for country, city in partners)  # real cities of KE, TZ, ET
        emails = set(conn.scalars(select(User.email)))
        assert "admin@demo.africabusinessbridge.example" in emails
    engine.dispose()


def test_migrations_match_the_models(engine):
    """Alembic's migrations create exactly the schema the models describe (on both backends)."""
    load_all_models()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrations_run_on_an_empty_database(tmp_path):
    scratch = create_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    with scratch.begin() as conn:
        upgrade(connection=conn)
    with scratch.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 0
    scratch.dispose()

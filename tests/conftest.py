"""Fixtures: real databases (SQLite and PostgreSQL), one rolled-back transaction per test, an API client.

Every test that takes `client` or `session` runs once per backend, so the same API tests prove
both the embedded default and production's PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import coverage
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from abb.app import create_app
from abb.core.config import Settings
from abb.core.database import Database, make_engine
from abb.core.http import get_session
from abb.core.migrate import upgrade
from tests.harness.serve import CHEAP_PASSWORD_HASHING
from tests.harness.services import PostgresServer, running_postgres

pytest_plugins = [
    "tests.fixtures_training",
    "tests.fixtures_uploads",
    "tests.fixtures_monitoring",
    "tests.fixtures_redis",
    "tests.fixtures_deals",
    "tests.fixtures_observability",
    "tests.fixtures_security",
]
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `slow` first, the rest in their order (the sort is stable).

    `make test` hands whole files to its workers in this order (`--dist loadfile --no-loadscope-reorder`);
    xdist's own order (most tests first) left the few-test, minute-long files for the end, one worker busy
    for minutes while the other idled.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish() -> None:
    """Write this process's coverage data as soon as its tests are done (`make test` runs under coverage).

    An xdist worker still busy 5 s after the controller ends the run gets SIGINT and, 10 s later,
    `os._exit` (execnet), which skips the exit handler that would have written its data: beside a CPU hog
    that lost a worker's share (63 % reported instead of 94 %). Coverage writes again at exit when it can.
    """
    current = coverage.Coverage.current()
    if current is not None:
        current.save()


def make_settings(**overrides: object) -> Settings:
    # Requests recorded at once: pytest swaps sys.stdout per test, a batch written later would miss it.
    values: dict[str, object] = {
        "env": "test",
        "secret_key": TEST_SECRET,
        "password_min_length": 10,
        "telemetry_flush_seconds": 0,
        "security_flush_seconds": 0,  # security events written when their request ends, in the test's transaction
    }
    if overrides.get("env") != "production":  # which refuses the cheap cost
        values.update(CHEAP_PASSWORD_HASHING)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def _migrated_engine(url: str) -> Engine:
    engine = make_engine(make_settings(database_url=url))
    with engine.begin() as conn:
        upgrade(connection=conn)
    return engine


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "abb.sqlite3"
    engine = _migrated_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    engine = _migrated_engine(postgres_server.create_database("abb_test"))
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back: service commits become savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    db_session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield db_session
    db_session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


# One app per settings and database in a test process, as a server has one: FastAPI builds a route's
# dependencies and validators on the first request that tries it (a page, tried after every API route, costs
# 0.3 s; 0.6 s under coverage), so an app made for every test spent a third of the in-process tests' time there.
_APPS: OrderedDict[str, FastAPI] = OrderedDict()
_APPS_KEPT = 6


def _settings_key(settings: Settings) -> str:
    values = settings.model_dump()
    return repr({name: v.get_secret_value() if isinstance(v, SecretStr) else v for name, v in values.items()})


def bound_to(session: Session, application: FastAPI) -> FastAPI:
    """The app with every request's database work, the security events' included, in the test's session."""
    application.dependency_overrides = {get_session: lambda: session}
    application.state.audit_session_scope = lambda: contextlib.nullcontext(session)
    return application


@pytest.fixture
def app(session: Session, settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    """The test's app: shared with the tests of the same settings and database, as each test finds it new —
    its own session and transaction, middleware made afresh (the injection and anomaly detectors' counts), new
    rate-limit counters, and whatever it changed on `app.state` put back afterwards. A test that adds routes
    makes an app of its own (`create_app`)."""
    key = f"{engine.url!r} {_settings_key(settings)}"
    application = _APPS.pop(key, None) or create_app(settings, database=Database(engine=engine))
    _APPS[key] = application
    while len(_APPS) > _APPS_KEPT:
        _APPS.popitem(last=False)
    routes = len(application.router.routes)
    state = dict(application.state._state)
    application.middleware_stack = None  # built again on the first request
    application.state.rate_limits.start_afresh()
    yield bound_to(session, application)
    application.state._state.clear()
    application.state._state.update(state)
    assert len(application.router.routes) == routes, "a test that adds routes must make its own app"


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # https: the session cookie is Secure, as in production.
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client

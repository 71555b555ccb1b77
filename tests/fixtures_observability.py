"""Observability fixtures: an app on its own migrated SQLite database, captured JSON logs, /metrics parsing."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from abb.app import create_app
from abb.core.config import Settings
from abb.core.database import Database
from abb.observability.logging import configure_logging, flush_logs
from tests.conftest import _migrated_engine, make_settings
from tests.harness.services import free_port, wait_for_port

LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def obs_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own: these tests commit through the real app (no rolled-back session)."""
    engine = _migrated_engine(f"sqlite:///{tmp_path_factory.mktemp('obs') / 'abb.sqlite3'}")
    yield engine
    engine.dispose()


def app_on(engine: Engine, settings: Settings) -> FastAPI:
    database = Database.__new__(Database)
    database.engine = engine
    database.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    return create_app(settings, database=database)


@pytest.fixture
def make_obs_app(obs_engine: Engine, tmp_path: Path) -> Callable[..., FastAPI]:
    def make(**overrides: Any) -> FastAPI:
        # Finished requests recorded in batches, as deployed: reading /metrics or the captured log flushes them.
        values: dict[str, Any] = {
            "var_dir": tmp_path,
            "metrics_cache_seconds": 0,
            "telemetry_flush_seconds": Settings.model_fields["telemetry_flush_seconds"].default,
        }
        values.update(overrides)
        return app_on(obs_engine, make_settings(**values))

    return make


class LogCapture:
    """Everything the JSON handler writes, parsed line by line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def attach(self, settings: Settings) -> None:
        configure_logging(settings, stream=self.stream)

    @property
    def text(self) -> str:
        flush_logs()  # access lines are written in batches (abb.observability.recorder)
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    capture = LogCapture()
    yield capture
    configure_logging(make_settings())  # back to stdout for the tests that follow


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent (a labelled series appears with its first observation)."""
    return metric_samples(text).get((name, frozenset(labels.items())), 0.0)


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


class LiveServer:
    """The app served by uvicorn in a thread on a free loopback port (real HTTP, real timeouts)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

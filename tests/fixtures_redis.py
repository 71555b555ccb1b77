"""Fixtures for background work and the cache: a real Redis server, a real SMTP server (aiosmtpd, in this
process), real Celery worker subprocesses, and committed databases the workers can see."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from abb.core import cache
from abb.core.config import get_settings
from abb.core.database import make_engine
from abb.core.migrate import upgrade
from tests.harness.redis import RedisServer
from tests.harness.services import PostgresServer, free_port, unavailable
from tests.waiting import wait_until

SMTP_HOLD_SECONDS = 20.0  # how long a held message keeps its sender waiting before being refused


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except Exception as exc:
        unavailable(f"Redis could not be started: {exc}")
    yield server
    server.close()


def use_environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Point this process's settings (cache, task dispatch) at the given ABB_* values for one test."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    _forget_settings()


def _forget_settings() -> None:
    get_settings.cache_clear()
    cache._cache_for.cache_clear()


@pytest.fixture(autouse=True)
def _settings_follow_the_environment() -> Iterator[None]:
    """The process caches its settings: forget them after each test, once monkeypatch has put the
    environment back (an autouse fixture is torn down last), so no test's ABB_* values leak into the next."""
    yield
    _forget_settings()


@pytest.fixture
def redis_env(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """ABB_REDIS_URL set to the test Redis (emptied first); yields a client to look inside it."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    use_environment(monkeypatch, ABB_REDIS_URL=redis_server.url)
    yield client
    client.close()


class Mailbox:
    """The aiosmtpd handler of the test SMTP server: keeps every message the server accepted.

    `hold_next()` makes the server sit on the next message (the sender waits for the reply) and then
    refuse it, so a test can kill a worker while it is in the middle of sending; `refuse(address)` turns
    an address away as unknown.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.held = threading.Event()
        self.refused: set[str] = set()
        self._hold = False
        self._lock = threading.Lock()

    def hold_next(self) -> None:
        self._hold = True

    def refuse(self, address: str) -> None:
        """Answer RCPT TO for this address with a permanent 550 (no such user)."""
        self.refused.add(address)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._hold:
            self._hold = False
            self.held.set()
            await asyncio.sleep(SMTP_HOLD_SECONDS)
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 60.0) -> list[EmailMessage]:
        return wait_until(
            lambda: len(self.received()) >= count and self.received(),
            timeout=timeout,
            every=0.05,
            what=f"{count} e-mails",
            detail=lambda: f"received {len(self.received())}",
        )


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port; yields its mailbox and port."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def committed_database(postgres_server: PostgresServer) -> Iterator[tuple[str, Engine]]:
    """A migrated PostgreSQL database of its own whose commits are real, so a worker process sees them."""
    url = postgres_server.create_database(f"abb_tasks_{uuid.uuid4().hex[:12]}")
    engine = make_engine(get_settings().model_copy(update={"database_url": url}))
    with engine.begin() as connection:
        upgrade(connection=connection)
    yield url, engine
    engine.dispose()


@pytest.fixture
def committed_session(committed_database: tuple[str, Engine]) -> Iterator[Session]:
    with Session(committed_database[1], expire_on_commit=False) as session:
        yield session


class CeleryWorker:
    """`abb worker --concurrency=1` as a subprocess in its own process group, its output in a log file."""

    _serial = itertools.count(1)

    def __init__(self, env: dict[str, str], log_dir: Path, pool: str) -> None:
        self.log_path = log_dir / f"worker-{next(self._serial)}.log"
        abb = Path(sys.executable).parent / "abb"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(abb), "worker", f"--pool={pool}", "--concurrency=1", "--loglevel=INFO"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        """The worker's structured log lines (anything else it printed, such as warnings, is left out)."""
        lines = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    lines.append(parsed)
        return lines

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 60.0) -> None:
        def seen() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log()}")
            return self.log().count(text) >= count

        wait_until(seen, timeout=timeout, what=f"{text!r} {count}x in the worker log", detail=self.log)

    def kill(self) -> None:
        """SIGKILL, as an out-of-memory kill or a lost machine would: no shutdown code runs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    """Start Celery workers with the given ABB_* variables (on top of PATH and HOME) and pool; stopped at the end."""
    workers: list[CeleryWorker] = []

    def start(variables: dict[str, str], pool: str = "solo") -> CeleryWorker:
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env.update(ABB_ENV="test", ABB_VAR_DIR=str(tmp_path / "var"), **variables)
        worker = CeleryWorker(env, tmp_path, pool)
        workers.append(worker)
        worker.wait_for_log(" ready.")
        return worker

    yield start
    for worker in workers:
        worker.stop()

"""Real services for the test suite, each on a free loopback port with its data in a temporary directory.

Under CI=true a service that cannot be started is an error; elsewhere the tests that need it skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from abb.ops.processes import dismiss
from abb.ops.processes import free_port as free_port  # re-exported: the harness's servers and tests take ports
from abb.ops.recovery.cluster import Cluster
from abb.ops.recovery.errors import RecoveryError
from tests.waiting import wait_until

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a missing service must never turn into a silent skip there."""
    if IN_CI:
        pytest.fail(f"required test service unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    def listening() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout=timeout, every=0.05, what=f"a server listening on 127.0.0.1:{port}")


# A test cluster's data may be lost with the machine: speed over durability.
_SPEED_OVER_DURABILITY = {"synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"}


class PostgresServer(Cluster):
    """A throwaway PostgreSQL cluster in a temporary directory (`Cluster.create`: run as `postgres`, loopback
    only), stopped by a guard process should this test run be killed."""

    _guard: subprocess.Popen[bytes] | None = None

    @classmethod
    def launch(cls) -> PostgresServer:
        server = cls.create(Path(tempfile.mkdtemp(prefix="abb-pg-")), settings=_SPEED_OVER_DURABILITY)
        server.start()
        return server

    def start(self, *, timeout: int = 60) -> None:
        # pg_ctl detaches the server from us: the guard covers whichever test (re)starts it.
        self._guard = self.stop_if_this_process_dies()
        super().start(timeout=timeout)

    def stop(self, mode: str = "fast") -> None:
        super().stop(mode)
        dismiss(self._guard)

    def create_database(self, name: str) -> str:
        self.query(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(RecoveryError):
            self.stop("immediate")
        dismiss(self._guard)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of the caller's own for as long as the block runs; unavailable if it cannot start."""
    try:
        server = PostgresServer.launch()
    except Exception as exc:
        unavailable(f"PostgreSQL could not be started: {exc}")
    try:
        yield server
    finally:
        server.close()


def untraced_env() -> dict[str, str]:
    """The environment for a third-party Python tool (schemathesis, checkov) without coverage's subprocess hook
    (`patch = subprocess` under `make test`): the tool runs none of our code, and traced it costs several times
    as much CPU."""
    return {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_PROCESS_")}

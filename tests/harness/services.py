"""Real services for the test suite, each on a free loopback port with its data in a temporary directory.

Under CI=true a service that cannot be started is an error; elsewhere the tests that need it skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from abb.ops.processes import dismiss, run_when_parent_dies
from tests.waiting import wait_until

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a missing service must never turn into a silent skip there."""
    if IN_CI:
        pytest.fail(f"required test service unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    def listening() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout=timeout, every=0.05, what=f"a server listening on 127.0.0.1:{port}")


class PostgresServer:
    """A throwaway PostgreSQL cluster run as the `postgres` user (it refuses to run as root)."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (Debian package 'postgresql')")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="abb-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.run_as: list[str] = []
        self._guard: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root but there is no 'postgres' user to run the server") from exc
            self.run_as = ["runuser", "-u", "postgres", "--"]
            os.chmod(self.root, 0o755)
        self.sockets.mkdir()
        if self.run_as:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run(["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.sockets}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )
        self.start()

    def _run(self, cmd: list[str]) -> None:
        subprocess.run([*self.run_as, str(self.bin / cmd[0]), *cmd[1:]], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        # pg_ctl detaches the server from us: a guard process stops it should this test run be killed.
        self._guard = run_when_parent_dies(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        )
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"])
        dismiss(self._guard)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        dismiss(self._guard)
        shutil.rmtree(self.root, ignore_errors=True)


def untraced_env() -> dict[str, str]:
    """The environment for a third-party Python tool (schemathesis, checkov) without coverage's subprocess hook
    (`patch = subprocess` under `make test`): the tool runs none of our code, and traced it costs several times
    as much CPU."""
    return {key: value for key, value in os.environ.items() if not key.startswith("COVERAGE_PROCESS_")}

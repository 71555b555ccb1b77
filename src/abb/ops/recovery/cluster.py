"""A PostgreSQL cluster driven through its own tools (initdb, pg_ctl, pg_basebackup), run as `postgres`.

PostgreSQL refuses to run as root, so when we are root every server-side tool goes through
`runuser -u postgres --`, and every directory the server or pgBackRest writes is owned by `postgres`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from abb.ops.processes import free_port, run_when_parent_dies
from abb.ops.recovery.errors import RecoveryError

SERVER_USER = "postgres"


def default_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RecoveryError("PostgreSQL is not installed (Debian package 'postgresql')")
    return Path(found[-1]).parent


def run_as_server_user() -> list[str]:
    """The prefix that runs a command as `postgres` (nothing when we already are that user)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise RecoveryError("running as root but there is no 'postgres' user to run PostgreSQL as") from exc
    return ["runuser", "-u", SERVER_USER, "--"]


def give_to_server_user(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and parents) owned by `postgres` with `mode`; PostgreSQL insists on 700 for data."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_USER, SERVER_USER)
    return path


def empty_directory(path: Path) -> None:
    """Remove what is inside `path` but keep the directory itself (its owner and mode stay)."""
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@dataclass
class Cluster:
    data_dir: Path
    port: int
    socket_dir: Path
    host: str = "127.0.0.1"
    bin_dir: Path = field(default_factory=default_bin_dir)
    log_file: Path | None = None

    @property
    def run_as(self) -> list[str]:
        return run_as_server_user()

    def tool(self, name: str, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bin_dir / name), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
        if check and result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()
            raise RecoveryError(f"{name} failed: {last[-1] if last else f'exit status {result.returncode}'}")
        return result

    # --- creating a throwaway cluster (drills and tests) -------------------------------------------------
    @classmethod
    def create(cls, root: Path, *, port: int | None = None, settings: dict[str, str] | None = None) -> Cluster:
        """initdb a cluster under `root` (data/, sockets/, server.log) listening on loopback only."""
        give_to_server_user(root, 0o755)
        cluster = cls(
            data_dir=root / "data",
            port=port or free_port(),
            socket_dir=give_to_server_user(root / "sockets", 0o755),
            log_file=root / "server.log",
        )
        give_to_server_user(cluster.data_dir)
        cluster.tool("initdb", "-D", str(cluster.data_dir), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8",
                     "--data-checksums", "--no-sync", "--no-instructions")  # fmt: skip
        cluster.write_settings({**cluster.loopback_settings(), **(settings or {})})
        return cluster

    def loopback_settings(self) -> dict[str, str]:
        return {
            "port": str(self.port),
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",  # throwaway clusters: an OS crash is not what a drill simulates
        }

    def write_settings(self, settings: dict[str, str], *, name: str = "postgresql.conf") -> None:
        """Append settings to the cluster's configuration (the last occurrence of a setting wins)."""
        with open(self.data_dir / name, "a") as conf:
            conf.write("\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))

    # --- server lifecycle ---------------------------------------------------------------------------------
    def start(self, *, timeout: int = 600) -> None:
        log = ["-l", str(self.log_file)] if self.log_file else []
        self.tool("pg_ctl", "-D", str(self.data_dir), *log, "-w", "-t", str(timeout), "start", timeout=timeout + 30)

    def stop(self, mode: str = "fast") -> None:
        self.tool("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def kill(self) -> None:
        """Stop as a crash would: no checkpoint, no shutdown record (pg_ctl -m immediate)."""
        self.stop("immediate")

    def stop_if_this_process_dies(self) -> subprocess.Popen[bytes]:
        """A guard that stops this cluster at once should the calling thread's process die before the guard is
        dismissed (`abb.ops.processes.dismiss`): a throwaway cluster must not outlive a killed drill or test run,
        whichever process (re)started it meanwhile (pg_ctl detaches the server from its starter)."""
        return run_when_parent_dies(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]
        )

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        return self.tool("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def has_data(self) -> bool:
        return self.data_dir.exists() and any(self.data_dir.iterdir())

    def wipe(self) -> None:
        empty_directory(self.data_dir)

    # --- connections --------------------------------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={SERVER_USER} dbname={dbname} connect_timeout=3"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SERVER_USER}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.conninfo(dbname), autocommit=True)

    def query(self, sql: str, params: Sequence[object] = (), *, dbname: str = "postgres") -> list[tuple[object, ...]]:
        with self.connect(dbname) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def scalar(self, sql: str, params: Sequence[object] = (), *, dbname: str = "postgres") -> object:
        rows = self.query(sql, params, dbname=dbname)
        return rows[0][0] if rows else None

    def answers(self) -> bool:
        with contextlib.suppress(psycopg.Error):
            self.scalar("SELECT 1")
            return True
        return False

    def in_recovery(self) -> bool:
        return bool(self.scalar("SELECT pg_is_in_recovery()"))

    def archive_current_wal(self, *, timeout: float) -> str:
        """Close the current WAL segment and wait until the archiver has shipped it; returns its name."""
        segment = str(self.scalar("SELECT pg_walfile_name(pg_switch_wal())"))
        deadline = time.monotonic() + timeout
        while not self.scalar("SELECT coalesce(last_archived_wal >= %s, false) FROM pg_stat_archiver", (segment,)):
            if time.monotonic() > deadline:
                raise RecoveryError(f"WAL segment {segment} was not archived within {timeout:.0f}s")
            time.sleep(0.1)
        return segment

    def wait_until(self, check_sql: str, *, timeout: float, what: str, dbname: str = "postgres") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.Error):
                if self.scalar(check_sql, dbname=dbname):
                    return
            time.sleep(0.1)
        raise RecoveryError(f"timed out after {timeout:.0f}s waiting for {what}")

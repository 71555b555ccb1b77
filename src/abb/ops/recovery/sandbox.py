"""A throwaway PostgreSQL cluster with WAL archiving into two local, encrypted pgBackRest repositories.

The drill and the tests build everything from the same templates production uses; only the places
differ (a temporary directory, a free loopback port, a random passphrase in a file of its own).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from abb.ops.processes import dismiss
from abb.ops.recovery.cluster import Cluster, give_to_server_user
from abb.ops.recovery.errors import RecoveryError
from abb.ops.recovery.pgbackrest import Backrest, render_archiving, write_config
from abb.ops.recovery.settings import RecoverySettings


def write_secret(path: Path, value: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return path


@dataclass
class Sandbox:
    root: Path
    settings: RecoverySettings
    cluster: Cluster
    # Stops the cluster should this process be killed, whether the sandbox, a restore or a command started it.
    guard: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, root: Path, *, archive_timeout: int = 60, upload_dir: Path | None = None) -> Sandbox:
        give_to_server_user(root, 0o755)
        cluster = Cluster.create(root / "primary")
        guard = cluster.stop_if_this_process_dies()
        settings = RecoverySettings(
            _env_file=None,  # nothing from the operator's environment
            config_file=root / "pgbackrest" / "pgbackrest.conf",
            passphrase_file=write_secret(root / "secrets" / "backup-passphrase", secrets.token_urlsafe(32)),
            log_dir=root / "pgbackrest" / "log",
            lock_dir=root / "pgbackrest" / "lock",
            pg_data=cluster.data_dir,
            pg_port=cluster.port,
            pg_socket_dir=cluster.socket_dir,
            repo1_path=root / "repo1",
            repo2_type="posix",
            repo2_path=str(root / "repo2"),
            archive_timeout_seconds=archive_timeout,
            upload_dir=upload_dir,
        )
        write_config(settings)
        cluster.log_file = settings.log_dir / f"postgresql-{settings.stanza}.log"  # where a restore logs too
        with open(cluster.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n" + render_archiving(settings))
        cluster.start()
        Backrest(settings).ensure_stanza()  # archiving fails until the stanza exists
        return cls(root, settings, cluster, guard)

    def keep(self) -> None:
        """Leave the cluster running after this process ends (the drill's --keep)."""
        dismiss(self.guard)

    def close(self) -> None:
        with contextlib.suppress(RecoveryError):
            if self.cluster.is_running():
                self.cluster.kill()
        dismiss(self.guard)
        shutil.rmtree(self.root, ignore_errors=True)

"""A throwaway Redis server on a free loopback port, nothing persisted (Debian package 'redis-server')."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from abb.ops.processes import terminate
from tests.harness.services import free_port, wait_for_port
from tests.waiting import WaitTimedOut

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server") or REDIS_SERVER
        if not Path(binary).exists():
            raise RuntimeError("redis-server is not installed (Debian package 'redis-server')")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="abb-redis-"))
        self.log = self.root / "redis.log"
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed in close()
        # --save '' and --appendonly no: nothing on disk; the data dir is the temp dir all the same.
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.root,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port)
        except WaitTimedOut:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        terminate(self.process)
        self._log_file.close()
        shutil.rmtree(self.root, ignore_errors=True)

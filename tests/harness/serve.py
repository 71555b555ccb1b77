"""`abb serve` as a real server in a child process: real workers, real sockets, stopped with SIGTERM like Cloud Run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.harness.services import free_port, wait_for_port

ABB = str(Path(sys.executable).with_name("abb"))
SECRET = "capacity-test-secret-key-0123456789abcdef"


# The suite hashes passwords at Argon2's smallest cost: at the real cost a registration or a sign-in takes a
# quarter of a second of CPU here, and the suite does hundreds of them. The tests about that cost (the sign-in
# burst, the capacity loop) keep production's; production refuses this one (test_config_and_cli.py).
CHEAP_PASSWORD_HASHING = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 1024,
    "password_hash_parallelism": 1,
}


def as_env(settings: Mapping[str, object]) -> dict[str, str]:
    """Settings as the ABB_* environment variables that set them."""
    return {f"ABB_{name.upper()}": str(value) for name, value in settings.items()}


def serve_env(
    tmp_path: Path, database_url: str, *, real_password_hashing: bool = False, **settings: str
) -> dict[str, str]:
    """The environment for `abb` commands: only what the test sets, plus PATH/HOME/LANG."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(
        {
            "ABB_ENV": "test",
            "ABB_SECRET_KEY": SECRET,
            "ABB_VAR_DIR": str(tmp_path / "var"),
            "ABB_DATABASE_URL": database_url,
        }
    )
    if not real_password_hashing:
        env.update(as_env(CHEAP_PASSWORD_HASHING))
    env.update(as_env(settings))
    return env


def abb(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run([ABB, *args], env=env, check=True, capture_output=True, text=True, timeout=timeout)
    return done.stdout


class Served:
    """`abb serve --workers N` on a free loopback port; its output (JSON log lines) in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 1) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [ABB, "serve", "--workers", str(self.workers), "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout=60)
        return self

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to the server's process group; its exit status (raises if it outlives `timeout`)."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()

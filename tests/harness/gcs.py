"""A Google Cloud Storage emulator (`gcp-storage-emulator` from PyPI) on a free loopback port, in memory."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from abb.ops.processes import terminate
from tests.harness.services import free_port, wait_for_port
from tests.waiting import WaitTimedOut


def storage_client(endpoint: str) -> Any:
    """A google-cloud-storage client for an emulator at `endpoint`, without credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="abb-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )


class GcsEmulator:
    """Runs the emulator as a subprocess; `client()` gives a google-cloud-storage client pointed at it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gcp_storage_emulator",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--in-memory",
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port)
        except WaitTimedOut as exc:
            self.close()
            raise RuntimeError(f"the GCS emulator did not start: {self._stderr()}") from exc

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return storage_client(self.endpoint)

    def _stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "still running"
        return self.process.stderr.read().decode(errors="replace")[-500:]

    def close(self) -> None:
        terminate(self.process)

"""Helper servers do not outlive what started them: the test harness's servers when a test run is killed
(SIGKILL: no cleanup code runs), and the `make monitoring` stack when it is stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from tests.harness.services import free_port, unavailable
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for a test run: starts the harness's Redis and PostgreSQL, a monitoring-stack Server and the
# recovery drill's sandbox cluster (in a directory the `postgres` user can enter), then waits.
_TEST_RUN = """
import json, os, sys, time
from pathlib import Path
from abb.ops.monitoring_stack import pushgateway
from abb.ops.recovery.sandbox import Sandbox
from tests.harness.redis import RedisServer
from tests.harness.services import PostgresServer, free_port
work, box_root = Path(sys.argv[1]), Path(sys.argv[2])
os.chmod(box_root, 0o755)
redis, postgres = RedisServer(), PostgresServer.launch()
gateway = pushgateway(work, free_port()).start()
box = Sandbox.create(box_root / "box")
def postmaster(data): return int((data / "postmaster.pid").read_text().split()[0])
print(json.dumps({"redis": redis.process.pid, "postgres": postmaster(postgres.data_dir),
                  "pushgateway": gateway.process.pid, "drill sandbox": postmaster(box.cluster.data_dir)}), flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_harness_servers_stop_when_the_test_run_is_killed(tmp_path: Path) -> None:
    for binary in ("redis-server", "prometheus-pushgateway", "pgbackrest"):
        if not any((Path(d) / binary).exists() for d in os.environ.get("PATH", "").split(":")):
            unavailable(f"{binary} is not installed")
    box_root = Path(tempfile.mkdtemp(prefix="abb-killed-run-"))  # pytest's own temp dirs are closed to `postgres`
    run = subprocess.Popen(
        [sys.executable, "-c", _TEST_RUN, str(tmp_path), str(box_root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = run.stdout.readline() if run.stdout else ""
        assert line, f"the stand-in test run did not start its servers: {run.stderr.read() if run.stderr else ''}"
        pids: dict[str, int] = json.loads(line)
        assert not any(_gone(pid) for pid in pids.values())
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the whole run, as a killed CI job: no cleanup code runs
        run.wait(timeout=30)
    try:
        for name, pid in pids.items():
            wait_until(
                lambda pid=pid: _gone(pid), timeout=60, what=f"{name} (pid {pid}) to stop after its test run died"
            )
    finally:
        shutil.rmtree(box_root, ignore_errors=True)


def test_make_monitoring_stops_every_server_on_sigterm(tmp_path: Path) -> None:
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-pushgateway"):
        if not any((Path(d) / binary).exists() for d in os.environ.get("PATH", "").split(":")):
            unavailable(f"{binary} is not installed")
    log = tmp_path / "monitoring.out"
    args = ["--app", f"127.0.0.1:{free_port()}", "--work", str(tmp_path / "work")]
    args += [f"--{name}-port={free_port()}" for name in ("prometheus", "alertmanager", "pushgateway")]
    args += [f"--node-exporter-port={free_port()}", f"--receiver-port={free_port()}"]
    with open(log, "w") as out:
        stack = subprocess.Popen(
            [sys.executable, "-u", "-m", "abb.ops.monitoring_stack", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: "Ctrl-C stops" in log.read_text() or stack.poll() is not None,
            timeout=120,
            what="the monitoring stack to be up",
            detail=log.read_text,
        )
        assert stack.poll() is None, log.read_text()
        servers = {child.pid: child.name() for child in psutil.Process(stack.pid).children(recursive=True)}
        assert {"prometheus", "prometheus-alertmanager", "prometheus-pushgateway"} <= set(servers.values()), servers
        stack.send_signal(signal.SIGTERM)
        assert stack.wait(timeout=60) == 0, log.read_text()
    finally:
        if stack.poll() is None:
            stack.kill()
    for pid, name in servers.items():
        wait_until(lambda pid=pid: _gone(pid), timeout=30, what=f"{name} (pid {pid}) to stop after SIGTERM")


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_guard_runs_its_command_only_when_its_parent_dies(tmp_path: Path, signal_number: int) -> None:
    """run_when_parent_dies: dismissed after a normal stop it does nothing; when its parent dies it acts."""
    marker = tmp_path / "ran"
    script = (
        "import sys, time\n"
        "from abb.ops.processes import dismiss, run_when_parent_dies\n"
        "quiet = run_when_parent_dies(['touch', sys.argv[1] + '.dismissed'])\n"
        "dismiss(quiet)\n"
        "run_when_parent_dies(['touch', sys.argv[1]])\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(marker)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
    parent.send_signal(signal_number)
    parent.wait(timeout=30)
    wait_until(marker.exists, timeout=30, what="the guard to run its command after its parent died")
    assert not (tmp_path / "ran.dismissed").exists()

"""Automatic failover under write traffic: the primary is killed, the watchdog promotes the synchronous
standby, the app (multi-host URL, target_session_attrs=read-write) resumes writing by itself, no
acknowledged write is lost; then the old primary is rebuilt as the new standby and replication runs again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from abb.core.database import Database
from abb.core.migrate import upgrade
from abb.ops.processes import dismiss
from abb.ops.recovery import failover
from abb.ops.recovery.cluster import Cluster
from abb.ops.recovery.errors import RecoveryError
from tests.conftest import make_settings
from tests.fixtures_observability import LiveServer
from tests.harness.services import unavailable
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pair() -> Iterator[tuple[Cluster, Cluster]]:
    root = Path(tempfile.mkdtemp(prefix="abb-failover-"))  # pytest's own temp dirs are closed to `postgres`
    os.chmod(root, 0o755)
    nodes: list[Cluster] = []
    guards = []  # the nodes are stopped should this test run be killed
    try:
        try:
            primary = Cluster.create(root / "a", settings=failover.REPLICATION_SETTINGS)
            guards.append(primary.stop_if_this_process_dies())
            primary.start()
            nodes.append(primary)
            primary.query("CREATE DATABASE abb")
            standby = Cluster(data_dir=root / "b" / "data", port=0, socket_dir=root / "b", bin_dir=primary.bin_dir)
            guards.append(standby.stop_if_this_process_dies())  # create_standby starts it there
            nodes.append(failover.create_standby(primary, root / "b"))
        except (RecoveryError, OSError) as exc:
            unavailable(f"a PostgreSQL primary and standby could not be started: {exc}")
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            if node.is_running():
                node.kill()
        for guard in guards:
            dismiss(guard)
        shutil.rmtree(root, ignore_errors=True)


class Traffic:
    """Registrations through the API, one after another; every answer is timed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.acked: list[tuple[float, int]] = []
        self.failed: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    answer = client.post(
                        "/api/v1/auth/register",
                        json={"email": f"failover-{n}@drill.example", "password": "failover-pass-2026",
                              "full_name": f"Failover {n}", "role": "sme"},
                    )  # fmt: skip
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                if status == 201:
                    self.acked.append((time.monotonic(), int(answer.json()["id"])))
                else:
                    self.failed.append((time.monotonic(), status))
                    time.sleep(0.05)


def test_failover_under_writes_loses_no_acknowledged_write_and_the_old_primary_rejoins(
    pair: tuple[Cluster, Cluster],
) -> None:
    primary, standby = pair
    url = (
        f"postgresql+psycopg://postgres@/abb?host={primary.host}:{primary.port}&host={standby.host}:{standby.port}"
        "&target_session_attrs=read-write"
    )
    # Registrations one after another from one address: the sign-up limit would answer 429 within a second.
    unlimited = "100000/minute"
    settings = make_settings(database_url=url, rate_limit_auth_ip=unlimited, rate_limit_ip=unlimited)
    database = Database(settings)
    with database.engine.begin() as conn:
        upgrade(connection=conn)
    from abb.app import create_app

    with LiveServer(create_app(settings, database=database)) as server:
        traffic = Traffic(server.url)
        traffic.thread.start()
        wait_until(lambda: len(traffic.acked) >= 3, timeout=120, what="writes acknowledged by the primary")
        stop_watch = threading.Event()
        promoted: list[bool] = []
        watchdog = threading.Thread(
            target=lambda: promoted.append(failover.watch(primary, standby, grace=2, interval=0.2, stop=stop_watch))
        )
        watchdog.start()

        killed_at = time.monotonic()
        primary.kill()
        wait_until(lambda: promoted, timeout=120, what="the watchdog to promote the standby")
        wait_until(
            lambda: sum(1 for at, _ in traffic.acked if at > killed_at) >= 3,
            timeout=120,
            what="the app to write again through the promoted standby",
            detail=lambda: traffic.failed[-5:],
        )
        traffic.stop.set()
        traffic.thread.join(timeout=60)
        stop_watch.set()
        watchdog.join(timeout=10)

    database.dispose()
    assert promoted == [True]
    assert not standby.in_recovery()
    last_before = max(at for at, _ in traffic.acked if at <= killed_at)
    first_after = min(at for at, _ in traffic.acked if at > killed_at)
    print(f"\nwrite downtime across the failover: {first_after - last_before:.2f}s "
          f"({len(traffic.failed)} refused writes while the primary was gone)")  # fmt: skip
    acked_ids = sorted(i for _, i in traffic.acked)
    found = {r[0] for r in standby.query("SELECT id FROM users WHERE id = ANY(%s)", (acked_ids,), dbname="abb")}
    assert [i for i in acked_ids if i not in found] == [], "acknowledged writes lost in the failover"
    assert traffic.failed and all(status == 503 for _, status in traffic.failed), traffic.failed  # never a 500

    # The old primary comes back only as a standby of the new primary.
    with pytest.raises(RecoveryError, match="not empty: pass --force"):
        failover.rebuild_standby(primary, standby)
    failover.rebuild_standby(primary, standby, force=True)
    assert failover.streaming_standbys(standby) == 1
    assert primary.in_recovery()
    assert standby.scalar("SHOW synchronous_standby_names") == "*"
    standby.query("CREATE TABLE after_failover (id int)", dbname="abb")
    standby.query("INSERT INTO after_failover VALUES (42)", dbname="abb")  # synchronous: on the standby at commit
    assert primary.scalar("SELECT id FROM after_failover", dbname="abb") == 42

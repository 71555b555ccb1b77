"""A streaming standby beside the primary, its promotion, and the old primary rebuilt as the new standby.

Replication is synchronous once the standby streams (`synchronous_standby_names = '*'`): a commit is
acknowledged only once the standby has it, so promoting the standby loses no acknowledged write. The
price: with the standby gone the primary's writes wait, so promotion first turns synchronous replication
off on the new primary (it has no standby yet) and `rebuild_standby` turns it back on once the rebuilt
node streams.

`watch` is the automatic part: run on the standby's host, it promotes the standby once the primary has
not answered for `grace` seconds. It cannot fence the old primary, so the old primary must stay down
until `rebuild_standby` has made it a standby (the runbook says who checks that).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from abb.ops.processes import free_port
from abb.ops.recovery.cluster import Cluster, empty_directory, give_to_server_user
from abb.ops.recovery.errors import RecoveryError

Echo = Callable[[str], None]
REPLICATION_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "10",
    "hot_standby": "on",
}


def _quiet(_line: str) -> None:
    return None


def remote(address: str) -> Cluster:
    """A server known only by HOST:PORT (the other node); only its connections are used."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RecoveryError(f"'{address}' is not HOST:PORT")
    return Cluster(data_dir=Path("/nonexistent"), port=int(port), socket_dir=Path("/nonexistent"), host=host)


def base_backup(source: Cluster, target: Cluster, *, echo: Echo = _quiet) -> None:
    """Copy `source` into `target`'s empty data directory as a standby streaming from it (pg_basebackup -R)."""
    give_to_server_user(target.data_dir)
    echo(f"pg_basebackup from {source.host}:{source.port} into {target.data_dir}")
    target.tool(
        "pg_basebackup",
        "-d", f"host={source.host} port={source.port} user=postgres application_name=abb_standby_{target.port}",
        "-D", str(target.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        timeout=6 * 3600,
    )  # fmt: skip
    # The copy carries the source's own port and socket settings: this node's come last and win.
    target.write_settings(target.loopback_settings() if target.host == "127.0.0.1" else {"port": str(target.port)})


def create_standby(primary: Cluster, root: Path, *, echo: Echo = _quiet) -> Cluster:
    """A new standby of `primary` on a free loopback port under `root` (tests and drills)."""
    give_to_server_user(root, 0o755)
    node = Cluster(
        data_dir=root / "data",
        port=free_port(),
        socket_dir=give_to_server_user(root / "sockets", 0o755),
        log_file=root / "server.log",
        bin_dir=primary.bin_dir,
    )
    base_backup(primary, node, echo=echo)
    node.start()
    wait_streaming(primary, timeout=120)
    set_synchronous(primary, on=True)
    return node


def set_synchronous(primary: Cluster, *, on: bool) -> None:
    """Commits wait for a standby's flush (on) or not (off); only switched on once a standby streams."""
    with primary.connect() as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{'*' if on else ''}'")
        conn.execute("SELECT pg_reload_conf()")


def streaming_standbys(primary: Cluster) -> int:
    return int(primary.scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") or 0)  # type: ignore[call-overload]


def wait_streaming(primary: Cluster, *, timeout: float) -> None:
    primary.wait_until(
        "SELECT count(*) > 0 FROM pg_stat_replication WHERE state = 'streaming'",
        timeout=timeout,
        what=f"a standby streaming from {primary.host}:{primary.port}",
    )


def promote(standby: Cluster, *, primary: Cluster | None, force: bool = False, echo: Echo = _quiet) -> float:
    """Promote `standby` to primary; refuses while the old primary still answers (two primaries) unless forced."""
    if primary is not None and primary.answers() and not force:
        raise RecoveryError(
            f"the primary at {primary.host}:{primary.port} still answers: stop it first (or pass --force "
            "and make sure it can take no writes), or the data splits in two"
        )
    try:
        in_recovery = standby.in_recovery()
    except psycopg.Error as exc:
        raise RecoveryError(f"the standby at {standby.host}:{standby.port} does not answer: {exc}") from exc
    if not in_recovery:
        raise RecoveryError(f"{standby.host}:{standby.port} is already a primary")
    started = time.monotonic()
    if not standby.scalar("SELECT pg_promote(wait => true, wait_seconds => 120)"):
        raise RecoveryError(f"{standby.host}:{standby.port} did not finish promotion within 120 s")
    set_synchronous(standby, on=False)  # no standby follows the new primary yet: commits would wait forever
    seconds = time.monotonic() - started
    echo(
        f"promoted {standby.host}:{standby.port} in {seconds:.2f}s; synchronous replication off until a standby is back"
    )
    return seconds


def rebuild_standby(old: Cluster, new_primary: Cluster, *, force: bool = False, echo: Echo = _quiet) -> None:
    """Make the old primary a standby of the new one: its data directory is replaced by a base backup."""
    if old.is_running():
        raise RecoveryError(f"PostgreSQL is running on {old.data_dir}: stop it before rebuilding it as a standby")
    if new_primary.in_recovery():
        raise RecoveryError(f"{new_primary.host}:{new_primary.port} is not a primary: promote it first")
    if old.has_data() and not force:
        raise RecoveryError(f"data directory {old.data_dir} is not empty: pass --force to replace it")
    if old.has_data():
        echo(f"emptying {old.data_dir}")
        empty_directory(old.data_dir)
    base_backup(new_primary, old, echo=echo)
    old.start()
    wait_streaming(new_primary, timeout=300)
    set_synchronous(new_primary, on=True)
    echo(f"{old.host}:{old.port} streams from {new_primary.host}:{new_primary.port}; synchronous replication on")


def watch(
    primary: Cluster,
    standby: Cluster,
    *,
    grace: float,
    interval: float = 0.5,
    stop: threading.Event | None = None,
    echo: Echo = _quiet,
) -> bool:
    """Promote `standby` once `primary` has not answered for `grace` seconds; False if stopped first."""
    stop = stop or threading.Event()
    silent_since: float | None = None
    while not stop.is_set():
        if primary.answers():
            silent_since = None
        else:
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since >= grace:
                echo(f"primary {primary.host}:{primary.port} silent for {grace:.0f}s: promoting the standby")
                with contextlib.suppress(RecoveryError):
                    promote(standby, primary=primary, echo=echo)
                    return True
        stop.wait(interval)
    return False

"""`abb dr drill`: a whole disaster and recovery on throwaway clusters, measured.

1. A PostgreSQL cluster archiving into two encrypted pgBackRest repositories, the app's schema, demo data,
   then generated rows up to `--size-mb`; a full backup.
2. The real app (`abb serve`) against it, and writers going through its HTTP API: registrations,
   enrollments, deals. Each acknowledged write is remembered with the time its answer arrived.
3. The target: a fence takes every table's lock for a moment (in-flight writes finish, new ones wait), the
   target time is read, and a repeatable-read snapshot is opened; the fence is lifted and writes go on.
   That snapshot is exactly the state at the target: every table's row count and checksum come from it.
4. More writes; then the disaster: the app and the server are killed and the data directory is wiped.
5. Restore to the target (`abb restore`'s own code), the app started again until `/health/ready` answers:
   RTO = disaster → ready. RPO = writes acknowledged before the target and missing afterwards (must be 0),
   plus the archive exposure window (committed WAL not yet in the archive when the disaster struck).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from abb.ops.processes import free_port, terminate
from abb.ops.recovery import metrics, operations
from abb.ops.recovery.cluster import Cluster
from abb.ops.recovery.errors import RecoveryError
from abb.ops.recovery.sandbox import Sandbox

DATABASE = "abb"
DEMO_PASSWORD = "bridge-demo-2026"  # noqa: S105 - the public demo login of `abb seed-demo`
DEMO = {role: f"{role}@demo.africabusinessbridge.example" for role in ("sme", "partner", "admin")}
WRITER_PASSWORD = "drill-writer-password-2026"  # noqa: S105 - throwaway accounts on a throwaway cluster
TARGET_RTO_SECONDS = 300.0
Echo = Callable[[str], None]


@dataclass
class DrillOptions:
    size_mb: int = 30
    writers: int = 2
    seconds_before_target: float = 4.0
    seconds_after_target: float = 3.0
    report: Path | None = None
    pushgateway_url: str = ""
    workdir: Path | None = None  # default: a new temporary directory, removed afterwards
    keep: bool = False


@dataclass
class Ack:
    table: str
    row_id: int
    at: float  # wall-clock time the answer arrived


@dataclass
class WriteLog:
    acks: list[Ack] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, table: str, row_id: int) -> None:
        with self.lock:
            self.acks.append(Ack(table, row_id, time.time()))

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


# --- the app as a separate process ---------------------------------------------------------------------------


class App:
    """`abb serve` on a free loopback port against `url`; its log goes to a file."""

    def __init__(self, url: str, var_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ABB_DATABASE_URL": url,
            "ABB_ENV": "development",
            "ABB_VAR_DIR": str(var_dir),
            "ABB_REDIS_URL": "",
            "ABB_LOGSTASH_HOST": "",
        }
        self.log = var_dir / "app.log"
        self.process: subprocess.Popen[bytes] | None = None

    def prepare_schema(self) -> None:
        """`abb migrate` and `abb seed-demo` in one process (each start of the app's code costs seconds)."""
        script = (
            "from abb.core.migrate import upgrade; upgrade(); "
            "from abb.demo.seed import seed_database; seed_database(smes=40, partners=40)"
        )
        result = subprocess.run(  # noqa: S603 - our own code
            [sys.executable, "-c", script], env=self.env, capture_output=True, text=True, timeout=3600
        )
        if result.returncode != 0:
            raise RecoveryError(f"migrating and seeding failed: {(result.stderr or result.stdout).strip()[-300:]}")

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "abb.cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RecoveryError(f"the app exited while starting (see {self.log})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise RecoveryError(f"the app did not answer /health/ready within {timeout:.0f}s (see {self.log})")

    def stop(self) -> None:
        terminate(self.process)


# --- data ----------------------------------------------------------------------------------------------------


def generate(cluster: Cluster, size_mb: int, echo: Echo) -> int:
    """Add SMEs (a user and a profile each, shaped like the demo SME's) until the database holds `size_mb` MB.

    Each profile carries ~1.5 kB of product text: under PostgreSQL's 2 kB compression threshold, so the
    bytes are real, and five times fewer rows than users alone would need."""
    wanted = size_mb * 1_000_000
    with psycopg.connect(cluster.conninfo(DATABASE), autocommit=True) as conn:
        copied = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'sme_profiles' "
                "AND column_name NOT IN ('id', 'owner_id', 'products', 'vat_number') ORDER BY ordinal_position"
            )
        ]
        columns = ", ".join(f'"{c}"' for c in copied)
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        for batch in itertools.count():
            if size >= wanted:
                break
            rows = max(500, min(100_000, int((wanted - size) / 1900)))  # ~1.9 kB a user with its profile
            conn.execute(
                f"""WITH demo AS (SELECT u.password_hash, u.role, p.* FROM users u
                                  JOIN sme_profiles p ON p.owner_id = u.id WHERE u.email = %(demo)s),
                    added AS (
                      INSERT INTO users (email, password_hash, full_name, role, is_active, token_version,
                                         created_at, updated_at)
                      SELECT 'generated-' || %(batch)s || '-' || g || '@drill.example', demo.password_hash,
                             'Generated SME ' || g, demo.role, true, 0, now(), now()
                      FROM demo, generate_series(1, %(rows)s) g
                      RETURNING id)
                   INSERT INTO sme_profiles (owner_id, vat_number, products, {columns})
                   SELECT added.id, 'XG' || lpad(added.id::text, 11, '0'), repeat(md5(added.id::text) || ' ', 45),
                          {columns}
                   FROM added, demo""",  # noqa: S608 - column names read from the catalog
                {"batch": batch, "rows": rows, "demo": DEMO["sme"]},
            )
            size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
            echo(f"  generated data: {size / 1e6:,.0f} / {size_mb} MB")
        conn.execute("VACUUM ANALYZE users, sme_profiles")
    return size


def table_states(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Row count and an order-independent content checksum of every table, in the caller's snapshot."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    ]
    states = {}
    for table in tables:
        count, checksum = conn.execute(
            f"SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text "  # noqa: S608
            f'FROM "{table}" t'
        ).fetchone()  # type: ignore[misc]
        states[table] = {"rows": int(count), "checksum": str(checksum)}
    return states


@contextlib.contextmanager
def fenced_snapshot(cluster: Cluster) -> Iterator[tuple[datetime, psycopg.Connection[Any]]]:
    """The target time and a snapshot holding exactly the transactions committed at or before it.

    Every table is locked EXCLUSIVE (reads go on, writes wait; writes in flight finish first), the time is
    read, a repeatable-read snapshot is taken on a second connection, and the locks are released: writes
    resume after a pause of milliseconds, and each one commits after the target."""
    fence = psycopg.connect(cluster.conninfo(DATABASE))
    snapshot = psycopg.connect(cluster.conninfo(DATABASE))
    try:
        tables = [r[0] for r in fence.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        fence.execute("SET lock_timeout = '10s'")
        fence.execute("LOCK TABLE " + ", ".join(f'"{t}"' for t in tables) + " IN EXCLUSIVE MODE")
        target = fence.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot.execute("SELECT 1")  # the snapshot is taken by the first statement
        fence.commit()
        yield target, snapshot
        snapshot.commit()
    finally:
        fence.close()
        snapshot.close()


# --- writers through the API -------------------------------------------------------------------------------


class Writers:
    def __init__(self, base: str, count: int) -> None:
        self.base = base
        self.count = count
        self.log = WriteLog()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def setup(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            self.tokens = {role: self._login(client, email) for role, email in DEMO.items()}
            self.match_id = self._connected_match(client)
            start = datetime.now(UTC) + timedelta(days=30)
            self.course_ids = []
            for n in range(3):
                created = client.post(
                    "/api/v1/courses",
                    headers=self._auth("admin"),
                    json={
                        "title": f"Drill course {n}",
                        "description": "Export documentation for East Africa",
                        "language": "en",
                        "level": "beginner",
                        "starts_at": start.isoformat(),
                        "ends_at": (start + timedelta(hours=2)).isoformat(),
                        "capacity": 10_000,
                    },
                )
                created.raise_for_status()
                self.course_ids.append(int(created.json()["id"]))

    def _auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @staticmethod
    def _login(client: httpx.Client, email: str, password: str = DEMO_PASSWORD) -> str:
        answer = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def _connected_match(self, client: httpx.Client) -> int:
        listed = client.get("/api/v1/matches", headers=self._auth("sme"), params={"limit": 100})
        listed.raise_for_status()
        for match in listed.json()["items"]:
            ok = all(
                client.post(f"/api/v1/matches/{match['id']}/accept", headers=self._auth(role)).status_code == 200
                for role in ("sme", "partner")
            )
            if ok:
                return int(match["id"])
        raise RecoveryError("the demo SME and partner have no match to open deals on")

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(self.count)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _write(self, writer: int) -> None:
        due = (date.today() + timedelta(days=60)).isoformat()
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                try:
                    self._cycle(client, writer, n, due)
                except httpx.HTTPError as exc:
                    self.log.fail(f"{type(exc).__name__}: {exc}")

    def _cycle(self, client: httpx.Client, writer: int, n: int, due: str) -> None:
        email = f"drill-{writer}-{n}@drill.example"
        registered = client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": WRITER_PASSWORD, "full_name": f"Drill {writer}.{n}", "role": "sme"},
        )
        if registered.status_code != 201:
            self.log.fail(f"register {registered.status_code}")
            return
        self.log.ack("users", int(registered.json()["id"]))
        token = self._login(client, email, WRITER_PASSWORD)
        course = self.course_ids[n % len(self.course_ids)]
        enrolled = client.post(f"/api/v1/courses/{course}/enrollments", headers={"Authorization": f"Bearer {token}"})
        if enrolled.status_code == 201:
            self.log.ack("enrollments", int(enrolled.json()["id"]))
        else:
            self.log.fail(f"enroll {enrolled.status_code}")
        deal = client.post(
            "/api/v1/deals",
            headers=self._auth("partner"),
            json={
                "match_id": self.match_id,
                "description": f"Drill order {writer}.{n}: solar water pumps",
                "amount": f"{100 + n}.50",
                "currency": "EUR",
                "due_date": due,
            },
        )
        if deal.status_code == 201:
            self.log.ack("deals", int(deal.json()["id"]))
        else:
            self.log.fail(f"deal {deal.status_code}")


# --- the drill -----------------------------------------------------------------------------------------------


def _missing(cluster: Cluster, acks: list[Ack]) -> list[Ack]:
    by_table: dict[str, set[int]] = {}
    for ack in acks:
        by_table.setdefault(ack.table, set()).add(ack.row_id)
    missing = []
    with psycopg.connect(cluster.conninfo(DATABASE)) as conn:
        for table, ids in by_table.items():
            found = {
                r[0]
                for r in conn.execute(f'SELECT id FROM "{table}" WHERE id = ANY(%s)', (sorted(ids),))  # noqa: S608
            }
            missing += [a for a in acks if a.table == table and a.row_id not in found]
    return missing


def run_drill(options: DrillOptions, echo: Echo = print) -> dict[str, Any]:
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="abb-dr-drill-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres user must reach the clusters inside
    var_dir = workdir / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    box = Sandbox.create(workdir / "box")
    app: App | None = None
    writers: Writers | None = None
    steps: dict[str, float] = {}
    try:
        cluster, settings = box.cluster, box.settings
        cluster.query(f"CREATE DATABASE {DATABASE}")
        app = App(cluster.url(DATABASE), var_dir)
        clock = time.monotonic()
        echo(f"1/6 schema, demo data and {options.size_mb} MB of generated rows on port {cluster.port}")
        app.prepare_schema()
        database_bytes = generate(cluster, options.size_mb, echo)
        echo("  waiting for WAL archiving to catch up")
        cluster.archive_current_wal(timeout=3600)
        steps["generate_seconds"] = time.monotonic() - clock

        clock = time.monotonic()
        echo("2/6 full backup (repo1)")
        operations.run_backup(settings, kind="full", repos=[1], echo=lambda line: echo(f"  {line}"))
        steps["backup_seconds"] = time.monotonic() - clock

        echo(f"3/6 app on {app.base}, {options.writers} writers through the API")
        app.start()
        app.wait_ready()
        writers = Writers(app.base, options.writers)
        writers.setup()
        writers.start()
        time.sleep(options.seconds_before_target)
        with fenced_snapshot(cluster) as (target, snapshot):
            echo(f"  target {target.isoformat()}: state read from a snapshot at the target")
            expected = table_states(snapshot)
        time.sleep(options.seconds_after_target)
        writers.finish()
        acks = list(writers.log.acks)
        target_epoch = target.timestamp()
        before = [a for a in acks if a.at < target_epoch]
        after = [a for a in acks if a.at >= target_epoch]
        echo(f"  {len(before)} writes acknowledged before the target, {len(after)} after")

        archived = cluster.query(
            "SELECT extract(epoch FROM clock_timestamp() - last_archived_time), pg_walfile_name(pg_current_wal_lsn())"
            " > last_archived_wal FROM pg_stat_archiver"
        )[0]
        exposure = float(archived[0] or 0.0) if archived[1] else 0.0  # type: ignore[arg-type]
        # A drill's disaster is announced: the WAL holding the target is shipped now (a real one would lose
        # at most `exposure`, bounded by archive_timeout).
        cluster.archive_current_wal(timeout=300)

        echo("4/6 disaster: app and PostgreSQL killed, data directory wiped")
        disaster = time.monotonic()
        app.stop()
        cluster.kill()
        cluster.wipe()

        # As an orchestrator would, a fresh app process starts at once; it answers /health/ready with 503
        # until the database is back, so its start-up overlaps the restore.
        echo(f"5/6 restore to {target.isoformat()}, a new app process starting meanwhile")
        app.start()
        outcome = operations.restore(settings, target=target, echo=lambda line: echo(f"  {line}"))
        restored = time.monotonic()
        app.wait_ready(timeout=600)
        ready = time.monotonic()
        rto = ready - disaster
        steps |= {
            "restore_files_seconds": outcome.restore_seconds,
            "wal_replay_seconds": outcome.recovery_seconds,
            "app_ready_after_restore_seconds": ready - restored,
        }

        echo("6/6 comparing every table with the state at the target")
        with psycopg.connect(cluster.conninfo(DATABASE)) as conn:
            actual = table_states(conn)
        mismatched = sorted(t for t in expected.keys() | actual.keys() if expected.get(t) != actual.get(t))
        lost = _missing(cluster, before)
        report = {
            "drill_finished_at": datetime.now(UTC).isoformat(),
            "size_mb_requested": options.size_mb,
            "database_bytes": database_bytes,
            "target_time": target.isoformat(),
            "backup_repository": "repo1 (local, encrypted); repo2 restores are proven by tests/test_recovery_backup.py",
            "writes": {
                "acknowledged_before_target": len(before),
                "acknowledged_after_target": len(after),
                "failed": len(writers.log.failures),
                "by_table": {t: sum(1 for a in acks if a.table == t) for t in ("users", "enrollments", "deals")},
            },
            "rpo": {
                "rows_lost": len(lost),
                "lost": [f"{a.table}#{a.row_id}" for a in lost[:20]],
                "archive_exposure_seconds": round(exposure, 3),
                "archive_timeout_seconds": settings.archive_timeout_seconds,
            },
            "rto_seconds": round(rto, 3),
            "steps_seconds": {k: round(v, 3) for k, v in steps.items()},
            "tables": {t: {**actual.get(t, {}), "matches_target": t not in mismatched} for t in sorted(actual)},
            "tables_mismatched": mismatched,
            "targets": {"rto_seconds": TARGET_RTO_SECONDS, "rpo_rows": 0},
        }
        report["passed"] = not lost and not mismatched and rto <= TARGET_RTO_SECONDS and bool(before)
        finish_report(report, options, echo)
        return report
    finally:
        if writers is not None:
            writers.finish()
        if app is not None:
            app.stop()
        if options.keep:
            box.keep()
            echo(f"kept {workdir} (cluster on port {box.cluster.port})")
        else:
            box.close()
            shutil.rmtree(workdir, ignore_errors=True)


def finish_report(report: dict[str, Any], options: DrillOptions, echo: Echo) -> None:
    rpo = report["rpo"]
    echo(
        f"RTO {report['rto_seconds']:.1f} s (target ≤ {TARGET_RTO_SECONDS:.0f} s); RPO {rpo['rows_lost']} rows lost "
        f"of {report['writes']['acknowledged_before_target']} acknowledged before the target; archive exposure "
        f"{rpo['archive_exposure_seconds']:.1f} s (archive_timeout {rpo['archive_timeout_seconds']} s); "
        f"{len(report['tables']) - len(report['tables_mismatched'])}/{len(report['tables'])} tables match the target"
        f" — {'PASSED' if report['passed'] else 'FAILED'}"
    )
    if options.report:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(json.dumps(report, indent=2) + "\n")
        echo(f"report written to {options.report}")
    if options.pushgateway_url:
        try:
            metrics.push(options.pushgateway_url, metrics.DRILL_JOB, metrics.drill_registry(report))
            echo(f"drill metrics pushed to {options.pushgateway_url}")
        except OSError as exc:
            raise RecoveryError(f"drill done, but its metrics could not be pushed to the Pushgateway: {exc}") from exc

"""`abb backup` and `abb restore` against a real PostgreSQL and pgBackRest: point-in-time restore from the
second repository alone, the documents' checksummed copy, and each refusal as one line that changes nothing.

The tests of this module share one sandbox and run in order (each leaves the cluster running).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abb.cli import app
from abb.ops.recovery import documents
from abb.ops.recovery.cluster import empty_directory
from abb.ops.recovery.metrics import backup_registry
from abb.ops.recovery.pgbackrest import Backrest
from abb.ops.recovery.sandbox import Sandbox, write_secret
from tests.harness.services import unavailable
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    if shutil.which("pgbackrest") is None:
        unavailable("pgBackRest is not installed (Debian package 'pgbackrest')")
    root = Path(tempfile.mkdtemp(prefix="abb-recovery-"))  # pytest's own temp dirs are closed to `postgres`
    os.chmod(root, 0o755)
    uploads = root / "uploads"
    uploads.mkdir()
    try:
        box = Sandbox.create(root / "box", upload_dir=uploads)
    except Exception as exc:
        unavailable(f"PostgreSQL with pgBackRest could not be started: {exc}")
    box.cluster.query("CREATE TABLE ledger (id bigserial PRIMARY KEY, note text NOT NULL)")
    yield box
    box.close()
    shutil.rmtree(root, ignore_errors=True)


def abb(sandbox: Sandbox, *args: str):  # type: ignore[no-untyped-def]
    s = sandbox.settings
    env = {
        "ABB_BACKUP_CONFIG_FILE": str(s.config_file),
        "ABB_BACKUP_PASSPHRASE_FILE": str(s.passphrase_file),
        "ABB_BACKUP_LOG_DIR": str(s.log_dir),
        "ABB_BACKUP_LOCK_DIR": str(s.lock_dir),
        "ABB_BACKUP_PG_DATA": str(s.pg_data),
        "ABB_BACKUP_PG_PORT": str(s.pg_port),
        "ABB_BACKUP_PG_SOCKET_DIR": str(s.pg_socket_dir),
        "ABB_BACKUP_REPO1_PATH": str(s.repo1_path),
        "ABB_BACKUP_REPO2_PATH": s.repo2_path,
        "ABB_BACKUP_UPLOAD_DIR": str(s.upload_dir),
    }
    return CliRunner().invoke(app, list(args), env=env)


def insert(sandbox: Sandbox, first: int, last: int) -> None:
    sandbox.cluster.query(
        "INSERT INTO ledger (id, note) SELECT g, 'row ' || g FROM generate_series(%s::int, %s::int) g", (first, last)
    )


def ids(sandbox: Sandbox) -> list[int]:
    return [int(r[0]) for r in sandbox.cluster.query("SELECT id FROM ledger ORDER BY id")]  # type: ignore[call-overload]


def archive_everything(sandbox: Sandbox) -> None:
    segment = sandbox.cluster.scalar("SELECT pg_walfile_name(pg_switch_wal())")
    wait_until(
        lambda: (sandbox.cluster.scalar("SELECT last_archived_wal FROM pg_stat_archiver") or "") >= str(segment),
        timeout=60,
        what=f"WAL segment {segment} to be archived",
    )


def refused(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def data_files(sandbox: Sandbox) -> dict[str, int]:
    return {
        str(p.relative_to(sandbox.cluster.data_dir)): p.stat().st_mtime_ns for p in sandbox.cluster.data_dir.rglob("*")
    }


def test_backup_run_goes_to_both_repositories_and_copies_the_documents(sandbox: Sandbox) -> None:
    insert(sandbox, 1, 100)
    assert sandbox.settings.upload_dir is not None
    (sandbox.settings.upload_dir / "ab" / "cd").mkdir(parents=True)
    (sandbox.settings.upload_dir / "ab" / "cd" / ("0" * 32)).write_bytes(b"%PDF-1.4 contract")

    result = abb(sandbox, "backup", "run", "--type", "full")

    assert result.exit_code == 0, result.output
    assert "full backup to repo1" in result.output and "full backup to repo2" in result.output
    assert "documents: 1 files" in result.output
    listed = abb(sandbox, "backup", "list")
    assert listed.output.count(" full ") == 2 and "repo1" in listed.output and "repo2" in listed.output
    text = backup_registry(Backrest(sandbox.settings).info()).get_sample_value(
        "abb_backup_last_success_timestamp_seconds", {"stanza": "abb", "repo": "2", "type": "full"}
    )
    assert text is not None and abs(text - datetime.now(UTC).timestamp()) < 600


def test_the_passphrase_never_appears_in_output_or_logs(sandbox: Sandbox) -> None:
    passphrase = sandbox.settings.passphrase_file.read_text().strip()
    result = abb(sandbox, "backup", "run", "--type", "incr")
    assert result.exit_code == 0, result.output
    assert passphrase not in result.output
    for log in sandbox.settings.log_dir.rglob("*.log"):
        assert passphrase not in log.read_text(errors="replace"), log


def test_verify_reads_every_backup_and_document(sandbox: Sandbox) -> None:
    result = abb(sandbox, "backup", "verify")
    assert result.exit_code == 0, result.output
    assert "documents in" in result.output and "1 checked" in result.output


def test_restore_refuses_while_the_server_runs(sandbox: Sandbox) -> None:
    before = ids(sandbox)
    refused(abb(sandbox, "restore", "--latest", "--force"), "PostgreSQL is running")
    assert ids(sandbox) == before


def test_restore_refuses_bad_targets_and_a_non_empty_data_directory(sandbox: Sandbox) -> None:
    sandbox.cluster.stop()
    files = data_files(sandbox)
    refused(abb(sandbox, "restore", "--latest"), "not empty", "--force")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    refused(abb(sandbox, "restore", "--to", future, "--force"), "in the future")
    refused(abb(sandbox, "restore", "--to", "2020-01-01T00:00:00Z", "--force"), "before the oldest backup")
    refused(abb(sandbox, "restore", "--to", "yesterday", "--force"), "not a time")
    assert data_files(sandbox) == files
    sandbox.cluster.start()


def test_restore_refuses_a_wrong_passphrase(sandbox: Sandbox) -> None:
    secret = sandbox.settings.passphrase_file
    right = secret.read_text()
    sandbox.cluster.stop()
    files = data_files(sandbox)
    try:
        write_secret(secret, "a-wrong-passphrase-of-enough-length")
        assert abb(sandbox, "backup", "configure").exit_code == 0
        refused(abb(sandbox, "restore", "--latest", "--force"), "wrong passphrase")
        assert data_files(sandbox) == files
    finally:
        write_secret(secret, right.strip())
        assert abb(sandbox, "backup", "configure").exit_code == 0
        sandbox.cluster.start()


def test_point_in_time_restore_from_the_second_repository_alone(sandbox: Sandbox) -> None:
    insert(sandbox, 101, 200)
    target = sandbox.cluster.scalar("SELECT clock_timestamp()")
    assert isinstance(target, datetime)
    wait_until(lambda: sandbox.cluster.scalar("SELECT clock_timestamp() > %s", (target,)), timeout=5, what="time")
    insert(sandbox, 201, 300)
    archive_everything(sandbox)
    sandbox.cluster.stop()
    empty_directory(sandbox.settings.repo1_path)  # the local repository is lost with the server
    empty_directory(sandbox.cluster.data_dir)

    result = abb(sandbox, "restore", "--to", target.isoformat(), "--repo", "2")

    assert result.exit_code == 0, result.output
    assert "from repo2" in result.output
    assert ids(sandbox) == list(range(1, 201))
    assert not sandbox.cluster.in_recovery()


def test_documents_come_back_checked_and_a_damaged_copy_is_refused(sandbox: Sandbox) -> None:
    uploads = sandbox.settings.upload_dir
    assert uploads is not None
    stored = uploads / "ab" / "cd" / ("0" * 32)
    repo2 = Path(sandbox.settings.repo2_path)
    stored.unlink()
    assert documents.restore(repo2, uploads, at=None, force=False) == 1
    assert stored.read_bytes() == b"%PDF-1.4 contract"

    stored.write_bytes(b"changed since")
    with pytest.raises(Exception, match="differs from the backup: pass --force"):
        documents.restore(repo2, uploads, at=None, force=False)
    assert stored.read_bytes() == b"changed since"

    damaged = next((repo2 / "documents" / "objects").iterdir())
    damaged.write_bytes(b"bit rot")
    checked, problems = documents.verify(repo2)
    assert checked == 1 and problems == [f"document object {damaged.name} fails its checksum"]
    with pytest.raises(Exception, match="damaged"):
        documents.restore(repo2, uploads, at=None, force=True)


def test_restore_past_the_end_of_the_archive_says_wal_is_missing(sandbox: Sandbox) -> None:
    assert abb(sandbox, "backup", "run", "--type", "full", "--repo", "2").exit_code == 0
    insert(sandbox, 301, 310)
    archive_everything(sandbox)
    target = sandbox.cluster.scalar("SELECT clock_timestamp()")
    assert isinstance(target, datetime)
    insert(sandbox, 311, 320)
    segment = str(sandbox.cluster.scalar("SELECT pg_walfile_name(pg_current_wal_lsn())"))
    archive_everything(sandbox)
    sandbox.cluster.stop()
    for lost in Path(sandbox.settings.repo2_path).glob(f"archive/**/{segment}-*"):
        lost.unlink()  # the segment holding the commits up to the target is gone

    refused(abb(sandbox, "restore", "--to", target.isoformat(), "--repo", "2", "--force"), "missing WAL")

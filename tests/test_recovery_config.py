"""pgBackRest configuration rendering and the passphrase file's checks (no server needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abb.ops.recovery.errors import RecoveryError
from abb.ops.recovery.pgbackrest import read_passphrase, render_archiving, render_config
from abb.ops.recovery.sandbox import write_secret
from abb.ops.recovery.settings import RecoverySettings

PASSPHRASE = "a-test-passphrase-long-enough-0123"


def settings(tmp_path: Path, **overrides: object) -> RecoverySettings:
    values: dict[str, object] = {"passphrase_file": tmp_path / "secret", "_env_file": None}
    values.update(overrides)
    return RecoverySettings(**values)  # type: ignore[arg-type]


def test_production_config_puts_repo2_on_gcs_with_both_repositories_encrypted(tmp_path: Path) -> None:
    text = render_config(
        settings(tmp_path, repo2_type="gcs", repo2_gcs_bucket="abb-prod-backups", repo2_path="/pgbackrest"), PASSPHRASE
    )
    lines = set(text.splitlines())
    assert {
        "repo2-type=gcs",
        "repo2-gcs-bucket=abb-prod-backups",
        "repo2-gcs-key-type=auto",
        "repo2-path=/pgbackrest",
    } <= lines
    assert {"repo1-cipher-type=aes-256-cbc", "repo2-cipher-type=aes-256-cbc"} <= lines
    assert {f"repo1-cipher-pass={PASSPHRASE}", f"repo2-cipher-pass={PASSPHRASE}"} <= lines
    assert {"repo1-retention-full=4", "repo2-retention-diff=7", "[abb]"} <= lines


def test_gcs_without_a_bucket_or_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecoveryError, match="GCS_BUCKET is empty"):
        render_config(settings(tmp_path, repo2_type="gcs"), PASSPHRASE)
    with pytest.raises(RecoveryError, match="needs ABB_BACKUP_REPO2_GCS_KEY"):
        render_config(
            settings(tmp_path, repo2_type="gcs", repo2_gcs_bucket="b", repo2_gcs_key_type="service"), PASSPHRASE
        )


def test_archiving_settings_push_wal_to_the_stanza_with_a_bounded_exposure(tmp_path: Path) -> None:
    text = render_archiving(settings(tmp_path, config_file=Path("/etc/pgbackrest/pgbackrest.conf")))
    assert "archive_mode = on" in text
    assert (
        "archive_command = 'pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=abb archive-push %p'" in text
    )
    assert "archive_timeout = 60" in text


def test_passphrase_file_must_exist_be_private_and_long_enough(tmp_path: Path) -> None:
    s = settings(tmp_path)
    with pytest.raises(RecoveryError, match="does not exist"):
        read_passphrase(s)
    write_secret(s.passphrase_file, "short")
    with pytest.raises(RecoveryError, match="fewer than 20 characters"):
        read_passphrase(s)
    write_secret(s.passphrase_file, PASSPHRASE)
    os.chmod(s.passphrase_file, 0o644)
    with pytest.raises(RecoveryError, match="readable by others") as refused:
        read_passphrase(s)
    assert PASSPHRASE not in str(refused.value)
    os.chmod(s.passphrase_file, 0o600)
    assert read_passphrase(s) == PASSPHRASE

"""Where the database, the backup repositories and the secrets are: `ABB_BACKUP_*` variables (or a .env file).

The defaults are Debian's layout for a self-hosted PostgreSQL 15. The passphrase is never a setting: only
the path of the file that holds it (mounted from Secret Manager in production).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RecoverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ABB_BACKUP_", env_file=".env", extra="ignore")

    stanza: str = Field(default="abb", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    config_file: Path = Path("/etc/pgbackrest/pgbackrest.conf")  # rendered by `abb backup configure`
    passphrase_file: Path = Path("/run/secrets/abb-backup-passphrase")
    log_dir: Path = Path("/var/log/pgbackrest")
    lock_dir: Path = Path("/tmp/pgbackrest")  # noqa: S108 - pgBackRest's own default

    pg_data: Path = Path("/var/lib/postgresql/15/main")
    pg_port: int = Field(default=5432, ge=1, le=65535)
    pg_socket_dir: Path = Path("/var/run/postgresql")
    pg_host: str = "127.0.0.1"

    repo1_path: Path = Path("/var/lib/pgbackrest")
    # Geo-redundant copy: Google Cloud Storage in production, a second local path in tests.
    repo2_type: Literal["posix", "gcs"] = "posix"
    repo2_path: str = "/var/lib/pgbackrest-repo2"  # for gcs: the path inside the bucket, e.g. /abb
    repo2_gcs_bucket: str = ""
    repo2_gcs_key_type: Literal["auto", "service"] = "auto"  # auto: the VM's service account
    repo2_gcs_key: Path | None = None  # JSON key file, only with key type `service`

    retention_full: int = Field(default=4, ge=1, le=100)  # weekly fulls kept (a month of point-in-time recovery)
    retention_diff: int = Field(default=7, ge=1, le=100)
    archive_timeout_seconds: int = Field(default=60, ge=1, le=3600)  # bounds the WAL not yet archived
    process_max: int = Field(default=2, ge=1, le=32)
    compress_type: Literal["lz4", "zst", "gz", "none"] = "lz4"

    upload_dir: Path | None = None  # local document storage to copy beside the database backup
    pushgateway_url: str = ""

    def posix_repos(self) -> list[tuple[int, Path]]:
        """The repositories on a file system (where document copies go too)."""
        repos = [(1, self.repo1_path)]
        if self.repo2_type == "posix":
            repos.append((2, Path(self.repo2_path)))
        return repos

"""pgBackRest: its configuration rendered from `deploy/pgbackrest/`, its commands run with one-line errors.

The passphrase is read from a secret file and written only into the rendered configuration (owned by
postgres, mode 600), which is where both pgBackRest and the server's `archive_command` read it: it is
never on a command line, in the environment of a logged process, or in an error message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from abb.ops.recovery.cluster import give_to_server_user, run_as_server_user
from abb.ops.recovery.errors import RecoveryError
from abb.ops.recovery.settings import RecoverySettings

TEMPLATES = Path(__file__).resolve().parents[4] / "deploy" / "pgbackrest"
BACKUP_TYPES = ("full", "diff", "incr")
ERROR_LINE = re.compile(r"ERROR: \[(\d+)\]: (.*)")
# pgBackRest error codes we explain in the operator's words (src/build/error/error.yaml of pgBackRest).
CRYPTO_ERROR = 95
FILE_MISSING_ERROR = 55
ARCHIVE_TIMEOUT_ERROR = 82
ARCHIVE_MISMATCH_ERROR = 44


def _templates() -> Environment:
    return Environment(  # noqa: S701 - configuration files, not HTML
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True
    )


def read_passphrase(settings: RecoverySettings) -> str:
    path = settings.passphrase_file
    try:
        mode = path.stat().st_mode
        passphrase = path.read_text().strip()
    except FileNotFoundError as exc:
        raise RecoveryError(f"passphrase file {path} does not exist (ABB_BACKUP_PASSPHRASE_FILE)") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RecoveryError(f"passphrase file {path} is readable by others: chmod 600 it")
    if len(passphrase) < 20:
        raise RecoveryError(f"passphrase file {path} holds fewer than 20 characters")
    if "\n" in passphrase:
        raise RecoveryError(f"passphrase file {path} must hold one line")
    return passphrase


def render_config(settings: RecoverySettings, passphrase: str) -> str:
    if settings.repo2_type == "gcs" and not settings.repo2_gcs_bucket:
        raise RecoveryError("repo2 is GCS but ABB_BACKUP_REPO2_GCS_BUCKET is empty")
    if settings.repo2_type == "gcs" and settings.repo2_gcs_key_type == "service" and not settings.repo2_gcs_key:
        raise RecoveryError("GCS key type 'service' needs ABB_BACKUP_REPO2_GCS_KEY (a JSON key file)")
    return _templates().get_template("pgbackrest.conf.j2").render(s=settings, passphrase=passphrase)


def render_archiving(settings: RecoverySettings) -> str:
    """The postgresql.conf lines for WAL archiving and streaming replication."""
    return _templates().get_template("postgresql-archiving.conf.j2").render(s=settings)


def write_config(settings: RecoverySettings) -> Path:
    """Render the configuration with the passphrase from the secret file; prepare the directories it names."""
    text = render_config(settings, read_passphrase(settings))
    target = settings.config_file
    give_to_server_user(target.parent, 0o750)
    for directory in (settings.log_dir, settings.lock_dir, *(path for _, path in settings.posix_repos())):
        give_to_server_user(directory, 0o750)
    temporary = target.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(temporary, 0o600)
    if os.geteuid() == 0:
        shutil.chown(temporary, "postgres", "postgres")
    temporary.replace(target)
    return target


def looks_undecryptable(message: str) -> bool:
    """An info file read with the wrong key decrypts to bytes that do not parse (pgBackRest's FormatError)."""
    lowered = message.lower()
    return "cipher" in lowered or "decrypt" in lowered or "key/value found outside of section" in lowered


def explain(command: str, code: int, message: str, settings: RecoverySettings) -> str:
    """One line for an operator from pgBackRest's error code and message (the passphrase never appears)."""
    if code == CRYPTO_ERROR or looks_undecryptable(message):
        return (
            f"wrong passphrase: the repository cannot be decrypted with the passphrase in "
            f"{settings.passphrase_file} ({command})"
        )
    if code == FILE_MISSING_ERROR and ".info" in message:
        return f"no backup repository found for stanza '{settings.stanza}' ({command}): run `abb backup run` first"
    if code in (ARCHIVE_TIMEOUT_ERROR, ARCHIVE_MISMATCH_ERROR):
        return f"WAL archiving is not working ({command}): {message.splitlines()[0]}"
    return f"pgbackrest {command} failed [{code}]: {message.splitlines()[0]}"


class Backrest:
    def __init__(self, settings: RecoverySettings) -> None:
        self.settings = settings

    def command(self, name: str, *args: str) -> list[str]:
        return [
            *run_as_server_user(),
            "pgbackrest",
            f"--config={self.settings.config_file}",
            f"--stanza={self.settings.stanza}",
            *args,
            name,
        ]

    def run(self, name: str, *args: str, echo: Callable[[str], None] | None = None, timeout: float = 6 * 3600) -> str:
        """Run a pgBackRest command; with `echo`, its progress lines are passed on as they come."""
        if not self.settings.config_file.exists():
            raise RecoveryError(f"{self.settings.config_file} does not exist: run `abb backup configure` first")
        process = subprocess.Popen(  # noqa: S603 - fixed program, arguments from settings
            self.command(name, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo and "command begin" not in line and not line.startswith(("ERROR", "WARN")):
                echo(line.rstrip("\n"))
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            raise RecoveryError(f"pgbackrest {name} did not finish within {timeout:.0f}s") from exc
        output = "\n".join(lines)
        if status != 0:
            found = ERROR_LINE.search(output)
            if found:
                # The error's continuation lines (indented) carry the cause, e.g. the FormatError of a wrong key.
                rest = output[found.end() :].splitlines()
                detail = "\n".join([found.group(2), *(line for line in rest if line[:1].isspace())])
                raise RecoveryError(explain(name, int(found.group(1)), detail, self.settings))
            raise RecoveryError(f"pgbackrest {name} failed with exit status {status}")
        return output

    def info(self, *, repo: int | None = None) -> dict[str, Any]:
        """The stanza's entry of `pgbackrest info --output=json` (backups of every repository, archive range)."""
        args = ["--output=json", *([f"--repo={repo}"] if repo else [])]
        stanzas = json.loads(self.run("info", *args, timeout=300), strict=False)  # a wrong key yields raw bytes
        stanza: dict[str, Any] = stanzas[0] if stanzas else {}
        status = stanza.get("status", {})
        if status.get("code") not in (0, None):
            for repo_entry in stanza.get("repo", []):
                message = repo_entry.get("status", {}).get("message", "")
                if looks_undecryptable(message):
                    raise RecoveryError(explain("info", CRYPTO_ERROR, message, self.settings))
        return stanza

    def ensure_stanza(self) -> None:
        """Create the stanza in every repository (does nothing where it exists), then check archiving works."""
        self.run("stanza-create", timeout=600)
        self.run("check", timeout=600)


def backups(stanza_info: dict[str, Any]) -> list[dict[str, Any]]:
    """Every backup in every repository, oldest first."""
    return sorted(stanza_info.get("backup", []), key=lambda b: (b["timestamp"]["stop"], b["label"]))

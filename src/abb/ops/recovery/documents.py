"""Uploaded documents (local storage) copied beside the database backup, checksummed, verified on restore.

Each posix repository gets `documents/objects/<sha256>` (content-addressed: a file already copied is not
copied again) and one manifest per backup, `documents/manifests/<UTC time>.json`, listing every file's
key, size and SHA-256. A restore to a time takes the newest manifest at or before it and checks every
restored file against its checksum. With GCS storage, bucket versioning and the dual-region backup bucket
do this job instead (docs/runbooks/disaster-recovery.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from abb.ops.recovery.errors import RecoveryError

MANIFEST_TIME = "%Y%m%dT%H%M%S.%fZ"


@dataclass
class DocumentsCopy:
    manifest: Path
    files: int
    bytes: int
    copied: int  # files not already in the repository


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _store(repo: Path) -> tuple[Path, Path]:
    return repo / "documents" / "objects", repo / "documents" / "manifests"


def _copy_checked(source: Path, target: Path, expected: str) -> None:
    """Copy through a temporary file renamed into place, then read the copy back against its checksum."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".partial")
    shutil.copyfile(source, temporary)
    if sha256_of(temporary) != expected:
        temporary.unlink()
        raise RecoveryError(f"document {source} changed or was damaged while being copied")
    os.replace(temporary, target)


def back_up(upload_dir: Path, repo: Path, *, now: datetime | None = None) -> DocumentsCopy:
    objects, manifests = _store(repo)
    files: dict[str, dict[str, object]] = {}
    copied = total = 0
    for path in sorted(p for p in upload_dir.rglob("*") if p.is_file()) if upload_dir.exists() else []:
        key = path.relative_to(upload_dir).as_posix()
        checksum = sha256_of(path)
        stored = objects / checksum
        if not stored.exists():
            _copy_checked(path, stored, checksum)
            copied += 1
        size = path.stat().st_size
        total += size
        files[key] = {"sha256": checksum, "size": size}
    moment = now or datetime.now(UTC)
    manifests.mkdir(parents=True, exist_ok=True)
    manifest = manifests / f"{moment.strftime(MANIFEST_TIME)}.json"
    manifest.write_text(json.dumps({"created": moment.isoformat(), "files": files}, indent=1, sort_keys=True))
    return DocumentsCopy(manifest=manifest, files=len(files), bytes=total, copied=copied)


def manifest_time(path: Path) -> datetime:
    return datetime.strptime(path.stem, MANIFEST_TIME).replace(tzinfo=UTC)


def manifest_at(repo: Path, at: datetime | None) -> Path | None:
    """The newest manifest taken at or before `at` (the newest of all without `at`)."""
    _, manifests = _store(repo)
    candidates = sorted(manifests.glob("*.json")) if manifests.exists() else []
    if at is not None:
        candidates = [m for m in candidates if manifest_time(m) <= at]
    return candidates[-1] if candidates else None


def restore(repo: Path, upload_dir: Path, *, at: datetime | None, force: bool) -> int:
    """Put the documents of the manifest in force at `at` back into `upload_dir`; returns the files restored."""
    manifest = manifest_at(repo, at)
    if manifest is None:
        return 0
    objects, _ = _store(repo)
    files: dict[str, dict[str, object]] = json.loads(manifest.read_text())["files"]
    upload_dir.mkdir(parents=True, exist_ok=True)
    restored = 0
    for key, entry in files.items():
        target = upload_dir / key
        checksum = str(entry["sha256"])
        if target.exists():
            if sha256_of(target) == checksum:
                continue
            if not force:
                raise RecoveryError(f"document {target} differs from the backup: pass --force to overwrite it")
        source = objects / checksum
        if not source.exists():
            raise RecoveryError(f"document {key} is missing from the backup copy in {objects}")
        _copy_checked(source, target, checksum)
        restored += 1
    return restored


def verify(repo: Path) -> tuple[int, list[str]]:
    """Every object every manifest names is present and matches its checksum: (objects checked, problems)."""
    objects, manifests = _store(repo)
    wanted: set[str] = set()
    for manifest in sorted(manifests.glob("*.json")) if manifests.exists() else []:
        wanted |= {str(e["sha256"]) for e in json.loads(manifest.read_text())["files"].values()}
    problems = []
    for checksum in sorted(wanted):
        stored = objects / checksum
        if not stored.exists():
            problems.append(f"document object {checksum} is missing")
        elif sha256_of(stored) != checksum:
            problems.append(f"document object {checksum} fails its checksum")
    return len(wanted), problems


def prune(repo: Path, *, older_than: datetime) -> int:
    """Drop manifests older than the oldest database backup kept (but never the newest) and unused objects."""
    objects, manifests = _store(repo)
    if not manifests.exists():
        return 0
    ordered = sorted(manifests.glob("*.json"))
    for manifest in ordered[:-1]:
        if manifest_time(manifest) < older_than:
            manifest.unlink()
    used = {str(e["sha256"]) for m in manifests.glob("*.json") for e in json.loads(m.read_text())["files"].values()}
    removed = 0
    for stored in objects.iterdir() if objects.exists() else []:
        if stored.name not in used:
            stored.unlink()
            removed += 1
    return removed

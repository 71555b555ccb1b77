"""The storage interface, run against LocalStorage and GcsStorage on the emulator; and byte sniffing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from abb.core.config import Settings
from abb.uploads.sniff import sniff
from abb.uploads.storage import GcsStorage, LocalStorage, new_key, storage_from_settings
from tests.fixtures_uploads import JPEG, PDF, PNG


def test_put_read_delete_round_trip(upload_storage):
    key = new_key()
    upload_storage.put(key, io.BytesIO(PDF), content_type="application/pdf")
    assert b"".join(upload_storage.read(key)) == PDF
    assert upload_storage.keys() == [key]
    upload_storage.delete(key)
    assert upload_storage.keys() == []
    upload_storage.delete(key)  # deleting twice is harmless
    with pytest.raises(FileNotFoundError):
        upload_storage.read(key)


def test_large_object_streams_back_whole(upload_storage):
    data = bytes(range(256)) * 4096  # 1 MiB, several chunks
    key = new_key()
    upload_storage.put(key, io.BytesIO(data), content_type="application/octet-stream")
    assert b"".join(upload_storage.read(key)) == data


@pytest.mark.parametrize("key", ["../../etc/passwd", "..", "", "ABCDEF0123456789ABCDEF0123456789", "a" * 33, "a/b"])
def test_keys_not_made_by_the_app_are_refused(upload_storage, key):
    with pytest.raises(ValueError):
        upload_storage.put(key, io.BytesIO(PNG), content_type="image/png")
    with pytest.raises(ValueError):
        upload_storage.read(key)
    assert upload_storage.keys() == []


def test_local_storage_writes_only_under_its_root(tmp_path: Path):
    storage = LocalStorage(tmp_path / "root")
    key = new_key()
    storage.put(key, io.BytesIO(JPEG), content_type="image/jpeg")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / "root" / key[:2] / key]


def test_storage_follows_the_settings(tmp_path: Path, gcs_emulator, monkeypatch):
    local = storage_from_settings(Settings(upload_dir=tmp_path / "u"))
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "u"
    beside_the_database = storage_from_settings(Settings(var_dir=tmp_path / "var"))
    assert isinstance(beside_the_database, LocalStorage) and beside_the_database.root == tmp_path / "var" / "uploads"
    # The production path builds its own client from the environment, as on GCP; here it finds the emulator.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "abb-test")
    gcs_emulator.client().create_bucket("abb-settings-test")
    remote = storage_from_settings(Settings(storage_backend="gcs", gcs_bucket="abb-settings-test"))
    assert isinstance(remote, GcsStorage)
    key = new_key()
    remote.put(key, io.BytesIO(PNG), content_type="image/png")
    assert remote.keys() == [key]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (b"root:x:0:0:root:/root:/bin/bash\n", None),
        (b"GIF89a\x01\x00\x01\x00", None),  # a real image type, but not one we accept
        (b"PK\x03\x04" + b"\x00" * 40, None),  # zip (e.g. a .docx)
        (b"", None),
    ],
)
def test_sniffing_reads_the_bytes(data, expected):
    assert sniff(data) == expected

"""Upload fixtures: sample files, and the storage backends (local directory, GCS emulator) to run against."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from abb.uploads.storage import GcsStorage, LocalStorage, Storage
from tests.harness.gcs import GcsEmulator
from tests.harness.services import unavailable


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A real 1x1 white PNG, a minimal JPEG (JFIF header, no image data needed for sniffing), a one-page PDF.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
    + _png_chunk(b"IEND", b"")
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    try:
        emulator = GcsEmulator()
    except Exception as exc:
        unavailable(f"GCS emulator could not be started: {exc}")
    yield emulator
    emulator.close()


def _gcs_storage(emulator: GcsEmulator) -> GcsStorage:
    client = emulator.client()
    bucket = f"abb-test-{uuid.uuid4().hex[:12]}"  # a fresh bucket: each test sees only its own objects
    client.create_bucket(bucket)
    return GcsStorage(bucket, client=client)


@pytest.fixture(params=["local", "gcs"])
def upload_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each storage backend in turn: LocalStorage in a temp dir, GcsStorage on the emulator."""
    if request.param == "gcs":
        return _gcs_storage(request.getfixturevalue("gcs_emulator"))
    return LocalStorage(tmp_path / "uploads")


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads")

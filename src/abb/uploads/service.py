"""Upload rules: the bytes decide the type, the size is bounded, names never become paths, only owners read."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterator
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.core.database import fetch_page
from abb.core.errors import Forbidden, NotFound, NotOwner, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from abb.security.access import record_access
from abb.uploads.models import Document, DocumentKind
from abb.uploads.sniff import EXTENSIONS, HEAD_BYTES, sniff
from abb.uploads.storage import CHUNK_BYTES, Storage, new_key

log = logging.getLogger("abb.uploads")
IMAGE_TYPES = ("image/png", "image/jpeg")
ALLOWED_TYPES: dict[DocumentKind, tuple[str, ...]] = {
    DocumentKind.LOGO: IMAGE_TYPES,
    DocumentKind.REGISTRATION_CERTIFICATE: tuple(EXTENSIONS),
    DocumentKind.OTHER: tuple(EXTENSIONS),
}
# Declared types that say nothing (browsers send these for unknown files) and common aliases.
NEUTRAL_TYPES = {"", "application/octet-stream"}
TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}
MAX_NAME_LENGTH = 120


def _name_error(message: str) -> Unprocessable:
    return Unprocessable(message, extra={"errors": [{"field": "file", "message": message, "code": "file_name"}]})


def clean_file_name(name: str) -> str:
    """The uploader's file name as display metadata; a name that tries to be a path is refused."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise _name_error("The file needs a name.")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise _name_error("The file name must be a plain name, not a path.")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise _name_error("The file name contains control characters.")
    if len(name) > MAX_NAME_LENGTH:
        raise _name_error(f"The file name is longer than {MAX_NAME_LENGTH} characters.")
    return name


def _measure(data: IO[bytes], max_bytes: int) -> tuple[bytes, int, str]:
    """Leading bytes, size and SHA-256 of the upload, reading no further than one chunk past the limit."""
    data.seek(0)
    digest = hashlib.sha256()
    head = b""
    size = 0
    while chunk := data.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The file is larger than the limit of {max_bytes} bytes.")
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
    data.seek(0)
    return head, size, digest.hexdigest()


def _check_type(kind: DocumentKind, head: bytes, name: str, declared: str | None) -> str:
    actual = sniff(head)
    if actual is None:
        raise UnsupportedMediaType("Only PDF, PNG and JPEG files are accepted, and this file is none of them.")
    claimed = (declared or "").split(";")[0].strip().lower()
    claimed = TYPE_ALIASES.get(claimed, claimed)
    if claimed not in NEUTRAL_TYPES and claimed != actual:
        raise UnsupportedMediaType(f"The file was sent as {claimed[:64]} but its content is {actual}.")
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    if extension and extension not in EXTENSIONS[actual]:
        raise UnsupportedMediaType(f"The file name ends in .{extension[:16]} but its content is {actual}.")
    if actual not in ALLOWED_TYPES[kind]:
        raise UnsupportedMediaType(
            f"A {kind.value.replace('_', ' ')} must be one of: {', '.join(ALLOWED_TYPES[kind])}."
        )
    return actual


def upload(
    session: Session,
    *,
    storage: Storage,
    owner: User,
    kind: DocumentKind,
    data: IO[bytes],
    file_name: str,
    declared_type: str | None,
    max_bytes: int,
) -> Document:
    name = clean_file_name(file_name)
    head, size, sha256 = _measure(data, max_bytes)
    if size == 0:
        raise Unprocessable("The file is empty.")
    content_type = _check_type(kind, head, name, declared_type)
    key = new_key()
    storage.put(key, data, content_type=content_type)
    document = Document(
        owner_id=owner.id,
        kind=kind,
        storage_key=key,
        original_name=name,
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
    )
    session.add(document)
    try:
        session.commit()
    except BaseException:
        # The row was not stored, so neither may the file be.
        session.rollback()
        storage.delete(key)
        raise
    return document


def _readable(session: Session, *, document_id: int, user: User) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound("No such document.")
    if document.owner_id != user.id and user.role != Role.ADMIN:
        raise NotOwner("Only the owner and admins can see this document.")
    return document


def get_document(session: Session, *, document_id: int, user: User) -> Document:
    return _readable(session, document_id=document_id, user=user)


def open_document(
    session: Session, *, storage: Storage, document_id: int, user: User
) -> tuple[Document, Iterator[bytes]]:
    document = _readable(session, document_id=document_id, user=user)
    record_access(session, viewer_id=user.id, subject_user_id=document.owner_id, what="document", object_id=document.id)
    try:
        return document, storage.read(document.storage_key)
    except FileNotFoundError as exc:
        log.error("document file missing from storage", extra={"document_id": document.id})
        raise NotFound("The file of this document is missing.") from exc


def delete_document(session: Session, *, storage: Storage, document_id: int, user: User) -> None:
    document = _readable(session, document_id=document_id, user=user)
    key = document.storage_key
    session.delete(document)
    session.commit()
    storage.delete(key)


def list_documents(session: Session, *, owner_id: int, limit: int, offset: int) -> tuple[list[Document], int]:
    query = select(Document).where(Document.owner_id == owner_id)
    return fetch_page(session, query, Document.id.desc(), limit=limit, offset=offset)


def documents_of(session: Session, *, viewer: User, owner_id: int | None) -> int:
    """Whose documents `viewer` may list: their own, or anyone's for admins."""
    if owner_id is None or owner_id == viewer.id:
        return viewer.id
    if viewer.role != Role.ADMIN:
        raise Forbidden("You can only list your own documents.")
    return owner_id

"""What upload endpoints (the API's and the pages') depend on: the app's storage, and a file download's answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response, StreamingResponse

from abb.uploads.models import Document
from abb.uploads.storage import Storage, storage_from_settings


def get_storage(request: Request) -> Storage:
    """The app's storage, made on first use (tests may set `app.state.upload_storage` beforehand)."""
    state = request.app.state
    storage: Storage | None = getattr(state, "upload_storage", None)
    if storage is None:
        storage = state.upload_storage = storage_from_settings(state.settings)
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


def download_response(document: Document, chunks: Iterator[bytes]) -> Response:
    # The stored name is shown to the user only through a quoted ASCII fallback and RFC 5987 encoding.
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._- ") else "_" for ch in document.original_name)
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(document.original_name, safe='')}"
    return StreamingResponse(
        chunks,
        media_type=document.content_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(document.size_bytes),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from abb.uploads.models import DocumentKind


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    kind: DocumentKind
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime

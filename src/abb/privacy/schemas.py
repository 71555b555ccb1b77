from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CorrectionIn(StrictIn):
    full_name: Annotated[str, Field(min_length=1, max_length=120)]


class ErasureIn(StrictIn):
    password: Annotated[str, Field(min_length=1, max_length=256)]
    confirm: Literal["erase my account"]


class ConsentIn(StrictIn):
    purpose: Literal["terms", "marketing"]
    granted: bool
    version: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    purpose: str
    version: str
    granted: bool
    at: datetime


class AccessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    viewer_id: int | None
    subject_user_id: int
    what: str
    object_id: int


class SessionOut(BaseModel):
    family_id: str
    started_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool

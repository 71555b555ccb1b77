from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from abb.security.models import IncidentStatus, LockoutScope


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    category: str
    action: str
    outcome: str
    user_id: int | None
    source_ip: str | None
    user_agent: str | None
    request_id: str | None
    entity_type: str | None
    entity_id: str | None
    details: dict[str, Any]

    @field_validator("details", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        import orjson

        return orjson.loads(value) if isinstance(value, str) else value


class EventFilter(BaseModel):
    user_id: int | None = None
    source_ip: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class LockoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    scope: LockoutScope
    key: str
    failures: int
    created_at: datetime
    locked_until: datetime
    unlocked_at: datetime | None


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    verified_at: datetime
    ok: bool
    rows_checked: int
    last_id: int | None
    broken_at_id: int | None
    reason: str


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=3, max_length=200)]
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    event_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=100)] = []  # BIGINT ids


class IncidentUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["acknowledged", "resolved"] | None = None
    owner_id: Annotated[int, Field(ge=1, le=2_147_483_647)] | None = None
    note: Annotated[str, Field(max_length=4000)] | None = None
    event_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=100)] = []  # BIGINT ids


class IncidentEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    author_id: int | None
    kind: str
    text: str
    audit_id: int | None


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    severity: str
    status: IncidentStatus
    owner_id: int | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    timeline: list[IncidentEntryOut] = []

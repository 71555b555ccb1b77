"""The security console's API for administrators: events, lockouts, the audit chain, incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from abb.accounts.deps import AdminUser, SettingsDep
from abb.console import service
from abb.console.schemas import (
    AuditEventOut,
    EventFilter,
    IncidentEntryOut,
    IncidentIn,
    IncidentOut,
    IncidentUpdateIn,
    LockoutOut,
    VerificationOut,
)
from abb.core.http import IdPath, Page, PageDep, SessionDep
from abb.core.openapi import problem_responses
from abb.security import bruteforce
from abb.security.audit import verify_and_record
from abb.security.models import IncidentStatus

router = APIRouter(prefix="/api/v1/admin/security", tags=["security"])


@router.get("/events", response_model=Page[AuditEventOut], responses=problem_responses(401, 403, 422))
def list_events(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    user_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    source_ip: Annotated[str | None, Query(max_length=45)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEventOut]:
    filters = EventFilter(
        user_id=user_id, source_ip=source_ip, action=action, outcome=outcome, since=since, until=until
    )
    events, total = service.list_events(session, filters=filters, limit=page.limit, offset=page.offset)
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(e) for e in events], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/lockouts", response_model=list[LockoutOut], responses=problem_responses(401, 403))
def list_lockouts(_admin: AdminUser, session: SessionDep) -> list[LockoutOut]:
    return [LockoutOut.model_validate(lockout) for lockout in bruteforce.active_lockouts(session)]


@router.post(
    "/lockouts/{lockout_id}/unlock", response_model=LockoutOut, responses=problem_responses(401, 403, 404, 422)
)
def unlock(lockout_id: IdPath, admin: AdminUser, session: SessionDep, settings: SettingsDep) -> LockoutOut:
    return LockoutOut.model_validate(
        bruteforce.unlock(session, lockout_id=lockout_id, admin_id=admin.id, settings=settings)
    )


@router.post("/audit/verify", response_model=VerificationOut, responses=problem_responses(401, 403))
def verify_chain(admin: AdminUser, session: SessionDep) -> VerificationOut:
    verify_and_record(session)
    last = service.last_verification(session)
    assert last is not None
    return VerificationOut.model_validate(last)


@router.get("/incidents", response_model=Page[IncidentOut], responses=problem_responses(401, 403, 422))
def list_incidents(
    _admin: AdminUser, session: SessionDep, page: PageDep, state: IncidentStatus | None = None
) -> Page[IncidentOut]:
    incidents, total = service.list_incidents(session, status=state, limit=page.limit, offset=page.offset)
    return Page[IncidentOut](
        items=[IncidentOut.model_validate(i) for i in incidents], total=total, limit=page.limit, offset=page.offset
    )


def _with_timeline(session: SessionDep, incident_id: int) -> IncidentOut:
    incident = service.get_incident(session, incident_id=incident_id)
    out = IncidentOut.model_validate(incident)
    out.timeline = [IncidentEntryOut.model_validate(e) for e in service.timeline(session, incident_id=incident_id)]
    return out


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentOut,
    responses=problem_responses(400, 401, 403, 422),
)
def open_incident(body: IncidentIn, admin: AdminUser, session: SessionDep) -> IncidentOut:
    incident = service.open_incident(session, incident_in=body, admin_id=admin.id)
    return _with_timeline(session, incident.id)


@router.get("/incidents/{incident_id}", response_model=IncidentOut, responses=problem_responses(401, 403, 404, 422))
def get_incident(incident_id: IdPath, _admin: AdminUser, session: SessionDep) -> IncidentOut:
    return _with_timeline(session, incident_id)


@router.patch(
    "/incidents/{incident_id}", response_model=IncidentOut, responses=problem_responses(400, 401, 403, 404, 409, 422)
)
def update_incident(incident_id: IdPath, body: IncidentUpdateIn, admin: AdminUser, session: SessionDep) -> IncidentOut:
    service.update_incident(session, incident_id=incident_id, update_in=body, admin_id=admin.id)
    return _with_timeline(session, incident_id)

"""The operator's security console: reading events, lifting lockouts, the last verification, incidents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from abb.console.schemas import EventFilter, IncidentIn, IncidentUpdateIn
from abb.core.database import fetch_page, utcnow
from abb.core.errors import InvalidTransition, NotFound, Unprocessable
from abb.security.events import emit
from abb.security.models import AuditRecord, AuditVerification, Incident, IncidentEntry, IncidentStatus

# open -> acknowledged -> resolved (an open incident may be resolved at once, e.g. a false alarm).
TRANSITIONS = {
    IncidentStatus.OPEN: {IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED},
    IncidentStatus.ACKNOWLEDGED: {IncidentStatus.RESOLVED},
    IncidentStatus.RESOLVED: set(),
}


def list_events(session: Session, *, filters: EventFilter, limit: int, offset: int) -> tuple[list[AuditRecord], int]:
    query = select(AuditRecord)
    if filters.user_id is not None:
        query = query.where(AuditRecord.user_id == filters.user_id)
    if filters.source_ip:
        query = query.where(AuditRecord.source_ip == filters.source_ip)
    if filters.action:
        query = query.where(AuditRecord.action == filters.action)
    if filters.outcome:
        query = query.where(AuditRecord.outcome == filters.outcome)
    if filters.since is not None:
        query = query.where(AuditRecord.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditRecord.created_at < filters.until)
    return fetch_page(session, query, AuditRecord.id.desc(), limit=limit, offset=offset)


def last_verification(session: Session) -> AuditVerification | None:
    return session.scalar(select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1))


def _link_events(session: Session, incident: Incident, event_ids: list[int], author_id: int) -> None:
    if not event_ids:
        return
    found = set(session.scalars(select(AuditRecord.id).where(AuditRecord.id.in_(event_ids))))
    missing = sorted(set(event_ids) - found)
    if missing:
        raise Unprocessable(f"No such security events: {', '.join(map(str, missing))}.")
    for event_id in sorted(found):
        session.add(IncidentEntry(incident_id=incident.id, author_id=author_id, kind="event", audit_id=event_id))


def open_incident(session: Session, *, incident_in: IncidentIn, admin_id: int) -> Incident:
    incident = Incident(
        title=incident_in.title, severity=incident_in.severity, status=IncidentStatus.OPEN, owner_id=admin_id
    )
    session.add(incident)
    session.flush()
    session.add(IncidentEntry(incident_id=incident.id, author_id=admin_id, kind="status", text="open"))
    _link_events(session, incident, incident_in.event_ids, admin_id)
    session.commit()
    emit(
        "configuration",
        "incident.open",
        "success",
        user_id=admin_id,
        entity_type="security_incidents",
        entity_id=incident.id,
        severity=incident.severity,
    )
    return incident


def update_incident(session: Session, *, incident_id: int, update_in: IncidentUpdateIn, admin_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("No such incident.")
    changes: dict[str, Any] = {}
    if update_in.status is not None:
        target = IncidentStatus(update_in.status)
        if target not in TRANSITIONS[incident.status]:
            raise InvalidTransition(f"An incident that is {incident.status.value} cannot become {target.value}.")
        incident.status = target
        if target is IncidentStatus.ACKNOWLEDGED:
            incident.acknowledged_at = utcnow()
        else:
            incident.resolved_at = utcnow()
        session.add(IncidentEntry(incident_id=incident.id, author_id=admin_id, kind="status", text=target.value))
        changes["status"] = target.value
    if update_in.owner_id is not None and update_in.owner_id != incident.owner_id:
        from abb.accounts.models import Role, User

        owner = session.get(User, update_in.owner_id)
        if owner is None or owner.role != Role.ADMIN:
            raise Unprocessable("The owner must be an administrator.")
        incident.owner_id = owner.id
        session.add(IncidentEntry(incident_id=incident.id, author_id=admin_id, kind="owner", text=str(owner.id)))
        changes["owner_id"] = owner.id
    if update_in.note:
        session.add(IncidentEntry(incident_id=incident.id, author_id=admin_id, kind="note", text=update_in.note))
    _link_events(session, incident, update_in.event_ids, admin_id)
    session.commit()
    emit(
        "configuration",
        "incident.update",
        "success",
        user_id=admin_id,
        entity_type="security_incidents",
        entity_id=incident.id,
        **changes,
    )
    return incident


def timeline(session: Session, *, incident_id: int) -> list[IncidentEntry]:
    return list(
        session.scalars(
            select(IncidentEntry).where(IncidentEntry.incident_id == incident_id).order_by(IncidentEntry.id)
        )
    )


def list_incidents(
    session: Session, *, status: IncidentStatus | None, limit: int, offset: int
) -> tuple[list[Incident], int]:
    query = select(Incident)
    if status is not None:
        query = query.where(Incident.status == status)
    return fetch_page(session, query, Incident.id.desc(), limit=limit, offset=offset)


def get_incident(session: Session, *, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("No such incident.")
    return incident

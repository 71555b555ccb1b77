"""The operator's security console pages: security events, lockouts, the audit chain, incidents.

Every read and action calls the same function as the console API (`abb.console.service`,
`abb.security.bruteforce.unlock`, `abb.security.audit.verify_and_record`); these pages only read query strings
and forms and show results. Only administrators get in (the admin console's `admin_user`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from abb.accounts import service as accounts
from abb.accounts.deps import SettingsDep
from abb.accounts.models import Role, User
from abb.console import service
from abb.console.schemas import EventFilter, IncidentIn, IncidentUpdateIn
from abb.core.errors import AppError
from abb.core.http import IdPath, SessionDep
from abb.core.i18n import gettext
from abb.security import bruteforce
from abb.security.audit import verify_and_record
from abb.security.models import IncidentStatus
from abb.web.admin import PER_PAGE, AdminPageUser, page_number
from abb.web.kit import CheckedForm, render

router = APIRouter(include_in_schema=False)
OUTCOMES = ("success", "failure", "unknown")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_EVENT_IDS = 100


class BadInput(ValueError):
    """A filter or form value the page cannot use; its message is shown to the operator."""


def _refused(request: Request, user: User, message: str, back: str, *, section: str, status: int) -> Response:
    context = {"user": user, "section": section, "message": message, "back": back}
    return render(request, "admin/refused.html", context, status=status)


def _moment(raw: str, label: str) -> datetime | None:
    """A `datetime-local` field (or any ISO 8601 time); one without a zone is UTC, as the page says."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadInput(gettext("%(field)s is not a date and time.") % {"field": label}) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _event_filter(params: Any) -> tuple[EventFilter, dict[str, str]]:
    raw = {
        name: (params.get(name) or "").strip()[:64] for name in ("user", "ip", "action", "outcome", "since", "until")
    }
    user_id: int | None = None
    if raw["user"]:
        if not raw["user"].isdigit() or not 1 <= int(raw["user"]) <= 2_147_483_647:
            raise BadInput(gettext("The user must be a user number."))
        user_id = int(raw["user"])
    if raw["outcome"] and raw["outcome"] not in OUTCOMES:
        raise BadInput(gettext("Unknown outcome."))
    since, until = _moment(raw["since"], gettext("From")), _moment(raw["until"], gettext("Until"))
    if since and until and since >= until:
        raise BadInput(gettext("The start of the time range must come before its end."))
    filters = EventFilter(
        user_id=user_id,
        source_ip=raw["ip"][:45] or None,
        action=raw["action"] or None,
        outcome=raw["outcome"] or None,
        since=since,
        until=until,
    )
    return filters, raw


@router.get("/admin/security/events", response_class=HTMLResponse)
def events_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    try:
        filters, raw = _event_filter(request.query_params)
    except BadInput as exc:
        return _refused(request, user, str(exc), "/admin/security/events", section="security-events", status=422)
    page = page_number(request)
    events, total = service.list_events(session, filters=filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context = {
        "user": user,
        "section": "security-events",
        "events": events,
        "total": total,
        "filters": raw,
        "outcomes": OUTCOMES,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "admin/security_events.html", context)


@router.get("/admin/security/lockouts", response_class=HTMLResponse)
def lockouts_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    notice = gettext("The lockout is lifted.") if request.query_params.get("done") == "unlocked" else None
    context = {
        "user": user,
        "section": "security-lockouts",
        "lockouts": bruteforce.active_lockouts(session),
        "notice": notice,
    }
    return render(request, "admin/security_lockouts.html", context)


@router.post("/admin/security/lockouts/{lockout_id}/unlock")
def lockout_unlock(
    request: Request,
    lockout_id: IdPath,
    user: AdminPageUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    back = "/admin/security/lockouts"
    if form.get("confirm") != "yes":
        return _refused(
            request, user, gettext("Tick the box to confirm."), back, section="security-lockouts", status=422
        )
    try:
        bruteforce.unlock(session, lockout_id=lockout_id, admin_id=user.id, settings=settings)
    except AppError as exc:
        return _refused(request, user, gettext(exc.detail), back, section="security-lockouts", status=exc.status)
    return RedirectResponse(f"{back}?done=unlocked", status_code=303)


@router.get("/admin/security/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    page = page_number(request)
    events, total = service.list_events(session, filters=EventFilter(), limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context = {
        "user": user,
        "section": "security-audit",
        "verification": service.last_verification(session),
        "events": events,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "admin/security_audit.html", context)


@router.post("/admin/security/audit/verify")
def audit_verify(user: AdminPageUser, form: CheckedForm, session: SessionDep) -> Response:
    verify_and_record(session)
    return RedirectResponse("/admin/security/audit", status_code=303)


def _event_ids(raw: str) -> list[int]:
    """Event numbers separated by commas or spaces."""
    parts = raw.replace(",", " ").split()
    if len(parts) > MAX_EVENT_IDS or not all(p.isdigit() and 1 <= int(p) <= 2_147_483_647 for p in parts):
        raise BadInput(gettext("Linked events must be event numbers separated by commas."))
    return [int(p) for p in parts]


@router.get("/admin/security/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    state = request.query_params.get("state") or ""
    if state and state not in {s.value for s in IncidentStatus}:
        return _refused(
            request,
            user,
            gettext("Unknown state."),
            "/admin/security/incidents",
            section="security-incidents",
            status=422,
        )
    page = page_number(request)
    incidents, total = service.list_incidents(
        session, status=IncidentStatus(state) if state else None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    context = {
        "user": user,
        "section": "security-incidents",
        "incidents": incidents,
        "total": total,
        "state": state,
        "states": [s.value for s in IncidentStatus],
        "severities": SEVERITIES,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "admin/security_incidents.html", context)


@router.post("/admin/security/incidents")
def incident_open(request: Request, user: AdminPageUser, form: CheckedForm, session: SessionDep) -> Response:
    back = "/admin/security/incidents"
    try:
        incident_in = IncidentIn(
            title=str(form.get("title", ""))[:300],
            severity=str(form.get("severity", "medium")),  # validated by the schema
            event_ids=_event_ids(str(form.get("event_ids", ""))[:2000]),
        )
        incident = service.open_incident(session, incident_in=incident_in, admin_id=user.id)
    except BadInput as exc:
        return _refused(request, user, str(exc), back, section="security-incidents", status=422)
    except ValidationError:
        message = gettext("Give a title of 3 to 200 characters and a known severity.")
        return _refused(request, user, message, back, section="security-incidents", status=422)
    except AppError as exc:
        return _refused(request, user, gettext(exc.detail), back, section="security-incidents", status=exc.status)
    return RedirectResponse(f"/admin/security/incidents/{incident.id}", status_code=303)


@router.get("/admin/security/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: IdPath, user: AdminPageUser, session: SessionDep) -> Response:
    incident = service.get_incident(session, incident_id=incident_id)
    entries = service.timeline(session, incident_id=incident_id)
    people = accounts.users_by_id(
        session, user_ids=[e.author_id for e in entries if e.author_id] + [incident.owner_id or 0]
    )
    admins, _ = accounts.list_users(session, q=None, role=Role.ADMIN, active=True, limit=100, offset=0)
    context = {
        "user": user,
        "section": "security-incidents",
        "incident": incident,
        "entries": entries,
        "people": {p.id: p for p in people},
        "admins": admins,
        "next_states": [s.value for s in service.TRANSITIONS[incident.status]],
    }
    return render(request, "admin/security_incident.html", context)


@router.post("/admin/security/incidents/{incident_id}")
def incident_update(
    request: Request, incident_id: IdPath, user: AdminPageUser, form: CheckedForm, session: SessionDep
) -> Response:
    back = f"/admin/security/incidents/{incident_id}"
    owner = str(form.get("owner_id", "")).strip()
    try:
        update_in = IncidentUpdateIn(
            status=str(form.get("status", "")) or None,  # validated by the schema
            owner_id=int(owner) if owner.isdigit() else (owner or None),
            note=str(form.get("note", "")).strip()[:5000] or None,
            event_ids=_event_ids(str(form.get("event_ids", ""))[:2000]),
        )
        if update_in.status is not None and form.get("confirm") != "yes":
            raise BadInput(gettext("Tick the box to confirm."))
        service.update_incident(session, incident_id=incident_id, update_in=update_in, admin_id=user.id)
    except BadInput as exc:
        return _refused(request, user, str(exc), back, section="security-incidents", status=422)
    except ValidationError:
        message = gettext("Choose a known state, an administrator as owner and a note of at most 4000 characters.")
        return _refused(request, user, message, back, section="security-incidents", status=422)
    except AppError as exc:
        return _refused(request, user, gettext(exc.detail), back, section="security-incidents", status=exc.status)
    return RedirectResponse(back, status_code=303)

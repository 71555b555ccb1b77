"""What connected companies do next: write to each other on the match, put an agreed meeting in their calendar
(.ics), cancel a meeting (and propose new times on the match page), and ask to meet from a profile page."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from icalendar import Calendar, Event, vText
from starlette.datastructures import FormData

from abb.accounts.models import User
from abb.core.config import Settings
from abb.core.errors import AppError
from abb.core.http import IdPath, SessionDep, SettingsDep
from abb.core.i18n import gettext
from abb.matching import service
from abb.matching.models import Match, Meeting, Side
from abb.matching.schemas import counterpart
from abb.web.errors import render_error_page
from abb.web.forms import require_confirmation
from abb.web.kit import CheckedForm, SignedInUser, safe_next

router = APIRouter(include_in_schema=False)
MEETING_LENGTH = timedelta(hours=1)  # a video call's slot in calendars; the proposal gives only the start


@router.post("/matches/{match_id}/messages")
def message_submit(
    request: Request, match_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep
) -> Response:
    body = str(form.get("body", ""))[: service.MAX_MESSAGE_CHARS + 1]
    try:
        service.post_message(session, match_id=match_id, user=user, body=body)
    except AppError as exc:
        if exc.status != 422:
            raise
        problem = "Write a message." if not body.strip() else "Use at most 2000 characters."
        return render_error_page(request, 422, exc.title, problem)
    return RedirectResponse(f"/matches/{match_id}#messages", status_code=303)


@router.post("/meetings/{meeting_id}/cancel")
def meeting_cancel(meeting_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    service.get_meeting_for_user(session, meeting_id=meeting_id, user=user)  # access before the form's fields
    require_confirmation(form)
    reason = str(form.get("reason", "")).strip()[:500] or None
    meeting = service.cancel_meeting(session, meeting_id=meeting_id, user=user, reason=reason)
    return RedirectResponse(f"/matches/{meeting.match_id}#meetings", status_code=303)


@router.get("/meetings/{meeting_id}/calendar.ics")
def meeting_calendar(meeting_id: IdPath, user: SignedInUser, session: SessionDep, settings: SettingsDep) -> Response:
    meeting, match = service.agreed_meeting_for_user(session, meeting_id=meeting_id, user=user)
    body = calendar_file(meeting, match, service.user_side(user), settings)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting.id}.ics"'},
    )


def calendar_file(meeting: Meeting, match: Match, side: Side, settings: Settings) -> bytes:
    """RFC 5545: one event at the agreed UTC time, the video link as its place, both companies in the title."""
    assert meeting.starts_at is not None
    other = counterpart(match, Side.PARTNER if side is Side.SME else Side.SME)
    calendar = Calendar()
    calendar.add("prodid", "-//Africa Business Bridge//Meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@africabusinessbridge.example")
    event.add("dtstamp", meeting.accepted_at or meeting.starts_at)
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.starts_at + MEETING_LENGTH)
    event.add("summary", vText(gettext("Video call with %(company)s") % {"company": other.name}))
    event.add("location", vText(meeting.video_link))
    event.add("url", meeting.video_link)
    event.add("description", vText(f"{settings.public_base_url}/matches/{match.id}"))
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def _request_meeting(
    user: User, form: FormData, session: SessionDep, settings: Settings, profile_side: Side, profile_id: int
) -> Response:
    match = service.request_match(
        session, user=user, profile_side=profile_side, profile_id=profile_id, settings=settings
    )
    return RedirectResponse(safe_next(str(form.get("next", "")), default=f"/matches/{match.id}"), status_code=303)


@router.post("/partners/{profile_id}/request-meeting")
def request_partner(
    profile_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    return _request_meeting(user, form, session, settings, Side.PARTNER, profile_id)


@router.post("/smes/{profile_id}/request-meeting")
def request_sme(
    profile_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    return _request_meeting(user, form, session, settings, Side.SME, profile_id)

"""Web pages for matching: your matches, a match with its meetings, your meetings. They work without JavaScript."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from abb.accounts.models import Role, User
from abb.companies import service as companies
from abb.core.errors import AppError
from abb.core.http import IdPath, SessionDep, SettingsDep
from abb.core.i18n import from_local
from abb.matching import service
from abb.matching.models import Match, MatchStatus, Side
from abb.matching.schemas import MatchOut, MeetingAcceptIn, MeetingIn, MeetingOut
from abb.web.forms import require_confirmation, validate_form
from abb.web.kit import CheckedForm, SignedInUser, page_number, render, safe_next

router = APIRouter(include_in_schema=False)
PER_PAGE = 25  # the top 20 suggestions and a few introductions fit on one page
MAX_SLOTS = 5


def _shown(match: Match, side: Side) -> MatchOut:
    """The API's view of a match with its explanation worded in the page's language."""
    return MatchOut.of(match, side).model_copy(update={"explanation": match.explanation_in_current_language(side)})


def _has_matches(user: User) -> bool:
    return user.role in (Role.SME, Role.PARTNER)


@router.get("/matches", response_class=HTMLResponse)
def matches_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    wanted = request.query_params.get("status")
    status = wanted if wanted in {s.value for s in MatchStatus} else None
    page = page_number(request)
    items, total = service.list_matches_for_user(
        session, user=user, status=status, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return render(
        request,
        "matches.html",
        {
            "user": user,
            "has_profile": companies.profile_of(session, user=user) is not None,
            "can_match": _has_matches(user),
            "matches": [_shown(m, service.user_side(user)) for m in items],
            "total": total,
            "status": status,
            "statuses": [s.value for s in MatchStatus],
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
        },
    )


@router.post("/matches/recompute")
def recompute_submit(user: SignedInUser, _form: CheckedForm, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        service.recompute_for_user(session, user=user, settings=settings)
    except service.NoProfile:
        return RedirectResponse("/profile/edit", status_code=303)
    return RedirectResponse("/matches", status_code=303)


def _detail(
    request: Request,
    user: User,
    session: SessionDep,
    match_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    match, side = service.get_match_for_user(session, match_id=match_id, user=user)
    meetings = [MeetingOut.of(m, side) for m in service.meetings_of_match(session, match=match)]
    return render(
        request,
        "match_detail.html",
        {
            "user": user,
            "match": _shown(match, side),
            "side": side.value,
            "contact": service.contact_of(session, match=match, side=side),
            "messages": service.messages_of_match(session, match=match),
            "decline_reason": match.decline_reason if match.status is MatchStatus.DECLINED else None,
            "meetings": meetings,
            "factor_labels": service.FACTOR_LABELS,
            "slot_fields": [f"slot_{i}" for i in range(1, MAX_SLOTS + 1)],
            "errors": errors or {},
            "values": values or {},
        },
        status=status,
    )


@router.get("/matches/{match_id}", response_class=HTMLResponse)
def match_page(request: Request, match_id: IdPath, user: SignedInUser, session: SessionDep) -> Response:
    return _detail(request, user, session, match_id)


def _back(form: FormData, match_id: int) -> str:
    """Back to the match, or to the list with its filter and page as they were."""
    if form.get("back") == "detail":
        return f"/matches/{match_id}"
    return safe_next(str(form.get("next", "")), default="/matches")


@router.post("/matches/{match_id}/accept")
def accept_submit(match_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    service.accept(session, match_id=match_id, user=user)
    return RedirectResponse(_back(form, match_id), status_code=303)


@router.post("/matches/{match_id}/decline")
def decline_submit(match_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    reason = str(form.get("reason", "")).strip()[:500] or None
    service.decline(session, match_id=match_id, user=user, reason=reason)
    return RedirectResponse(_back(form, match_id), status_code=303)


@router.post("/matches/{match_id}/close")
def close_submit(match_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    service.get_match_for_user(session, match_id=match_id, user=user)  # access before the form's fields
    require_confirmation(form)
    service.close(session, match_id=match_id, user=user)
    return RedirectResponse(f"/matches/{match_id}", status_code=303)


def _utc_slot(value: str) -> datetime | str:
    """A datetime-local field read in the user's time zone (the form says which), as UTC; anything unparsable
    goes on to validation as is."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return from_local(parsed)


@router.post("/matches/{match_id}/meetings", response_class=HTMLResponse)
def propose_submit(
    request: Request, match_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep
) -> Response:
    values = {f"slot_{i}": str(form.get(f"slot_{i}", "")).strip()[:40] for i in range(1, MAX_SLOTS + 1)}
    values["video_link"] = str(form.get("video_link", "")).strip()[:600]
    slots = [_utc_slot(v) for k, v in values.items() if k.startswith("slot_") and v]
    parsed, errors = validate_form(MeetingIn, {"slots": slots, "video_link": values["video_link"]})
    if parsed is not None:
        assert isinstance(parsed, MeetingIn)
        try:
            service.propose_meeting(session, match_id=match_id, user=user, meeting_in=parsed)
        except AppError as exc:
            if exc.status != 422:
                raise
            errors = {"slots": exc.detail}
        else:
            return RedirectResponse(f"/matches/{match_id}", status_code=303)
    return _detail(request, user, session, match_id, errors=errors, values=values, status=422)


@router.post("/meetings/{meeting_id}/accept")
def accept_meeting_submit(
    request: Request, meeting_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep
) -> Response:
    parsed, _errors = validate_form(MeetingAcceptIn, {"slot": str(form.get("slot", ""))[:40]})
    if parsed is None:
        return render(
            request,
            "error.html",
            {"user": user, "status": 422, "title": "Choose a time", "detail": "Pick one of the proposed times."},
            status=422,
        )
    assert isinstance(parsed, MeetingAcceptIn)
    meeting = service.accept_meeting(session, meeting_id=meeting_id, user=user, slot=parsed.slot)
    return RedirectResponse(f"/matches/{meeting.match_id}", status_code=303)


@router.get("/meetings", response_class=HTMLResponse)
def meetings_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    page = page_number(request)
    items, total = service.list_meetings_for_user(session, user=user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render(
        request,
        "meetings.html",
        {
            "user": user,
            "meetings": [MeetingOut.of(m, service.user_side(user)) for m in items],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
        },
    )

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import status as http_status

from abb.accounts.deps import CurrentUser
from abb.core.cache import MATCH_LIST_CACHE, get_cache
from abb.core.http import IdPath, Page, PageDep, SessionDep, SettingsDep
from abb.core.openapi import problem_responses
from abb.matching import service
from abb.matching.models import MatchStatus
from abb.matching.schemas import MatchOut, MeetingAcceptIn, MeetingIn, MeetingOut, RecomputeOut

router = APIRouter(prefix="/api/v1", tags=["matching"])
ACTION_ERRORS = problem_responses(401, 403, 404, 409, 422)
BODY_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)


@router.get("/matches", response_model=Page[MatchOut], responses=problem_responses(401, 422))
def list_matches(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    match_status: Annotated[MatchStatus | None, Query(alias="status", description="Only matches in this state")] = None,
) -> Page[MatchOut]:
    status = match_status.value if match_status else None

    def load() -> Page[MatchOut]:
        items, total = service.list_matches_for_user(
            session, user=user, status=status, limit=page.limit, offset=page.offset
        )
        return Page[MatchOut](
            items=[MatchOut.of(m, service.user_side(user)) for m in items],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )

    key = f"{status}:{page.limit}:{page.offset}"
    return get_cache().fetch(MATCH_LIST_CACHE, key, load, Page[MatchOut], scope=str(user.id))


@router.post("/matches/recompute", response_model=RecomputeOut, responses=problem_responses(401, 403, 404))
def recompute_mine(user: CurrentUser, session: SessionDep, settings: SettingsDep) -> RecomputeOut:
    """Recompute the signed-in company's suggestions now."""
    return RecomputeOut(created=len(service.recompute_for_user(session, user=user, settings=settings)))


@router.get("/matches/{match_id}", response_model=MatchOut, responses=problem_responses(401, 403, 404, 422))
def get_match(match_id: IdPath, user: CurrentUser, session: SessionDep) -> MatchOut:
    match, side = service.get_match_for_user(session, match_id=match_id, user=user)
    return MatchOut.of(match, side)


@router.post("/matches/{match_id}/accept", response_model=MatchOut, responses=ACTION_ERRORS)
def accept_match(match_id: IdPath, user: CurrentUser, session: SessionDep) -> MatchOut:
    return MatchOut.of(service.accept(session, match_id=match_id, user=user), service.user_side(user))


@router.post("/matches/{match_id}/decline", response_model=MatchOut, responses=ACTION_ERRORS)
def decline_match(match_id: IdPath, user: CurrentUser, session: SessionDep) -> MatchOut:
    return MatchOut.of(service.decline(session, match_id=match_id, user=user), service.user_side(user))


@router.post("/matches/{match_id}/close", response_model=MatchOut, responses=ACTION_ERRORS)
def close_match(match_id: IdPath, user: CurrentUser, session: SessionDep) -> MatchOut:
    return MatchOut.of(service.close(session, match_id=match_id, user=user), service.user_side(user))


@router.post(
    "/matches/{match_id}/meetings",
    status_code=http_status.HTTP_201_CREATED,
    response_model=MeetingOut,
    responses=BODY_ERRORS,
)
def propose_meeting(match_id: IdPath, body: MeetingIn, user: CurrentUser, session: SessionDep) -> MeetingOut:
    meeting = service.propose_meeting(session, match_id=match_id, user=user, meeting_in=body)
    return MeetingOut.of(meeting, meeting.proposed_by)


@router.get("/meetings", response_model=Page[MeetingOut], responses=problem_responses(401, 422))
def list_meetings(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[MeetingOut]:
    items, total = service.list_meetings_for_user(session, user=user, limit=page.limit, offset=page.offset)
    return Page[MeetingOut](
        items=[MeetingOut.of(m, service.user_side(user)) for m in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/meetings/{meeting_id}/accept", response_model=MeetingOut, responses=BODY_ERRORS)
def accept_meeting(meeting_id: IdPath, body: MeetingAcceptIn, user: CurrentUser, session: SessionDep) -> MeetingOut:
    meeting = service.accept_meeting(session, meeting_id=meeting_id, user=user, slot=body.slot)
    return MeetingOut.of(meeting, service.user_side(user))

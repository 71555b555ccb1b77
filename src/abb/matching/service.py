"""Matching rules: recompute suggestions, the accept/decline/close lifecycle, meetings.

Each side decides on its own: suggested → accepted (one side) → connected (both), or declined by either;
a connected side may close the match. A recompute stores new suggestions and rescores the ones nobody has
acted on yet; it never touches a match a side has decided on, so running it again changes nothing.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from abb.accounts.models import Role, User
from abb.companies import service as companies
from abb.companies.models import PartnerProfile, SmeProfile
from abb.core.cache import MATCH_LIST_CACHE, get_cache
from abb.core.config import Settings
from abb.core.database import fetch_page, utcnow
from abb.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, NotOwner, Unprocessable
from abb.matching.engine import FACTOR_LABELS as FACTOR_LABELS  # for the pages
from abb.matching.engine import MatchIndex, Profile, Ranked, Weights, profile_from_partner, profile_from_sme
from abb.matching.models import Decision, Match, MatchMessage, MatchStatus, Meeting, MeetingStatus, Side
from abb.matching.schemas import MeetingIn
from abb.observability.business import record_match_accepted, record_matches_created
from abb.tasks import NOTIFY_NEW_MATCHES
from abb.tasks.dispatch import enqueue

RECOMPUTE_BATCH = 500  # queries whose suggestions are written and committed together
MAX_OPEN_PROPOSALS = 5  # unanswered meeting proposals per match
MAX_MEETING_AHEAD = timedelta(days=366)
MATCHES = typing.cast(Table, Match.__table__)  # for the bulk statements of recomputes


# --- recompute -----------------------------------------------------------------------------------


def _load_profiles(session: Session, *, smes: bool, ids: Sequence[int] | None, now: datetime) -> list[Profile]:
    """Profiles of active accounts, with their owner's last activity, as the engine sees them."""
    model: type[SmeProfile] | type[PartnerProfile] = SmeProfile if smes else PartnerProfile
    query = (
        select(*model.__table__.columns, User.last_seen_at.label("owner_last_seen_at"))
        .join(User, User.id == model.owner_id)
        .where(User.is_active.is_(True))
        .order_by(model.id)
    )
    if ids is not None:
        query = query.where(model.id.in_(ids))
    convert = profile_from_sme if smes else profile_from_partner
    return [convert(row, last_seen_at=row["owner_last_seen_at"], now=now) for row in session.execute(query).mappings()]


def _insert(session: Session) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for this backend: a pair stored meanwhile by another run is kept."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(MATCHES).on_conflict_do_nothing(index_elements=["sme_id", "partner_id"])


def _store(session: Session, index: MatchIndex, ranked: Iterable[Ranked], weights: Weights, now: datetime) -> list[int]:
    """Insert new suggestions and rescore untouched ones for these queries; return the ids created (no commit)."""
    ranked = list(ranked)
    queries_are_smes = index.queries_are_smes
    own_column = Match.sme_id if queries_are_smes else Match.partner_id
    other_column = Match.partner_id if queries_are_smes else Match.sme_id
    query_ids = [index.queries.profiles[r.query].id for r in ranked]
    existing: dict[tuple[int, int], tuple[int, MatchStatus, float, str, bool]] = {}
    untouched: dict[int, list[int]] = defaultdict(list)  # query id -> counterparts of its untouched suggestions
    for match_id, own, other, match_status, score, explanation, has_reasons in session.execute(
        select(
            Match.id,
            own_column,
            other_column,
            Match.status,
            Match.score,
            Match.sme_explanation,
            Match.reasons.isnot(None),
        ).where(own_column.in_(query_ids))
    ):
        existing[own, other] = (match_id, match_status, score, explanation, has_reasons)
        if match_status is MatchStatus.SUGGESTED:
            untouched[own].append(other)
    candidate_position = {p.id: i for i, p in enumerate(index.candidates.profiles)}
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for result in ranked:
        own_id = index.queries.profiles[result.query].id
        best = [int(c) for c in result.candidates]
        # Untouched suggestions that fell out of the top stay, with a fresh score.
        stale = [candidate_position[other] for other in untouched[own_id] if other in candidate_position]
        for candidate in dict.fromkeys(best + stale):
            other_id = index.candidates.profiles[candidate].id
            contributions = index.breakdown(result.query, candidate, weights)
            reasons, for_sme, for_partner = index.explain(result.query, candidate, contributions)
            values = {
                "score": round(sum(contributions.values()), 1),
                "factors": {name: round(points, 2) for name, points in contributions.items()},
                "sme_explanation": for_sme,
                "partner_explanation": for_partner,
                "reasons": reasons,
            }
            found = existing.get((own_id, other_id))
            if found is None:
                sme_id, partner_id = (own_id, other_id) if queries_are_smes else (other_id, own_id)
                new_rows.append(
                    {
                        "sme_id": sme_id,
                        "partner_id": partner_id,
                        **values,
                        "status": MatchStatus.SUGGESTED.value,
                        "sme_decision": Decision.PENDING.value,
                        "partner_decision": Decision.PENDING.value,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            elif found[1] is MatchStatus.SUGGESTED and (found[2], found[3], found[4]) != (
                values["score"],
                for_sme,
                True,
            ):
                # Rescored, reworded, or stored before its reasons were kept as facts.
                changed_rows.append({"match_id": found[0], **{f"new_{k}": v for k, v in values.items()}})
    created: list[int] = []
    if new_rows:
        created = list(session.scalars(_insert(session).returning(MATCHES.c.id), new_rows))
    if changed_rows:
        session.execute(
            update(MATCHES)
            # Only while nobody has decided: a side acting meanwhile wins over the rescore.
            .where(MATCHES.c.id == bindparam("match_id"), MATCHES.c.status == MatchStatus.SUGGESTED.value)
            .values(
                score=bindparam("new_score"),
                factors=bindparam("new_factors"),
                sme_explanation=bindparam("new_sme_explanation"),
                partner_explanation=bindparam("new_partner_explanation"),
                reasons=bindparam("new_reasons"),
                updated_at=now,
            ),
            changed_rows,
        )
    return created


def recompute_for_profile(session: Session, *, role: Role, profile_id: int, settings: Settings) -> list[int]:
    """Recompute one SME's or partner's suggestions, commit, and return the ids of matches newly created.

    A profile that no longer exists, or whose owner is disabled, gets nothing (an empty list).
    """
    if role not in (Role.SME, Role.PARTNER):
        raise ValueError(f"only SME and partner profiles have matches, not {role.value}")
    now = utcnow()
    is_sme = role is Role.SME
    queries = _load_profiles(session, smes=is_sme, ids=[profile_id], now=now)
    if not queries:
        return []
    candidates = _load_profiles(session, smes=not is_sme, ids=None, now=now)
    session.commit()  # the read ends before the ranking: no transaction (SQLite: write lock) held while it computes
    index = MatchIndex(queries, candidates, queries_are_smes=is_sme)
    weights = Weights.from_settings(settings)
    ranked = index.rank([0], weights, top_n=settings.matching_top_n, min_score=settings.matching_min_score)
    created = _store(session, index, ranked, weights, now)
    session.commit()
    record_matches_created(len(created))
    return created


def recompute_and_announce(session: Session, *, role: Role, profile_id: int, settings: Settings) -> list[int]:
    """`recompute_for_profile`, then its effects once committed: match lists are read afresh, new matches
    are announced by e-mail (in the background)."""
    created = recompute_for_profile(session, role=role, profile_id=profile_id, settings=settings)
    # Rescored suggestions show on the other side's lists too, so every list goes.
    get_cache().invalidate(MATCH_LIST_CACHE)
    if created:
        enqueue(session, NOTIFY_NEW_MATCHES, created)
    return created


def recompute_for_user(session: Session, *, user: User, settings: Settings) -> list[int]:
    """Recompute the signed-in company's suggestions now (`recompute_and_announce`); ids of new matches."""
    user_side(user)  # admins have no matches
    profile = companies.profile_of(session, user=user)
    if profile is None:
        raise NoProfile("You have no company profile yet.")
    return recompute_and_announce(session, role=user.role, profile_id=profile.id, settings=settings)


class NoProfile(NotFound):
    """The user has no company profile yet (pages send them to create one)."""


def recompute_all(session: Session, *, settings: Settings) -> int:
    """Recompute the top partners of every SME, committing in batches; return how many matches were created."""
    now = utcnow()
    smes = _load_profiles(session, smes=True, ids=None, now=now)
    partners = _load_profiles(session, smes=False, ids=None, now=now)
    session.commit()  # each batch is ranked outside any transaction and stored in its own
    index = MatchIndex(smes, partners, queries_are_smes=True)
    weights = Weights.from_settings(settings)
    created = 0
    for start in range(0, len(smes), RECOMPUTE_BATCH):
        positions = range(start, min(start + RECOMPUTE_BATCH, len(smes)))
        ranked = index.rank(positions, weights, top_n=settings.matching_top_n, min_score=settings.matching_min_score)
        batch_created = len(_store(session, index, ranked, weights, now))
        session.commit()
        record_matches_created(batch_created)
        created += batch_created
    get_cache().invalidate(MATCH_LIST_CACHE)
    return created


def suggest_pair(session: Session, *, sme_id: int, partner_id: int, settings: Settings) -> int | None:
    """Store (or rescore) the suggestion for one given pair whatever its rank, and return its id.

    An introduction: the demo seed uses it so that the demo SME and the demo partner are matched. None when
    either profile is missing or its owner is disabled.
    """
    now = utcnow()
    queries = _load_profiles(session, smes=True, ids=[sme_id], now=now)
    partners = _load_profiles(session, smes=False, ids=None, now=now)
    position = next((i for i, p in enumerate(partners) if p.id == partner_id), None)
    if not queries or position is None:
        return None
    index = MatchIndex(queries, partners, queries_are_smes=True)
    weights = Weights.from_settings(settings)
    score = float(index.scores(np.zeros(1, np.intp), weights)[0, position])
    ranked = Ranked(0, np.array([position], np.intp), np.array([score], np.float32))
    created = _store(session, index, [ranked], weights, now)
    session.commit()
    record_matches_created(len(created))
    match = session.scalar(select(Match).where(Match.sme_id == sme_id, Match.partner_id == partner_id))
    if match is None:
        return None
    _lists_changed(match)
    return match.id


# --- reading ---------------------------------------------------------------------------------------


def user_side(user: User) -> Side:
    """Which side of matches the user is on; admins have none."""
    if user.role is Role.SME:
        return Side.SME
    if user.role is Role.PARTNER:
        return Side.PARTNER
    raise Forbidden("Only SMEs and partners have matches.")


def _own_column(side: Side) -> Any:
    return Match.sme_id if side is Side.SME else Match.partner_id


def list_matches_for_user(
    session: Session, *, user: User, status: str | None, limit: int, offset: int
) -> tuple[list[Match], int]:
    """The user's matches, best score first; none for users without a profile (admins included)."""
    profile = companies.profile_of(session, user=user)
    if profile is None:
        return [], 0
    query = select(Match).where(_own_column(user_side(user)) == profile.id)
    if status is not None:
        query = query.where(Match.status == MatchStatus(status))
    return fetch_page(session, query, Match.score.desc(), Match.id, limit=limit, offset=offset)


def get_match_for_user(session: Session, *, match_id: int, user: User, lock: bool = False) -> tuple[Match, Side]:
    """A match and the user's side in it: 404 when it does not exist, 403 when it is someone else's."""
    match = session.get(Match, match_id, with_for_update=lock or None, populate_existing=lock)
    if match is None:
        raise NotFound("No such match.")
    side = user_side(user)
    profile = companies.profile_of(session, user=user)
    if profile is None or (match.sme_id if side is Side.SME else match.partner_id) != profile.id:
        raise NotOwner("This match is between other companies.")
    return match, side


# --- lifecycle ----------------------------------------------------------------------------------------


def _decide(session: Session, *, match_id: int, user: User, decision: Decision, reason: str | None = None) -> Match:
    match, side = get_match_for_user(session, match_id=match_id, user=user, lock=True)
    if match.status not in (MatchStatus.SUGGESTED, MatchStatus.ACCEPTED):
        raise InvalidTransition(f"This match is {match.status.value}; it can no longer be accepted or declined.")
    if match.decision_of(side) is not Decision.PENDING:
        raise InvalidTransition(f"You have already {match.decision_of(side).value} this match.")
    now = utcnow()
    if side is Side.SME:
        match.sme_decision, match.sme_decided_at = decision, now
    else:
        match.partner_decision, match.partner_decided_at = decision, now
    if decision is Decision.DECLINED:
        match.status = MatchStatus.DECLINED
        match.decline_reason = (reason or "").strip()[:500] or None
    elif match.sme_decision is Decision.ACCEPTED and match.partner_decision is Decision.ACCEPTED:
        match.status, match.connected_at = MatchStatus.CONNECTED, now
    else:
        match.status = MatchStatus.ACCEPTED
    session.commit()
    _lists_changed(match)
    if match.status is MatchStatus.CONNECTED:
        record_match_accepted()
    return match


def accept(session: Session, *, match_id: int, user: User) -> Match:
    return _decide(session, match_id=match_id, user=user, decision=Decision.ACCEPTED)


def decline(session: Session, *, match_id: int, user: User, reason: str | None = None) -> Match:
    """Decline; the reason, if given, is shown to the other side."""
    return _decide(session, match_id=match_id, user=user, decision=Decision.DECLINED, reason=reason)


def request_match(session: Session, *, user: User, profile_side: Side, profile_id: int, settings: Settings) -> Match:
    """Ask to meet a company from its profile page: the match (scored like a suggestion) counts as accepted by
    the asking side; the other side accepts or declines it with a reason, as any match. `profile_side` is the
    kind of company asked: SMEs ask partners, partners ask SMEs (anyone else is refused before anything is read)."""
    side = user_side(user)
    if side is profile_side:
        raise Forbidden("SMEs ask partners to meet, and partners ask SMEs.")
    own = companies.profile_of(session, user=user)
    if own is None:
        raise Conflict("Complete your company profile before asking to meet.")
    sme_id, partner_id = (own.id, profile_id) if side is Side.SME else (profile_id, own.id)
    other = companies.PARTNER if side is Side.SME else companies.SME
    companies.get_profile(session, kind=other, profile_id=profile_id)  # 404 for a profile that does not exist
    match = session.scalar(select(Match).where(Match.sme_id == sme_id, Match.partner_id == partner_id))
    if match is None:
        created = suggest_pair(session, sme_id=sme_id, partner_id=partner_id, settings=settings)
        match = session.get(Match, created) if created is not None else None
        if match is None:
            raise Conflict("These two companies cannot be matched.")
        match.requested_by = side
        session.commit()
    if match.status in (MatchStatus.CONNECTED, MatchStatus.DECLINED, MatchStatus.CLOSED):
        return match  # nothing to ask: the page shows where things stand
    if match.decision_of(side) is Decision.PENDING:
        return accept(session, match_id=match.id, user=user)
    return match


def close(session: Session, *, match_id: int, user: User) -> Match:
    match, side = get_match_for_user(session, match_id=match_id, user=user, lock=True)
    if match.status is not MatchStatus.CONNECTED:
        raise InvalidTransition(
            f"This match is {match.status.value}; only a connected match can be closed (decline a suggestion)."
        )
    match.status, match.closed_at, match.closed_by = MatchStatus.CLOSED, utcnow(), side
    session.commit()
    _lists_changed(match)
    return match


def _lists_changed(match: Match) -> None:
    """Both parties' cached match lists show the new state."""
    cache = get_cache()
    for owner_id in (match.sme.owner_id, match.partner.owner_id):
        cache.invalidate(MATCH_LIST_CACHE, str(owner_id))


# --- meetings --------------------------------------------------------------------------------------------


def propose_meeting(session: Session, *, match_id: int, user: User, meeting_in: MeetingIn) -> Meeting:
    """Propose 2-5 start times (validated by the schema) for a video call between connected parties."""
    slots = meeting_in.slots
    match, side = get_match_for_user(session, match_id=match_id, user=user, lock=True)
    if match.status is not MatchStatus.CONNECTED:
        raise InvalidTransition(f"This match is {match.status.value}; meetings are for connected matches.")
    now = utcnow()
    if any(slot <= now for slot in slots):
        raise Unprocessable("Every proposed time must be in the future.")
    if any(slot > now + MAX_MEETING_AHEAD for slot in slots):
        raise Unprocessable("Propose times within the next year.")
    open_proposals = session.scalar(
        select(func.count(Meeting.id)).where(Meeting.match_id == match.id, Meeting.status == MeetingStatus.PROPOSED)
    )
    if (open_proposals or 0) >= MAX_OPEN_PROPOSALS:
        raise Conflict(f"This match already has {MAX_OPEN_PROPOSALS} unanswered proposals; wait for an answer.")
    meeting = Meeting(
        match_id=match.id,
        proposed_by=side,
        slots=[slot.isoformat() for slot in sorted(slots)],
        video_link=str(meeting_in.video_link),
        status=MeetingStatus.PROPOSED,
    )
    session.add(meeting)
    session.commit()
    return meeting


def accept_meeting(session: Session, *, meeting_id: int, user: User, slot: datetime) -> Meeting:
    """The side that did not propose picks one of the proposed times."""
    meeting = session.get(Meeting, meeting_id, with_for_update=True, populate_existing=True)
    if meeting is None:
        raise NotFound("No such meeting.")
    match, side = get_match_for_user(session, match_id=meeting.match_id, user=user)
    if meeting.proposed_by is side:
        raise Forbidden("You proposed this meeting; the other side chooses the time.")
    if meeting.status is not MeetingStatus.PROPOSED:
        raise InvalidTransition("This meeting has already been accepted.")
    if match.status is not MatchStatus.CONNECTED:
        raise InvalidTransition(f"This match is {match.status.value}; its meetings can no longer be accepted.")
    if slot not in meeting.start_times():
        raise Unprocessable("Choose one of the proposed times.", extra={"errors": [_slot_error("not proposed")]})
    if slot <= utcnow():
        raise Unprocessable("That time has passed; propose new times.", extra={"errors": [_slot_error("in the past")]})
    meeting.status, meeting.starts_at, meeting.accepted_at = MeetingStatus.ACCEPTED, slot, utcnow()
    session.commit()
    return meeting


def _slot_error(message: str) -> dict[str, str]:
    return {"field": "slot", "message": message, "code": "slot"}


def list_meetings_for_user(session: Session, *, user: User, limit: int, offset: int) -> tuple[list[Meeting], int]:
    """Meetings of the user's matches, the newest proposal first."""
    profile = companies.profile_of(session, user=user)
    if profile is None:
        return [], 0
    own = _own_column(user_side(user))
    query = select(Meeting).join(Match, Match.id == Meeting.match_id).where(own == profile.id)
    return fetch_page(session, query, Meeting.id.desc(), limit=limit, offset=offset)


def meetings_of_match(session: Session, *, match: Match) -> list[Meeting]:
    return list(session.scalars(select(Meeting).where(Meeting.match_id == match.id).order_by(Meeting.id)).unique())


def get_meeting_for_user(session: Session, *, meeting_id: int, user: User, lock: bool = False) -> tuple[Meeting, Match]:
    """A meeting of one of the user's matches, and that match: 404 when it does not exist, 403 when it is
    someone else's."""
    meeting = session.get(Meeting, meeting_id, with_for_update=lock or None, populate_existing=lock)
    if meeting is None:
        raise NotFound("No such meeting.")
    match, _side = get_match_for_user(session, match_id=meeting.match_id, user=user)
    return meeting, match


def cancel_meeting(session: Session, *, meeting_id: int, user: User, reason: str | None) -> Meeting:
    """Either side calls off a proposal or an agreed time; they can then propose new times."""
    meeting, _match = get_meeting_for_user(session, meeting_id=meeting_id, user=user, lock=True)
    if meeting.status is MeetingStatus.CANCELLED:
        raise InvalidTransition("This meeting is already cancelled.")
    if meeting.starts_at is not None and meeting.starts_at <= utcnow():
        raise InvalidTransition("This meeting has already taken place.")
    meeting.status, meeting.cancelled_at = MeetingStatus.CANCELLED, utcnow()
    meeting.cancel_reason = (reason or "").strip()[:500] or None
    session.commit()
    return meeting


def agreed_meeting_for_user(session: Session, *, meeting_id: int, user: User) -> tuple[Meeting, Match]:
    """An agreed meeting of one of the user's matches (for its calendar file)."""
    meeting, match = get_meeting_for_user(session, meeting_id=meeting_id, user=user)
    if meeting.status is not MeetingStatus.ACCEPTED or meeting.starts_at is None:
        raise Conflict("Only an agreed meeting has a calendar entry.")
    return meeting, match


# --- messages between connected companies ------------------------------------------------------------------

MAX_MESSAGE_CHARS = 2000


def post_message(session: Session, *, match_id: int, user: User, body: str) -> MatchMessage:
    """A message to the other side of a connected match: stored, listed on the match, e-mailed to them."""
    from abb.tasks import NOTIFY_MATCH_MESSAGE  # here: the task modules import this one
    from abb.tasks.dispatch import enqueue

    match, side = get_match_for_user(session, match_id=match_id, user=user)
    if match.status is not MatchStatus.CONNECTED:
        raise InvalidTransition("Messages are for connected matches.")
    text = body.strip()
    if not text:
        raise Unprocessable(
            "Write a message.", extra={"errors": [{"field": "body", "message": "empty", "code": "missing"}]}
        )
    if len(text) > MAX_MESSAGE_CHARS:
        raise Unprocessable(f"A message has at most {MAX_MESSAGE_CHARS} characters.")
    message = MatchMessage(match_id=match.id, author_side=side, author_id=user.id, body=text)
    session.add(message)
    session.commit()
    enqueue(session, NOTIFY_MATCH_MESSAGE, message.id)
    return message


def messages_of_match(session: Session, *, match: Match) -> list[MatchMessage]:
    return list(
        session.scalars(select(MatchMessage).where(MatchMessage.match_id == match.id).order_by(MatchMessage.id))
    )


def contact_of(session: Session, *, match: Match, side: Side) -> User | None:
    """The other side's contact person (name and e-mail), once the two companies are connected."""
    if match.status is not MatchStatus.CONNECTED:
        return None
    owner_id = match.partner.owner_id if side is Side.SME else match.sme.owner_id
    return session.get(User, owner_id)

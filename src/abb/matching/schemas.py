from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl

from abb.companies.taxonomy import TIME_ZONES
from abb.matching.models import Decision, Match, MatchStatus, Meeting, MeetingStatus, Side

MAX_VIDEO_LINK = 500


def _https_only(value: HttpUrl) -> str:
    if value.scheme != "https":
        raise ValueError("the video link must start with https://")
    text = str(value)
    if len(text) > MAX_VIDEO_LINK:
        raise ValueError(f"the video link may have at most {MAX_VIDEO_LINK} characters")
    return text


def _distinct(slots: list[AwareDatetime]) -> list[AwareDatetime]:
    if len(set(slots)) != len(slots):
        raise ValueError("the proposed times must differ")
    return slots


VideoLink = Annotated[HttpUrl, AfterValidator(_https_only)]
Slots = Annotated[list[AwareDatetime], Field(min_length=2, max_length=5), AfterValidator(_distinct)]


class MeetingIn(BaseModel):
    """2-5 start times (with a time zone offset; stored in UTC) and the video link for the call."""

    model_config = ConfigDict(extra="forbid")

    slots: Slots
    video_link: VideoLink


class MeetingAcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot: AwareDatetime = Field(description="One of the proposed start times")


class Counterpart(BaseModel):
    kind: Side
    profile_id: int
    name: str
    city: str
    country: str  # "IT" for an SME


class MatchOut(BaseModel):
    id: int
    status: MatchStatus
    score: float = Field(description="0 to 100")
    explanation: str = Field(description="The strongest reasons, worded for the reader")
    factors: dict[str, float] = Field(description="Points each factor contributed; they add up to the score")
    your_decision: Decision
    their_decision: Decision
    counterpart: Counterpart
    connected_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, match: Match, side: Side) -> MatchOut:
        other = Side.PARTNER if side is Side.SME else Side.SME
        return cls(
            id=match.id,
            status=match.status,
            score=match.score,
            explanation=match.explanation_for(side),
            factors=match.factors,
            your_decision=match.decision_of(side),
            their_decision=match.decision_of(other),
            counterpart=counterpart(match, other),
            connected_at=match.connected_at,
            created_at=match.created_at,
            updated_at=match.updated_at,
        )


def counterpart(match: Match, side: Side) -> Counterpart:
    if side is Side.SME:
        sme = match.sme
        return Counterpart(kind=side, profile_id=sme.id, name=sme.company_name, city=sme.city, country="IT")
    partner = match.partner
    return Counterpart(
        kind=side, profile_id=partner.id, name=partner.organization_name, city=partner.city, country=partner.country
    )


class LocalTime(BaseModel):
    time_zone: str
    local: datetime = Field(description="The same instant with that time zone's offset")

    @classmethod
    def of(cls, instant: datetime, time_zone: str) -> LocalTime:
        return cls(time_zone=time_zone, local=instant.astimezone(ZoneInfo(time_zone)))


class SlotOut(BaseModel):
    utc: datetime
    sme: LocalTime
    partner: LocalTime

    @classmethod
    def of(cls, instant: datetime, *, partner_country: str) -> SlotOut:
        zones = {"sme": TIME_ZONES["IT"], "partner": TIME_ZONES[partner_country]}
        local = {
            side: LocalTime(time_zone=name, local=instant.astimezone(ZoneInfo(name))) for side, name in zones.items()
        }
        return cls(utc=instant, sme=local["sme"], partner=local["partner"])


class MeetingOut(BaseModel):
    id: int
    match_id: int
    status: MeetingStatus
    proposed_by: Side
    you_proposed: bool
    video_link: str
    slots: list[SlotOut] = Field(description="Each proposed start in UTC and in both sides' time zones")
    starts: SlotOut | None = Field(description="The chosen start, once accepted")
    cancel_reason: str | None = Field(default=None, description="Why a side cancelled it, if it said")
    counterpart: Counterpart
    created_at: datetime

    @classmethod
    def of(cls, meeting: Meeting, side: Side) -> MeetingOut:
        country = meeting.match.partner.country
        chosen = meeting.starts_at
        return cls(
            id=meeting.id,
            match_id=meeting.match_id,
            status=meeting.status,
            proposed_by=meeting.proposed_by,
            you_proposed=meeting.proposed_by is side,
            video_link=meeting.video_link,
            slots=[SlotOut.of(slot, partner_country=country) for slot in meeting.start_times()],
            starts=SlotOut.of(chosen, partner_country=country) if chosen else None,
            cancel_reason=meeting.cancel_reason,
            counterpart=counterpart(meeting.match, Side.PARTNER if side is Side.SME else Side.SME),
            created_at=meeting.created_at,
        )


class RecomputeOut(BaseModel):
    created: int = Field(description="Suggestions stored for the first time")

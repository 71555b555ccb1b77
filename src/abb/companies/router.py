from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from abb.accounts.deps import CurrentUser
from abb.companies import service
from abb.companies.schemas import (
    PartnerProfileIn,
    PartnerProfileOut,
    PartnerProfileUpdate,
    SmeProfileIn,
    SmeProfileOut,
    SmeProfileUpdate,
)
from abb.companies.taxonomy import CountryCode, LanguageCode, SectorCode
from abb.core.errors import NotFound
from abb.core.http import IdPath, Page, PageDep, SessionDep
from abb.core.openapi import problem_responses
from abb.security.access import record_access

router = APIRouter(prefix="/api/v1", tags=["companies"])
SearchText = Annotated[str | None, Query(min_length=1, max_length=100, description="Text search")]
READ_ERRORS = problem_responses(401, 403, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)


@router.get("/me/profile", response_model=SmeProfileOut | PartnerProfileOut, responses=problem_responses(401, 404))
def my_profile(user: CurrentUser, session: SessionDep) -> SmeProfileOut | PartnerProfileOut:
    profile = service.profile_of(session, user=user)
    if profile is None:
        raise NotFound("You have no company profile yet.")
    if isinstance(profile, service.SmeProfile):
        return SmeProfileOut.model_validate(profile)
    return PartnerProfileOut.model_validate(profile)


@router.get("/smes", response_model=Page[SmeProfileOut], responses=READ_ERRORS)
def list_smes(
    _user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    sector: SectorCode | None = None,
    country: Annotated[CountryCode | None, Query(description="Target country")] = None,
    language: LanguageCode | None = None,
    q: SearchText = None,
) -> Page[SmeProfileOut]:
    items, total = service.list_profiles(
        session,
        kind=service.SME,
        sector=sector,
        country=country,
        language=language,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[SmeProfileOut](
        items=[SmeProfileOut.model_validate(p) for p in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/smes", status_code=status.HTTP_201_CREATED, response_model=SmeProfileOut, responses=WRITE_ERRORS)
def create_sme(body: SmeProfileIn, user: CurrentUser, session: SessionDep) -> SmeProfileOut:
    profile = service.create_profile(session, kind=service.SME, owner=user, data=body.model_dump())
    return SmeProfileOut.model_validate(profile)


@router.get("/smes/{profile_id}", response_model=SmeProfileOut, responses=problem_responses(401, 403, 404, 422))
def get_sme(profile_id: IdPath, user: CurrentUser, session: SessionDep) -> SmeProfileOut:
    profile = service.get_profile(session, kind=service.SME, profile_id=profile_id)
    out = SmeProfileOut.model_validate(profile)
    record_access(
        session, viewer_id=user.id, subject_user_id=profile.owner_id, what="sme_profile", object_id=profile.id
    )
    return out


@router.patch("/smes/{profile_id}", response_model=SmeProfileOut, responses=WRITE_ERRORS)
def update_sme(profile_id: IdPath, body: SmeProfileUpdate, user: CurrentUser, session: SessionDep) -> SmeProfileOut:
    profile = service.update_profile(
        session,
        kind=service.SME,
        profile_id=profile_id,
        user=user,
        changes=body.model_dump(exclude_unset=True),
    )
    return SmeProfileOut.model_validate(profile)


@router.get("/partners", response_model=Page[PartnerProfileOut], responses=READ_ERRORS)
def list_partners(
    _user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    sector: SectorCode | None = None,
    country: CountryCode | None = None,
    language: LanguageCode | None = None,
    q: SearchText = None,
) -> Page[PartnerProfileOut]:
    filters = {"sector": sector, "country": country, "language": language, "q": q}
    return service.cached_partner_page(session, filters=filters, limit=page.limit, offset=page.offset)


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=PartnerProfileOut, responses=WRITE_ERRORS)
def create_partner(body: PartnerProfileIn, user: CurrentUser, session: SessionDep) -> PartnerProfileOut:
    profile = service.create_profile(session, kind=service.PARTNER, owner=user, data=body.model_dump())
    return PartnerProfileOut.model_validate(profile)


@router.get(
    "/partners/{profile_id}",
    response_model=PartnerProfileOut,
    responses=problem_responses(401, 403, 404, 422),
)
def get_partner(profile_id: IdPath, user: CurrentUser, session: SessionDep) -> PartnerProfileOut:
    profile = service.get_profile(session, kind=service.PARTNER, profile_id=profile_id)
    out = PartnerProfileOut.model_validate(profile)
    record_access(
        session, viewer_id=user.id, subject_user_id=profile.owner_id, what="partner_profile", object_id=profile.id
    )
    return out


@router.patch("/partners/{profile_id}", response_model=PartnerProfileOut, responses=WRITE_ERRORS)
def update_partner(
    profile_id: IdPath, body: PartnerProfileUpdate, user: CurrentUser, session: SessionDep
) -> PartnerProfileOut:
    profile = service.update_profile(
        session,
        kind=service.PARTNER,
        profile_id=profile_id,
        user=user,
        changes=body.model_dump(exclude_unset=True),
    )
    return PartnerProfileOut.model_validate(profile)

"""Profile rules: one profile per account, matching the account's role; only the owner edits."""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from abb.accounts.models import Role, User
from abb.companies.models import PartnerProfile, SmeProfile
from abb.companies.schemas import PartnerProfileOut
from abb.core.cache import PARTNER_DIRECTORY_CACHE, get_cache
from abb.core.database import fetch_page
from abb.core.errors import Conflict, Forbidden, NotFound, NotOwner
from abb.core.http import Page
from abb.tasks import RECOMPUTE_PROFILE_MATCHES
from abb.tasks.dispatch import enqueue

Profile = SmeProfile | PartnerProfile


@dataclass(frozen=True)
class ProfileKind:
    """What differs between the two kinds of profile; the rules below serve both."""

    model: type[SmeProfile] | type[PartnerProfile]
    role: Role
    label: str
    country: InstrumentedAttribute[Any]
    text_columns: tuple[InstrumentedAttribute[Any], ...]


SME = ProfileKind(
    SmeProfile,
    Role.SME,
    "SME profile",
    SmeProfile.target_countries,
    (SmeProfile.company_name, SmeProfile.products, SmeProfile.city),
)
PARTNER = ProfileKind(
    PartnerProfile,
    Role.PARTNER,
    "partner profile",
    PartnerProfile.country,
    (PartnerProfile.organization_name, PartnerProfile.services, PartnerProfile.city),
)


def kind_for_role(role: Role) -> ProfileKind | None:
    return {Role.SME: SME, Role.PARTNER: PARTNER}.get(role)


def profile_of(session: Session, *, user: User) -> Profile | None:
    kind = kind_for_role(user.role)
    if kind is None:
        return None
    return typing.cast(Profile | None, session.scalar(select(kind.model).where(kind.model.owner_id == user.id)))


def create_profile(session: Session, *, kind: ProfileKind, owner: User, data: dict[str, Any]) -> Profile:
    if owner.role != kind.role:
        raise Forbidden(f"Only accounts with the role '{kind.role.value}' can create a {kind.label}.")
    if session.scalar(select(kind.model.id).where(kind.model.owner_id == owner.id)) is not None:
        raise Conflict(f"You already have a {kind.label}; edit it instead.")
    profile = kind.model(owner_id=owner.id, **data)
    session.add(profile)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"This {kind.label} conflicts with an existing one (VAT number or owner).") from exc
    _after_save(session, kind, profile)
    return profile


def get_profile(session: Session, *, kind: ProfileKind, profile_id: int) -> Profile:
    profile = typing.cast(Profile | None, session.get(kind.model, profile_id))
    if profile is None:
        raise NotFound(f"No such {kind.label}.")
    return profile


def update_profile(
    session: Session, *, kind: ProfileKind, profile_id: int, user: User, changes: dict[str, Any]
) -> Profile:
    profile = get_profile(session, kind=kind, profile_id=profile_id)
    if profile.owner_id != user.id:
        raise NotOwner(f"Only the owner can edit this {kind.label}.")
    for field, value in changes.items():
        setattr(profile, field, value)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"This change conflicts with another {kind.label}.") from exc
    _after_save(session, kind, profile)
    return profile


def _after_save(session: Session, kind: ProfileKind, profile: Profile) -> None:
    """After the commit: the directory shows the change, and the profile's matches are recomputed in the background."""
    if kind is PARTNER:
        get_cache().invalidate(PARTNER_DIRECTORY_CACHE)
    enqueue(session, RECOMPUTE_PROFILE_MATCHES, kind.role.value, profile.id)


def _json_list_contains(column: InstrumentedAttribute[Any], code: str) -> Any:
    # Codes come from fixed vocabularies (no quotes), so matching the quoted code inside the stored
    # JSON text is exact and works the same on SQLite and PostgreSQL.
    return cast(column, String).like(f'%"{code}"%')


def list_profiles(
    session: Session,
    *,
    kind: ProfileKind,
    sector: str | None = None,
    country: str | None = None,
    language: str | None = None,
    q: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Profile], int]:
    model = kind.model
    query = select(model)
    if sector:
        query = query.where(_json_list_contains(model.sectors, sector))
    if language:
        query = query.where(_json_list_contains(model.languages, language))
    if country:
        is_list = kind is SME
        query = query.where(_json_list_contains(kind.country, country) if is_list else kind.country == country)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(or_(*(func.lower(col).like(pattern, escape="\\") for col in kind.text_columns)))
    return fetch_page(session, query, model.id, limit=limit, offset=offset)


def cached_partner_page(
    session: Session, *, filters: dict[str, str | None], limit: int, offset: int
) -> Page[PartnerProfileOut]:
    """A partner directory page from the Redis cache when it holds one (the API and the web directory share it)."""

    def load() -> Page[PartnerProfileOut]:
        items, total = list_profiles(session, kind=PARTNER, **filters, limit=limit, offset=offset)
        return Page[PartnerProfileOut](
            items=[PartnerProfileOut.model_validate(p) for p in items], total=total, limit=limit, offset=offset
        )

    # Every signed-in user sees the same directory, so one cache entry serves them all.
    key = json.dumps([filters, limit, offset], sort_keys=True)
    return get_cache().fetch(PARTNER_DIRECTORY_CACHE, key, load, Page[PartnerProfileOut])

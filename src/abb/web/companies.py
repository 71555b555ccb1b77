"""Company pages: your profile (view, create, edit), the SME and partner directories, a company's profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from abb.accounts.models import Role, User
from abb.companies import service as companies
from abb.companies.schemas import PartnerProfileIn, SmeProfileIn
from abb.companies.taxonomy import LANGUAGES, PARTNER_COUNTRIES, SECTORS
from abb.core.errors import AppError
from abb.core.http import IdPath, SessionDep
from abb.web.forms import form_to_dict, validate_form
from abb.web.kit import CheckedForm, SignedInUser, page_number, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 20


@router.get("/profile", response_class=HTMLResponse)
def profile_view(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    profile = companies.profile_of(session, user=user)
    if profile is None and user.role != Role.ADMIN:
        return RedirectResponse("/profile/edit", status_code=303)
    return render(request, "profile.html", {"user": user, "profile": profile, "own": True})


def _profile_schema(user: User) -> type[SmeProfileIn] | type[PartnerProfileIn]:
    return SmeProfileIn if user.role == Role.SME else PartnerProfileIn


@router.get("/profile/edit", response_class=HTMLResponse)
def profile_edit(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    if user.role == Role.ADMIN:
        return RedirectResponse("/dashboard", status_code=303)
    profile = companies.profile_of(session, user=user)
    values = {name: getattr(profile, name) for name in _profile_schema(user).model_fields} if profile else {}
    return render(request, "profile_form.html", {"user": user, "values": values, "errors": {}, "profile": profile})


@router.post("/profile/edit", response_class=HTMLResponse)
def profile_save(request: Request, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    kind = companies.kind_for_role(user.role)
    if kind is None:
        return RedirectResponse("/dashboard", status_code=303)
    schema = _profile_schema(user)
    profile = companies.profile_of(session, user=user)
    data = form_to_dict(form, schema)
    if profile is not None and isinstance(profile, companies.SmeProfile):
        data["vat_number"] = profile.vat_number  # the VAT number identifies the company; not editable
    parsed, errors = validate_form(schema, data)
    if parsed is not None:
        try:
            if profile is None:
                companies.create_profile(session, kind=kind, owner=user, data=parsed.model_dump())
            else:
                changes = parsed.model_dump()
                changes.pop("vat_number", None)
                companies.update_profile(session, kind=kind, profile_id=profile.id, user=user, changes=changes)
        except AppError as exc:
            errors = {"form": exc.detail}
        else:
            return RedirectResponse("/profile", status_code=303)
    return render(
        request,
        "profile_form.html",
        {"user": user, "values": data, "errors": errors, "profile": profile},
        status=422,
    )


def _directory(request: Request, user: User, session: SessionDep, kind: companies.ProfileKind) -> Response:
    params = request.query_params
    filters = {
        "sector": params.get("sector") if params.get("sector") in SECTORS else None,
        "country": params.get("country") if params.get("country") in PARTNER_COUNTRIES else None,
        "language": params.get("language") if params.get("language") in LANGUAGES else None,
        "q": (params.get("q") or "").strip()[:100] or None,
    }
    page = page_number(request)
    offset = (page - 1) * PER_PAGE
    items: list[Any]
    if kind is companies.PARTNER:
        cached = companies.cached_partner_page(session, filters=filters, limit=PER_PAGE, offset=offset)
        items, total = list(cached.items), cached.total
    else:
        items, total = companies.list_profiles(session, kind=kind, limit=PER_PAGE, offset=offset, **filters)
    return render(
        request,
        "directory.html",
        {
            "user": user,
            "kind": kind.role.value,
            "items": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PER_PAGE)),
            "filters": filters,
        },
    )


@router.get("/partners", response_class=HTMLResponse)
def partner_directory(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    return _directory(request, user, session, companies.PARTNER)


@router.get("/smes", response_class=HTMLResponse)
def sme_directory(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    return _directory(request, user, session, companies.SME)


@router.get("/partners/{profile_id}", response_class=HTMLResponse)
def partner_page(request: Request, profile_id: IdPath, user: SignedInUser, session: SessionDep) -> Response:
    return _profile_page(request, user, session, companies.PARTNER, profile_id)


@router.get("/smes/{profile_id}", response_class=HTMLResponse)
def sme_page(request: Request, profile_id: IdPath, user: SignedInUser, session: SessionDep) -> Response:
    return _profile_page(request, user, session, companies.SME, profile_id)


def _profile_page(
    request: Request, user: User, session: SessionDep, kind: companies.ProfileKind, profile_id: int
) -> Response:
    profile = companies.get_profile(session, kind=kind, profile_id=profile_id)
    return render(request, "profile.html", {"user": user, "profile": profile, "own": profile.owner_id == user.id})

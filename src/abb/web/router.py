"""Web pages. They work without JavaScript; sessions use an HttpOnly cookie and forms carry a CSRF token."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from abb.accounts import service as accounts
from abb.accounts.deps import SettingsDep
from abb.accounts.models import Role, User
from abb.accounts.schemas import RegisterIn
from abb.companies import service as companies
from abb.companies.router import cached_partner_page
from abb.companies.schemas import PartnerProfileIn, SmeProfileIn
from abb.companies.taxonomy import (
    CITIES,
    LANGUAGES,
    PARTNER_COUNTRIES,
    SECTORS,
    CompanySize,
    ExportExperience,
)
from abb.core.errors import AppError
from abb.core.http import IdPath, SessionDep
from abb.web.forms import form_to_dict, validate_form

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
SESSION_COOKIE = "abb_session"
CSRF_COOKIE = "abb_csrf"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.globals.update(
    SECTORS=SECTORS,
    LANGUAGES=LANGUAGES,
    COUNTRIES=PARTNER_COUNTRIES,
    CITIES=CITIES,
    SIZES=[s.value for s in CompanySize],
    EXPERIENCE=[e.value for e in ExportExperience],
)
router = APIRouter(include_in_schema=False)


def web_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user = accounts.user_from_token(session, token=token, settings=settings, check_family=True)
    except AppError:
        return None
    request.state.user_id = user.id
    request.state.role = user.role.value
    request.app.state.rate_limits.check_user(user.id)
    return user


WebUser = Annotated[User | None, Depends(web_user)]


def _csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def render_error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status=status)


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    context = {"user": None, **context, CSRF_FIELD: _csrf_token(request)}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    new = getattr(request.state, "new_csrf", None)
    if new:
        settings = request.app.state.settings
        response.set_cookie(CSRF_COOKIE, new, httponly=True, secure=settings.cookie_secure, samesite="strict")
    return response


async def checked_form(request: Request) -> FormData:
    """The posted form, after the double-submit CSRF check; a failed check is a 403 page."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD, ""))
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed
    return form


class CsrfFailed(AppError):
    status, slug, title = 403, "csrf-failed", "The form expired; reload the page and try again"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never '//host' or a scheme, so sign-in cannot redirect elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


class SignInRequired(Exception):
    """Raised by `SignedInUser` for a visitor without a session; answered with a redirect to /login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


async def signed_in_user(request: Request, user: WebUser) -> User:
    if user is None:
        raise SignInRequired(request.url.path)
    return user


SignedInUser = Annotated[User, Depends(signed_in_user)]


async def redirect_to_sign_in(_request: Request, exc: Exception) -> Response:
    path = exc.path if isinstance(exc, SignInRequired) else "/"
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: WebUser) -> Response:
    if user:
        return RedirectResponse("/dashboard", status_code=303)
    return render(request, "home.html", {})


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, user: WebUser) -> Response:
    return render(request, "register.html", {"user": user, "values": {}, "errors": {}})


@router.post("/register", response_class=HTMLResponse)
async def register_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await checked_form(request)
    values = {k: str(form.get(k, "")) for k in ("email", "full_name", "role")}
    parsed, errors = validate_form(RegisterIn, {**values, "password": str(form.get("password", ""))})
    if parsed is not None:
        assert isinstance(parsed, RegisterIn)
        try:
            accounts.register(
                session,
                email=parsed.email,
                password=parsed.password,
                full_name=parsed.full_name,
                role=Role(parsed.role),
                settings=settings,
            )
        except AppError as exc:
            errors = {"email" if exc.status == 409 else "password": exc.detail}
        else:
            return await _start_session(request, session, settings, parsed.email, parsed.password, "/profile/edit")
    return render(request, "register.html", {"values": values, "errors": errors}, status=422)


async def _start_session(
    request: Request, session: SessionDep, settings: SettingsDep, email: str, password: str, target: str
) -> Response:
    user = accounts.authenticate(session, email=email, password=password, settings=settings)
    token, _family = accounts.issue_web_session(session, user=user, settings=settings)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.web_session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", "")).strip().lower()[:254]
    target = _safe_next(str(form.get("next", "")))
    try:
        return await _start_session(request, session, settings, email, str(form.get("password", ""))[:256], target)
    except AppError as exc:
        page = render(request, "login.html", {"next": target, "error": exc.detail, "email": email}, status=exc.status)
        page.headers.update(exc.headers)  # Retry-After on a 429
        return page


@router.post("/logout")
async def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_web_session(session, token=token, settings=settings)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    profile = companies.profile_of(session, user=user)
    return render(request, "dashboard.html", {"user": user, "profile": profile})


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
async def profile_save(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    form = await checked_form(request)
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
    try:
        page = max(1, min(int(params.get("page", "1")), 10_000))
    except ValueError:
        page = 1
    per_page = 20
    offset = (page - 1) * per_page
    items: list[Any]
    if kind is companies.PARTNER:
        cached = cached_partner_page(session, filters=filters, limit=per_page, offset=offset)
        items, total = list(cached.items), cached.total
    else:
        items, total = companies.list_profiles(session, kind=kind, limit=per_page, offset=offset, **filters)
    return render(
        request,
        "directory.html",
        {
            "user": user,
            "kind": kind.role.value,
            "items": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // per_page)),
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

"""The page kit every page module uses: templates and `render`, the CSRF-checked form, the signed-in user.

Pages work without JavaScript; sessions use an HttpOnly cookie and forms carry a CSRF token (double
submit). Page handlers are plain `def` (run in the thread pool): what must be awaited — reading the posted
form — happens in the `CheckedForm` dependency, before the handler runs.
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from abb.accounts import service as accounts
from abb.accounts.models import Role, User
from abb.companies.taxonomy import (
    CITIES,
    LANGUAGES,
    PARTNER_COUNTRIES,
    SECTORS,
    CompanySize,
    ExportExperience,
)
from abb.core.context import set_actor
from abb.core.errors import AppError
from abb.core.http import SessionDep, SettingsDep
from abb.web.i18n import apply_user_preferences, install_i18n

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
SESSION_COOKIE = "abb_session"
CSRF_COOKIE = "abb_csrf"
CSRF_FIELD = "csrf_token"
MAX_PAGE = 10_000

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals.update(
    SECTORS=SECTORS,
    LANGUAGES=LANGUAGES,
    COUNTRIES=PARTNER_COUNTRIES,
    CITIES=CITIES,
    SIZES=[s.value for s in CompanySize],
    EXPERIENCE=[e.value for e in ExportExperience],
)
install_i18n(templates.env)

_PAGE_BLOCK = re.compile(r"{%\s*block page\s*%}(.*?){%\s*endblock\s*%}")


def known_pages(directory: Path = TEMPLATES_DIR) -> frozenset[str]:
    """Every page name the templates declare (the label values of the page-timing metric); the directory
    pages name the profile kind (a role)."""
    names: set[str] = set()
    for template in directory.rglob("*.html"):
        for name in _PAGE_BLOCK.findall(template.read_text(encoding="utf-8")):
            if "{{ kind }}" in name:
                names.update(name.replace("{{ kind }}", role.value) for role in Role)
            elif "{" not in name:
                names.add(name.strip())
    return frozenset(names)


KNOWN_PAGES = known_pages()


# --- who is signed in ---------------------------------------------------------------------------------


def web_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user = accounts.user_from_token(session, token=token, settings=settings, check_family=True)
    except AppError:
        return None
    set_actor(request, user.id)
    request.state.role = user.role.value
    request.app.state.rate_limits.check_user(user.id)
    request.state.web_user = user  # an error page shows the signed-in navigation too
    apply_user_preferences(session, user)
    return user


WebUser = Annotated[User | None, Depends(web_user)]


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


# --- forms --------------------------------------------------------------------------------------------


class CsrfFailed(AppError):
    status, slug, title = 403, "csrf-failed", "The form expired; reload the page and try again"


async def checked_form(request: Request) -> FormData:
    """The posted form, after the double-submit CSRF check; a failed check is a 403 page."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD, ""))
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed
    return form


# Put it after the user in a handler's parameters: a visitor without a session is sent to sign in first.
CheckedForm = Annotated[FormData, Depends(checked_form)]


def safe_next(target: str | None, *, default: str = "/dashboard") -> str:
    """Only same-site paths: never '//host' or a scheme, so a form cannot send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def page_number(request: Request) -> int:
    """The `page` query parameter, clamped to 1..MAX_PAGE (anything unreadable is the first page)."""
    try:
        return max(1, min(int(request.query_params.get("page", "1")), MAX_PAGE))
    except ValueError:
        return 1


# --- rendering ----------------------------------------------------------------------------------------


def _csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    context = {"user": None, **context, CSRF_FIELD: _csrf_token(request)}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    new = getattr(request.state, "new_csrf", None)
    if new:
        settings = request.app.state.settings
        response.set_cookie(CSRF_COOKIE, new, httponly=True, secure=settings.cookie_secure, samesite="strict")
    return response

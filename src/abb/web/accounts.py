"""Account pages: home, register, sign in and out, the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from abb.accounts import service as accounts
from abb.accounts.schemas import RegisterIn
from abb.companies import service as companies
from abb.core.config import Settings
from abb.core.database import utcnow
from abb.core.errors import AppError
from abb.core.http import PASSWORD_HASHING_TURN, SessionDep, SettingsDep
from abb.core.i18n import gettext
from abb.web.forms import validate_form
from abb.web.kit import SESSION_COOKIE, CheckedForm, SignedInUser, WebUser, render, safe_next
from abb.web.messages import password_message

router = APIRouter(include_in_schema=False)


def _start_session(session: Session, settings: Settings, email: str, password: str, target: str) -> Response:
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


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: WebUser) -> Response:
    if user:
        return RedirectResponse("/dashboard", status_code=303)
    return render(request, "home.html", {})


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, user: WebUser) -> Response:
    return render(request, "register.html", {"user": user, "values": {}, "errors": {}})


@router.post("/register", response_class=HTMLResponse, dependencies=[PASSWORD_HASHING_TURN])
def register_submit(request: Request, form: CheckedForm, session: SessionDep, settings: SettingsDep) -> Response:
    values = {k: str(form.get(k, "")) for k in ("email", "full_name", "role")}
    parsed, errors = validate_form(RegisterIn, {**values, "password": str(form.get("password", ""))})
    if parsed is not None:
        assert isinstance(parsed, RegisterIn)
        try:
            accounts.register(session, register_in=parsed, settings=settings)
        except AppError as exc:
            if exc.status == 409:
                errors = {"email": gettext(exc.detail)}
            else:
                problem = exc.extra.get("errors", [{}])[0].get("message") if exc.status == 422 else None
                errors = {"password": password_message(problem or "")}
        else:
            return _start_session(session, settings, parsed.email, parsed.password, "/profile/edit")
    return render(request, "register.html", {"values": values, "errors": errors}, status=422)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None, "email": ""})


def _retry_message(seconds: int) -> str:
    """The lockout in the reader's language (the API's English detail says the same)."""
    at = (utcnow() + timedelta(seconds=seconds)).strftime("%H:%M:%S UTC")
    return gettext("Too many failed sign-ins: sign-in is paused. Try again in %(seconds)s s (at %(time)s).") % {
        "seconds": seconds,
        "time": at,
    }


@router.post("/login", response_class=HTMLResponse, dependencies=[PASSWORD_HASHING_TURN])
def login_submit(request: Request, form: CheckedForm, session: SessionDep, settings: SettingsDep) -> Response:
    email = str(form.get("email", "")).strip().lower()[:254]
    target = safe_next(str(form.get("next", "")))
    try:
        return _start_session(session, settings, email, str(form.get("password", ""))[:256], target)
    except AppError as exc:
        error = gettext(exc.detail) if exc.status != 429 else _retry_message(int(exc.headers["Retry-After"]))
        page = render(request, "login.html", {"next": target, "error": error, "email": email}, status=exc.status)
        page.headers.update(exc.headers)  # Retry-After on a 429
        return page


@router.post("/logout")
def logout(request: Request, _form: CheckedForm, session: SessionDep, settings: SettingsDep) -> Response:
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

"""The visitor's own account: the language switch on every page, the settings page (language, time zone,
password change) and resetting a forgotten password by e-mail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from abb.accounts import service as accounts
from abb.accounts.models import User
from abb.core.errors import AppError
from abb.core.http import PASSWORD_HASHING_TURN, SessionDep, SettingsDep
from abb.core.i18n import LOCALES, current_place, gettext, is_time_zone, supported_locale
from abb.web.i18n import COMMON_TIME_ZONES, LOCALE_COOKIE, user_time_zone
from abb.web.kit import CheckedForm, SignedInUser, WebUser, render, safe_next
from abb.web.messages import password_message

router = APIRouter(include_in_schema=False)
LOCALE_COOKIE_SECONDS = 365 * 24 * 3600


def _remember_locale(response: Response, request: Request, locale: str) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        LOCALE_COOKIE, locale, max_age=LOCALE_COOKIE_SECONDS, secure=settings.cookie_secure, samesite="lax"
    )


@router.post("/language")
def switch_language(request: Request, user: WebUser, session: SessionDep, form: CheckedForm) -> Response:
    """The switcher on every page: back to the same page in the chosen language (saved for a signed-in user)."""
    locale = supported_locale(str(form.get("locale", ""))) or current_place().locale
    if user is not None:
        accounts.set_preferences(session, user=user, locale=locale, time_zone=user.time_zone)
    response = RedirectResponse(safe_next(str(form.get("next", "")), default="/"), status_code=303)
    _remember_locale(response, request, locale)
    return response


def _settings_page(
    request: Request,
    user: User,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "settings.html",
        {
            "user": user,
            "locales": LOCALES,
            "time_zones": COMMON_TIME_ZONES,
            "time_zone": user_time_zone(session, user),
            "errors": errors or {},
            "saved": saved,
        },
        status=status,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    saved = {"preferences": gettext("Your settings are saved."), "password": gettext("Your password is changed.")}
    return _settings_page(request, user, session, saved=saved.get(request.query_params.get("saved", "")))


@router.post("/settings", response_class=HTMLResponse)
def settings_save(request: Request, user: SignedInUser, session: SessionDep, form: CheckedForm) -> Response:
    locale = supported_locale(str(form.get("locale", "")))
    time_zone = str(form.get("time_zone", "")).strip()[:64]
    if not is_time_zone(time_zone):
        errors = {"time_zone": gettext("Choose a time zone from the list.")}
        return _settings_page(request, user, session, errors=errors, status=422)
    accounts.set_preferences(session, user=user, locale=locale, time_zone=time_zone)
    response = RedirectResponse("/settings?saved=preferences", status_code=303)
    if locale:
        _remember_locale(response, request, locale)
    return response


@router.post("/settings/password", response_class=HTMLResponse, dependencies=[PASSWORD_HASHING_TURN])
def password_change(
    request: Request, user: SignedInUser, session: SessionDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """Changing the password ends every session (the service revokes them): the user signs in again."""
    current = str(form.get("current_password", ""))[:256]
    new = str(form.get("new_password", ""))[:256]
    if new != str(form.get("new_password_again", ""))[:256]:
        errors = {"new_password_again": gettext("The two new passwords differ.")}
        return _settings_page(request, user, session, errors=errors, status=422)
    try:
        accounts.change_password(session, user=user, current_password=current, new_password=new, settings=settings)
    except AppError as exc:
        if exc.status == 403:
            errors = {"current_password": gettext("The current password is wrong.")}
        else:
            problems = exc.extra.get("errors") or [{"message": exc.detail}]
            errors = {"new_password": password_message(str(problems[0]["message"]))}
        return _settings_page(request, user, session, errors=errors, status=exc.status)
    return RedirectResponse("/login?changed=1", status_code=303)


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_page(request: Request, user: WebUser) -> Response:
    return render(request, "password_forgot.html", {"user": user, "sent": False, "email": ""})


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot_submit(
    request: Request, user: WebUser, session: SessionDep, settings: SettingsDep, form: CheckedForm
) -> Response:
    """The same answer whether or not the address has an account: nobody learns who is registered."""
    email = str(form.get("email", "")).strip().lower()[:254]
    if "@" in email:
        accounts.request_password_reset(session, email=email, settings=settings)
    return render(request, "password_forgot.html", {"user": user, "sent": True, "email": email})


def _reset_page(request: Request, token: str, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    response = render(request, "password_reset.html", {"token": token, "errors": errors or {}}, status=status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token in this page's address stays here
    return response


@router.get("/password/reset", response_class=HTMLResponse)
def reset_page(request: Request, token: str = "") -> Response:
    return _reset_page(request, token[:200])


@router.post("/password/reset", response_class=HTMLResponse, dependencies=[PASSWORD_HASHING_TURN])
def reset_submit(request: Request, session: SessionDep, settings: SettingsDep, form: CheckedForm) -> Response:
    token = str(form.get("token", ""))[:200]
    new = str(form.get("new_password", ""))[:256]
    if new != str(form.get("new_password_again", ""))[:256]:
        return _reset_page(
            request, token, errors={"new_password_again": gettext("The two new passwords differ.")}, status=422
        )
    try:
        accounts.reset_password(session, token=token, new_password=new, settings=settings)
    except accounts.ResetLinkInvalid:
        return _reset_page(
            request,
            token,
            errors={"form": gettext("This reset link is invalid or has expired. Ask for a new one.")},
            status=422,
        )
    except AppError as exc:
        problems = exc.extra.get("errors") or [{"message": exc.detail}]
        errors = {"new_password": password_message(str(problems[0]["message"]))}
        return _reset_page(request, token, errors=errors, status=exc.status)
    return RedirectResponse("/login?changed=1", status_code=303)

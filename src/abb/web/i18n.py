"""Pages in the reader's language and time zone: the per-request choice, the Jinja2 i18n setup, readable labels.

The language is the signed-in user's setting, else the `abb_locale` cookie (the switcher on every page sets it),
else the browser's Accept-Language, else English. The time zone is the user's setting, else their company's
country's, else UTC. `LocaleMiddleware` decides what it can from the request alone; `apply_user_preferences`
(called by the page dependency that loads the user) adds the user's own settings.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import jinja2
from fastapi import Request
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from abb.accounts.models import Role, User
from abb.companies.taxonomy import LANGUAGES, PARTNER_COUNTRIES, SECTORS, TIME_ZONES
from abb.core.i18n import (
    DEFAULT_LOCALE,
    LOCALE_NAMES,
    LOCALES,
    Place,
    current_locale,
    current_place,
    format_clock,
    format_day,
    format_money,
    format_number,
    format_when,
    gettext,
    negotiate,
    ngettext,
    place_is_set,
    reset_place,
    set_place,
    supported_locale,
    zone_or_utc,
)
from abb.web.messages import field_label

LOCALE_COOKIE = "abb_locale"
# Offered in the settings form: the platform's countries' zones, then UTC. Any IANA name is accepted.
COMMON_TIME_ZONES = (*dict.fromkeys(TIME_ZONES.values()), "UTC")


def _(message: str) -> str:
    """Marks a label for the catalog where it is defined; `gettext` translates it where it is shown."""
    return message


# Readable names for the states pages show, by kind (the same word means different things in each).
STATE_LABELS: dict[str, dict[str, str]] = {
    "deal": {
        "draft": _("Draft"),
        "awaiting_payment": _("Awaiting payment"),
        "paid": _("Paid, awaiting settlement"),
        "settled": _("Settled"),
        "cancelled": _("Cancelled"),
        "failed": _("Payment failed"),
        "refunded": _("Refunded"),
    },
    "match": {
        "suggested": _("Suggested"),
        "accepted": _("Accepted by one side"),
        "declined": _("Declined"),
        "connected": _("Connected"),
        "closed": _("Closed"),
    },
    "decision": {"pending": _("Not decided yet"), "accepted": _("Accepted"), "declined": _("Declined")},
    "meeting": {"proposed": _("Times proposed"), "accepted": _("Agreed")},
    "factor": {
        "sector": _("Sectors in common"),
        "text": _("Products and services"),
        "country": _("Target country"),
        "language": _("Shared language"),
        "size": _("Company size"),
        "completeness": _("Profile completeness"),
        "activity": _("Recent activity"),
    },
    "enrollment": {
        "awaiting_payment": _("Seat held, awaiting payment"),
        "expired": _("Seat released (not paid in time)"),
        "enrolled": _("Enrolled"),
        "waitlisted": _("On the waiting list"),
        "cancelled": _("Cancelled"),
        "completed": _("Completed"),
    },
    "incident": {"open": _("Open"), "acknowledged": _("Acknowledged"), "resolved": _("Resolved")},
    "severity": {"low": _("Low"), "medium": _("Medium"), "high": _("High"), "critical": _("Critical")},
    "payment": {"pending": _("Pending"), "succeeded": _("Succeeded"), "failed": _("Failed")},
    "payment_method": {"stripe_card": _("Card"), "bank_transfer": _("Bank transfer")},
    "role": {"sme": _("Italian SME"), "partner": _("Partner"), "admin": _("Administrator")},
    "course_kind": {"course": _("Course"), "webinar": _("Webinar")},
    "course_level": {"beginner": _("Beginner"), "intermediate": _("Intermediate"), "advanced": _("Advanced")},
    "company_size": {
        "micro": _("Micro (fewer than 10 people)"),
        "small": _("Small (10-49 people)"),
        "medium": _("Medium (50-249 people)"),
    },
    "export_experience": {"none": _("None yet"), "occasional": _("Occasional"), "regular": _("Regular")},
    "document_kind": {
        "logo": _("Company logo (PNG or JPEG)"),
        "registration_certificate": _("Registration certificate"),
        "other": _("Other document"),
    },
}


def state_label(kind: str, value: Any) -> str:
    """'awaiting_payment' -> 'Awaiting payment' / 'In attesa di pagamento'."""
    raw = str(getattr(value, "value", value))
    label = STATE_LABELS.get(kind, {}).get(raw)
    return gettext(label) if label else raw.replace("_", " ")


def taxonomy_label(vocabulary: dict[str, str], code: str) -> str:
    """A sector, country or language name in the reader's language (the taxonomy holds the English name)."""
    return gettext(vocabulary.get(code, code))


def taxonomy_strings() -> list[str]:
    """Every name in the fixed vocabularies: the catalog must translate each (tests/test_web_i18n.py)."""
    return [*SECTORS.values(), *PARTNER_COUNTRIES.values(), *LANGUAGES.values()]


class LocaleMiddleware:
    """Sets the request's `Place` from the locale cookie or Accept-Language; answers with Content-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_value = accept = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookie_value = value.decode("latin-1")
            elif name == b"accept-language":
                accept = value.decode("latin-1")
        place = _place_from(cookie_value, accept)
        token = set_place(place)

        async def send_with_language(message: Any) -> None:
            if message["type"] == "http.response.start" and not scope.get("path", "").startswith("/api/"):
                headers = list(message.get("headers", []))
                headers.append((b"content-language", place.locale.encode()))
                headers.append((b"vary", b"Accept-Language, Cookie"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            reset_place(token)


def _place_from(cookie_header: str | None, accept_language: str | None) -> Place:
    chosen = _cookie_locale(cookie_header)
    return Place(locale=chosen or negotiate(accept_language) or DEFAULT_LOCALE, chosen_locale=chosen is not None)


def ensure_place(request: Request) -> None:
    """For a page rendered outside the middleware (the 500 handler runs after it has finished): the same choice."""
    if not place_is_set():
        set_place(_place_from(request.headers.get("cookie"), request.headers.get("accept-language")))


def _cookie_locale(header: str | None) -> str | None:
    if not header or LOCALE_COOKIE not in header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header: no choice made
        return None
    morsel = jar.get(LOCALE_COOKIE)
    return supported_locale(morsel.value) if morsel else None


def user_time_zone(session: Session, user: User) -> str:
    """The user's own time zone, else their company's country's (SMEs are Italian), else UTC."""
    if user.time_zone:
        return user.time_zone
    if user.role == Role.SME:
        return TIME_ZONES["IT"]
    if user.role == Role.PARTNER:
        from abb.companies import service as companies  # here: only partners without a setting need it

        profile = companies.profile_of(session, user=user)
        country = getattr(profile, "country", None)
        if country in TIME_ZONES:
            return TIME_ZONES[country]
    return "UTC"


def apply_user_preferences(session: Session, user: User) -> None:
    """The signed-in user's language (their setting wins) and time zone, for the rest of this request."""
    place = current_place()
    if user.locale in LOCALES:
        place.locale = user.locale
        place.chosen_locale = True
    place.time_zone = zone_or_utc(user_time_zone(session, user))


def install_i18n(env: jinja2.Environment) -> None:
    """Jinja2's i18n extension over our catalog (new-style gettext: `_("Hello %(name)s", name=...)`)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        money=format_money,
        when=format_when,
        day=format_day,
        clock=format_clock,
        number=format_number,
        state_label=state_label,
        label=taxonomy_label,
        current_locale=current_locale,
        current_place=current_place,
        LOCALE_NAMES=LOCALE_NAMES,
        field_label=field_label,
    )

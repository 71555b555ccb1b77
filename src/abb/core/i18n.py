"""Languages and places: message catalogs, the current locale and time zone, and how money, numbers and times read.

One catalog (`src/abb/locale/<lang>/LC_MESSAGES/messages.po`) serves the pages and the e-mails. It is compiled
in memory from the .po the first time a language is used, so the .po is the only copy and can never be out of
date with a compiled file. The API stays English and locale-independent: only pages and e-mails use this.

The locale and time zone in force are a context variable: the web middleware sets them for each request, an
e-mail sender for each recipient (`use_locale`). Everything stored stays UTC.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberFormatError, format_currency, format_decimal, get_currency_precision, parse_decimal
from babel.support import Translations

LOCALES = ("en", "it")
LOCALE_NAMES = {"en": "English", "it": "Italiano"}  # each in its own language: how a switcher shows them
DEFAULT_LOCALE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
UTC_ZONE = ZoneInfo("UTC")


@dataclass
class Place:
    """The language and time zone a page or an e-mail is written for. Mutable: a request's dependency that
    finds the signed-in user's own settings updates the object the middleware put in the context."""

    locale: str = DEFAULT_LOCALE
    time_zone: ZoneInfo = UTC_ZONE
    chosen_locale: bool = False  # the user or their cookie chose it (not only Accept-Language)


_place: ContextVar[Place | None] = ContextVar("abb_place", default=None)


def current_place() -> Place:
    return _place.get() or Place()


def place_is_set() -> bool:
    return _place.get() is not None


def current_locale() -> str:
    return current_place().locale


def set_place(place: Place) -> object:
    """Make `place` the current one; returns the token for `reset_place`."""
    return _place.set(place)


def reset_place(token: object) -> None:
    _place.reset(token)  # type: ignore[arg-type]


@contextmanager
def use_locale(locale: str | None, time_zone: str | None = None) -> Iterator[Place]:
    """Write in `locale` and `time_zone` inside the block (an e-mail to one recipient)."""
    place = Place(locale=supported_locale(locale) or DEFAULT_LOCALE, time_zone=zone_or_utc(time_zone))
    token = _place.set(place)
    try:
        yield place
    finally:
        _place.reset(token)


def supported_locale(value: str | None) -> str | None:
    """'it', 'it-IT', 'it_IT' -> 'it'; anything else -> None."""
    if not value:
        return None
    language = value.replace("_", "-").split("-")[0].strip().lower()
    return language if language in LOCALES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an Accept-Language header (quality values respected), or None."""
    if not accept_language:
        return None
    preferred: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            preferred.append((-quality, position, tag.strip()))
    for _q, _pos, tag in sorted(preferred):
        if tag == "*":
            return None
        found = supported_locale(tag)
        if found:
            return found
    return None


def zone_or_utc(name: str | None) -> ZoneInfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC_ZONE


def is_time_zone(name: str) -> bool:
    return name in _zone_names()


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@functools.cache
def translations(locale: str) -> gettext_module.NullTranslations:
    """The catalog for `locale`, compiled in memory from its .po (English is the source language)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT_LOCALE or not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


# Money ---------------------------------------------------------------------------------------------------------


def minor_digits(currency: str) -> int:
    """ISO 4217 minor units (CLDR's precision): 2 for EUR, USD, KES, TZS and ETB."""
    return int(get_currency_precision(currency))


_CODE_BEFORE_DIGIT = re.compile(r"([A-Z]{3})(?=\d)")


def format_money(minor: int, currency: str, *, locale: str | None = None) -> str:
    """125050 EUR -> '1.250,50 €' (it) or '€1,250.50' (en). The one way money is shown in pages and e-mails."""
    currency = str(currency)
    value = Decimal(minor).scaleb(-minor_digits(currency))
    text = str(format_currency(value, currency, locale=locale or current_locale()))
    # CLDR's currency spacing, which Babel leaves out: a code written as letters is kept apart from the digits.
    return _CODE_BEFORE_DIGIT.sub("\\1\u00a0", text)


def format_number(value: float | int | Decimal, *, locale: str | None = None) -> str:
    return str(format_decimal(value, locale=locale or current_locale()))


class AmountFormatError(ValueError):
    pass


def parse_localized_decimal(text: str, *, locale: str | None = None) -> Decimal:
    """An amount as a person types it: '1.250,50' or '1250,50' in Italian, '1,250.50' in English.

    A plain '1250.50' is accepted in every language too (what a copy from a spreadsheet or the API looks like),
    unless the locale reads it otherwise ('1.250' is one thousand two hundred and fifty in Italian).
    """
    cleaned = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    for symbol in ("€", "$", "EUR", "USD", "KES", "TZS", "ETB"):
        cleaned = cleaned.replace(symbol, "")
    if not cleaned:
        raise AmountFormatError("empty")
    try:
        return Decimal(parse_decimal(cleaned, locale=locale or current_locale(), strict=True))
    except (NumberFormatError, InvalidOperation, ValueError):
        pass
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return Decimal(cleaned)
    raise AmountFormatError(cleaned)


# Dates and times -----------------------------------------------------------------------------------------------


def to_local(moment: datetime) -> datetime:
    """A stored UTC datetime in the current time zone (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(current_place().time_zone)


def from_local(moment: datetime) -> datetime:
    """A time typed in the current time zone (naive, from a datetime-local field) as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=current_place().time_zone)
    return moment.astimezone(UTC)


def format_when(moment: datetime, *, with_zone: bool = True) -> str:
    """'1 mag 2026, 14:00' (it) / 'May 1, 2026, 2:00 PM' (en) in the current time zone, with the zone's name."""
    local = to_local(moment)
    place = current_place()
    text = f"{format_date(local, 'medium', locale=place.locale)}, {format_time(local, 'short', locale=place.locale)}"
    return f"{text} ({place.time_zone.key})" if with_zone else text


def format_day(day: date | datetime, *, style: str = "medium") -> str:
    if isinstance(day, datetime):
        day = to_local(day).date()
    return str(format_date(day, format=style, locale=current_locale()))


def format_clock(moment: datetime) -> str:
    return str(format_time(to_local(moment), format="short", locale=current_locale()))

"""Money as integer minor units, converted to and from decimal strings per ISO 4217; never float."""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Largest amount a deal may carry, in minor units: far above any real deal, far below BIGINT.
MAX_MINOR = 10**15


class Currency(enum.StrEnum):
    EUR = "EUR"
    USD = "USD"
    KES = "KES"
    TZS = "TZS"
    ETB = "ETB"


# ISO 4217 minor units (the list 1 "minor unit" column); all five currencies have two.
MINOR_UNITS: dict[Currency, int] = {
    Currency.EUR: 2,
    Currency.USD: 2,
    Currency.KES: 2,
    Currency.TZS: 2,
    Currency.ETB: 2,
}


def parse_amount(text: str, currency: Currency) -> int:
    """'1250.50' in EUR -> 125050. Raises ValueError naming what is wrong."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("must be a decimal number such as 1250.50") from exc
    if not value.is_finite():
        raise ValueError("must be a decimal number such as 1250.50")
    digits = MINOR_UNITS[currency]
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite values have an integer exponent
    if -exponent > digits:
        raise ValueError(f"{currency.value} has {digits} decimal places at most")
    minor = int(value.scaleb(digits))
    if minor <= 0:
        raise ValueError("must be greater than zero")
    if minor > MAX_MINOR:
        raise ValueError("is too large")
    return minor


def to_major(minor: int, currency: Currency) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


def format_amount(minor: int, currency: Currency) -> str:
    """125050 EUR -> '1250.50' (always the currency's number of decimal places)."""
    digits = MINOR_UNITS[currency]
    return str(to_major(minor, currency).quantize(Decimal(1).scaleb(-digits)))


def percent_of(minor: int, percent: Decimal) -> int:
    """A percentage of an amount, rounded half-even to whole minor units."""
    return int((Decimal(minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

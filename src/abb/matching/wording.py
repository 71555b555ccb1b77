"""A match's reasons, stored as facts (factor key and parameters) and put into words for one reader at display time,
in the language in force (`abb.core.i18n`): Italian pages and e-mails read Italian, the API reads English.

A reason is a small JSON-able dict, the same for both sides, e.g. {"factor": "sector", "sectors": ["agrifood"]}
or {"factor": "country", "country": "KE", "city": "Nairobi"}; 'you' is the reader, 'they' the other side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from abb.companies.taxonomy import LANGUAGES, PARTNER_COUNTRIES, SECTORS
from abb.core.i18n import gettext


def _(message: str) -> str:
    """Marks a word for the catalog where it is defined; `gettext` translates it where it is shown."""
    return message


SIZE_WORDS = {"micro": _("micro"), "small": _("small"), "medium": _("medium")}
Reason = dict[str, Any]


def reasons_of(sme: Any, partner: Any, strongest: Sequence[str], terms: Sequence[str]) -> list[Reason]:
    """The facts behind the strongest factors of a pair (engine `Profile`s), strongest first."""
    found: list[Reason] = []
    for name in strongest:
        if name == "sector":
            shared = sorted(sme.sectors & partner.sectors, key=list(SECTORS).index)[:2]
            found.append({"factor": name, "sectors": shared})
        elif name == "text":
            found.append({"factor": name, "terms": list(terms)})
        elif name == "country":
            found.append({"factor": name, "country": min(partner.countries, default=""), "city": partner.city})
        elif name == "language":
            shared = sorted(sme.languages & partner.languages, key=list(LANGUAGES).index)
            found.append({"factor": name, "languages": shared})
        elif name == "size":
            found.append({"factor": name, "sme": sme.size, "partner": partner.size})
        elif name == "completeness":
            found.append({"factor": name, "sme": sme.completeness, "partner": partner.completeness})
        else:
            found.append({"factor": "activity", "sme": sme.days_since_seen, "partner": partner.days_since_seen})
    return found


def explanation(reasons: Sequence[Reason], *, reader_is_sme: bool) -> str:
    """The reasons as one sentence for the reader, in the current language."""
    if not reasons:
        return gettext("Few points in common so far; complete your profile for better suggestions.")
    text = "; ".join(_reason(r, reader_is_sme=reader_is_sme) for r in reasons)
    return text[0].upper() + text[1:] + "."


def _and(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return gettext("%(first)s and %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}


def _names(codes: Sequence[str], vocabulary: dict[str, str]) -> list[str]:
    return [gettext(vocabulary.get(code, code)) for code in codes]


def _when(days: float | None) -> str:
    if days is None:
        return gettext("not yet")
    if days < 1:
        return gettext("today")
    if days < 7:
        return gettext("this week")
    return gettext("%(days)s days ago") % {"days": round(days)}


def _reason(reason: Reason, *, reader_is_sme: bool) -> str:
    factor = reason["factor"]
    mine, theirs = ("sme", "partner") if reader_is_sme else ("partner", "sme")
    if factor == "sector":
        return gettext("both work in %(sectors)s") % {"sectors": _and(_names(reason["sectors"], SECTORS))}
    if factor == "text":
        if not reason["terms"]:
            return gettext("similar activities")
        wording = (
            gettext("your products and their services both mention %(terms)s")
            if reader_is_sme
            else gettext("your services and their products both mention %(terms)s")
        )
        return wording % {"terms": _and(reason["terms"])}
    if factor == "country":
        country = gettext(PARTNER_COUNTRIES.get(str(reason["country"]), str(reason["country"])))
        wording = (
            gettext("you target %(country)s, they are in %(city)s")
            if reader_is_sme
            else gettext("they target %(country)s, you are in %(city)s")
        )
        return wording % {"country": country, "city": reason["city"]}
    if factor == "language":
        return gettext("both speak %(languages)s") % {"languages": _and(_names(reason["languages"], LANGUAGES))}
    if factor == "size":
        if reason["sme"] == reason["partner"]:
            return gettext("both are %(size)s companies") % {"size": _size(reason["sme"])}
        return gettext("close in size (they are %(theirs)s, you are %(yours)s)") % {
            "theirs": _size(reason[theirs]),
            "yours": _size(reason[mine]),
        }
    if factor == "completeness":
        return gettext("their profile is %(percent)s%% complete") % {"percent": round(reason[theirs] * 100)}
    return gettext("they were active %(when)s") % {"when": _when(reason[theirs])}


def _size(code: str) -> str:
    return gettext(SIZE_WORDS.get(code, code))

"""Validation errors in plain words, in the reader's language, one per field.

pydantic's messages ("String should match pattern '^(IT)?\\d{11}$'") are for developers; the API keeps them.
Pages show these instead: chosen by the error's type and its limits, with a field's own wording where the
generic one would not help (a VAT number's format).
"""

from __future__ import annotations

from typing import Any

from abb.core.errors import field_name
from abb.core.i18n import gettext


def _(message: str) -> str:
    """Marks a message for the catalog; translated with `gettext` when shown."""
    return message


# A field's own words for a format it must follow (keyed by the field's name in any form).
FIELD_FORMATS = {
    "vat_number": _("Enter the Italian VAT number: 11 digits, with or without IT in front."),
    "bank_transaction_id": _("Enter the bank's transaction id without spaces."),
    "email": _("Enter an e-mail address such as name@example.com."),
    "video_link": _("Enter the video call's address, starting with https://."),
    "website": _("Enter a web address such as https://www.example.com."),
    "amount": _("Enter an amount such as %(example)s."),
}
# The messages our own validators raise (ValueError text), in plain words.
VALUE_ERRORS = {
    "must not be in the past": _("Choose a date from today on."),
    "must be within five years": _("Choose a date within the next five years."),
    "must be a decimal number such as 1250.50": _("Enter an amount such as %(example)s."),
    "must be greater than zero": _("Enter an amount greater than zero."),
    "is too large": _("This amount is too large."),
    "the video link must start with https://": _("Enter the video call's address, starting with https://."),
    "the proposed times must differ": _("Each proposed time must be different."),
    "ends_at must be after starts_at": _("The end must come after the start."),
}
# Names of fields and parameters an error page may list (form fields show their message next to the field).
FIELD_LABELS = {
    "deal_id": _("Deal number"),
    "match_id": _("Match"),
    "meeting_id": _("Meeting number"),
    "course_id": _("Course number"),
    "document_id": _("Document number"),
    "profile_id": _("Profile number"),
    "user_id": _("User number"),
    "page": _("Page"),
    "status": _("Status"),
    "slot": _("Time"),
    "slots": _("Proposed times"),
    "amount": _("Amount"),
    "currency": _("Currency"),
    "email": _("E-mail"),
    "password": _("Password"),
    "form": _("Form"),
}
# Sentences pages pass as an error's detail, and the services' refusals a page shows most: translated when shown
# (`gettext(exc.detail)`); a refusal not listed here shows the explanation for its status only, in Italian.
PAGE_PROBLEMS = (
    _("Write a message."),
    _("Use at most 2000 characters."),
    _("Tick the box to confirm."),
    _("The form expired; reload the page and try again"),
    _("E-mail or password is wrong."),
    _("This account has been disabled."),
    _("An account with this e-mail address already exists."),
    _("Administrators cannot disable their own account."),
    _("Complete your company profile before asking to meet."),
    _("Messages are for connected matches."),
    _("Every proposed time must be in the future."),
    _("Propose times within the next year."),
    _("Only administrators can open the admin console."),
    _("Only admins reconcile bank transfers."),
    _("This match is between other companies."),
    _("SMEs ask partners to meet, and partners ask SMEs."),
    _("No such match."),
    _("No such deal."),
    _("No such course."),
    _("No such meeting."),
    _("No deal has this payment reference."),
    _("Only an agreed meeting has a calendar entry."),
    _("This meeting is already cancelled."),
    _("This meeting has already taken place."),
    _("You are already enrolled in this course."),
    _("Only PDF, PNG and JPEG files are accepted, and this file is none of them."),
    _("The file is empty."),
)
# Why a password is refused (abb.core.security.password_problem), by the start of the sentence.
PASSWORD_PROBLEMS = {
    "must be at least": _("Use at least %(count)s characters."),
    "must be at most": _("Use at most %(count)s characters."),
    "is too common": _("This password is too common; choose a less predictable one."),
    "must not contain your e-mail": _("The password must not contain your e-mail address."),
}
AMOUNT_EXAMPLE = {"en": "1,250.50", "it": "1.250,50"}


def friendly_message(error: dict[str, Any], field: str) -> str:
    """One pydantic error (from `ValidationError.errors()`) as a sentence for the person who filled the form."""
    from abb.core.i18n import current_locale

    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    example = AMOUNT_EXAMPLE.get(current_locale(), "1250.50")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return gettext("This field is required.")
    if kind == "string_too_short":
        return gettext("Enter at least %(count)s characters.") % {"count": ctx.get("min_length")}
    if kind == "string_too_long":
        return gettext("Use at most %(count)s characters.") % {"count": ctx.get("max_length")}
    if kind == "too_short":
        if ctx.get("min_length") == 1:
            return gettext("Choose at least one.")
        return gettext("Choose at least %(count)s.") % {"count": ctx.get("min_length")}
    if kind == "too_long":
        return gettext("Choose at most %(count)s.") % {"count": ctx.get("max_length")}
    if kind == "value_error":
        text = str(ctx.get("error") or error.get("msg", "")).removeprefix("Value error, ")
        if field == "email" or "email address" in text:
            return gettext(FIELD_FORMATS["email"])
        if field == "amount" and "decimal places" in text:
            return gettext("Use at most two decimal places.")
        known = VALUE_ERRORS.get(text)
        if known:
            return gettext(known) % {"example": example}
        return gettext("This value is not valid.")
    if kind in ("string_pattern_mismatch", "url_parsing", "url_scheme", "url_type") or field in FIELD_FORMATS:
        words = FIELD_FORMATS.get(field)
        if words:
            return gettext(words) % {"example": example}
        return gettext("This value is not in the expected format.")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return gettext("Enter a whole number.")
    if kind in ("greater_than_equal", "greater_than"):
        return gettext("Enter a number of at least %(limit)s.") % {"limit": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return gettext("Enter a number of at most %(limit)s.") % {"limit": ctx.get("le", ctx.get("lt"))}
    if kind.startswith("date"):
        if "time" in kind:
            return gettext("Enter a date and a time.")
        return gettext("Enter a date such as 2026-05-31.")
    if kind in ("literal_error", "enum"):
        return gettext("Choose one of the options.")
    if kind in ("timezone_aware", "timezone_naive"):
        return gettext("Enter a date and a time.")
    if kind == "extra_forbidden":
        return gettext("This field is not expected here.")
    return gettext("This value is not valid.")


def field_errors(errors: list[dict[str, Any]]) -> dict[str, str]:
    """{field: first message}, field being the top-level name a form uses ('slots', not 'slots[0]')."""
    messages: dict[str, str] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        full = field_name(("body", *loc)) if loc and loc[0] not in ("body", "query", "path") else field_name(loc)
        field = full.split(".")[0].split("[")[0] or "form"
        messages.setdefault(field, friendly_message(error, field))
    return messages


def password_message(problem: str) -> str:
    """A refused password's reason ('must be at least 12 characters long') in the reader's language."""
    count = next((word for word in problem.split() if word.isdigit()), "")
    for start, words in PASSWORD_PROBLEMS.items():
        if problem.startswith(start):
            return gettext(words) % {"count": count}
    return gettext("Choose another password.")


def field_label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return gettext(label) if label else field.replace("_", " ").capitalize()

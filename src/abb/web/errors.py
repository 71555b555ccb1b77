"""Error pages for browsers: the site's layout, the problem in the reader's language, each field's problem, a way back.

`abb.core.errors` decides who gets a page (a browser on a web page) and who gets problem+json (the API, machines);
this renders the page. An error never shows library wording, a stack trace or request data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from abb.core.i18n import current_locale, gettext
from abb.web.i18n import ensure_place
from abb.web.kit import render
from abb.web.messages import field_errors


def _(message: str) -> str:
    return message


# (title, explanation) per status, in words a visitor understands.
STATUS_TEXTS: dict[int, tuple[str, str]] = {
    400: (_("The request could not be understood"), _("Something in the address or the form was not as expected.")),
    401: (_("Please sign in"), _("Sign in to see this page.")),
    403: (_("Not allowed"), _("Your account cannot see this page or do this action.")),
    404: (
        _("Page not found"),
        _("We cannot find what you are looking for. The link may be old or mistyped."),
    ),
    405: (_("Not possible here"), _("This page cannot be used this way.")),
    409: (_("Not possible now"), _("This cannot be done in the current state. Reload the page to see the latest.")),
    413: (
        _("Too large"),
        _("What you sent is larger than we accept. Choose a smaller file or shorten the text."),
    ),
    415: (_("File type not accepted"), _("Please send one of the file types the form lists.")),
    422: (_("Please check what you entered"), _("Some fields need a change:")),
    429: (_("Too many attempts"), _("Please wait a moment, then try again.")),
    500: (
        _("Something went wrong on our side"),
        _("We have recorded the error. Please try again in a moment."),
    ),
    503: (
        _("Temporarily unavailable"),
        _("The service is busy or a part of it is not answering. Please try again in a moment."),
    ),
}


def _back_link(request: Request) -> str | None:
    """The page the visitor came from, when it is one of ours (never another site, never this same page)."""
    referer = request.headers.get("referer", "")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.headers.get("host", ""):
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or parts.path == request.url.path:
        return None
    return path


def render_error_page(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    validation_errors: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    ensure_place(request)
    heading, explanation = STATUS_TEXTS.get(status, (title, ""))
    translated_detail = gettext(detail)
    # A service's own sentence is shown when it exists in the reader's language (English is the source).
    show_detail = detail and (current_locale() == "en" or translated_detail != detail) and status != 500
    fields = field_errors(validation_errors) if validation_errors else {}
    return render(
        request,
        "error.html",
        {
            "user": getattr(request.state, "web_user", None),
            "status": status,
            "title": gettext(heading),
            "explanation": gettext(explanation) if explanation else "",
            "detail": translated_detail if show_detail and not fields else "",
            "fields": fields,
            "back": _back_link(request),
        },
        status=status,
    )

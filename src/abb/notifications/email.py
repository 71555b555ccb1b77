"""Compose e-mails from Jinja2 templates and send them over SMTP (standard library smtplib)."""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from abb.core.config import Settings
from abb.core.i18n import gettext, ngettext

# Bodies are written in the recipient's language: compose inside `abb.core.i18n.use_locale(user.locale, ...)`.
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,  # noqa: S701 - plain-text bodies, never rendered as HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.i18n"],
)
TEMPLATES.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]


def compose(
    settings: Settings, *, to: str, subject: str, template: str, message_id: str, **context: Any
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    # A stable id: should a message ever go out twice, mail clients see one conversation item.
    message["Message-ID"] = f"<{message_id}@{sender_domain(settings)}>"
    message.set_content(TEMPLATES.get_template(template).render(base_url=settings.public_base_url, **context))
    return message


def sender_domain(settings: Settings) -> str:
    _name, address = parseaddr(settings.smtp_from)
    return Address(addr_spec=address).domain if "@" in address else "localhost"


def smtp_connection(settings: Settings) -> smtplib.SMTP:
    """An open, authenticated SMTP connection (use it as a context manager)."""
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp

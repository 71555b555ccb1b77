"""New-match e-mails: one per recipient, each match announced to each person at most once.

What was sent is recorded (`match_notifications`) right after the SMTP server accepted the message, so a
retried or repeated task skips it. The one gap no mail system closes: a worker killed between the SMTP
server's acceptance and that commit sends the message again on retry, with the same Message-ID.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from abb.accounts.models import User
from abb.companies.taxonomy import PARTNER_COUNTRIES
from abb.core.config import Settings
from abb.core.i18n import gettext, ngettext, use_locale
from abb.matching.models import Match, MatchStatus, Side
from abb.matching.schemas import counterpart
from abb.notifications.email import compose, smtp_connection
from abb.notifications.models import MatchNotification

log = logging.getLogger("abb.notifications")
ANNOUNCED_STATES = (MatchStatus.SUGGESTED, MatchStatus.ACCEPTED)  # a declined or closed match is no news


@dataclass(frozen=True)
class _Item:
    match: Match
    side: Side  # the recipient's side of the match


def send_new_match_emails(session: Session, *, match_ids: Sequence[int], settings: Settings) -> int:
    """E-mail each party of these matches about the ones not yet announced to them; return e-mails sent.

    SMTP errors propagate (the task retries); pairs already announced are never sent again.
    """
    pending = _pending_by_user(session, match_ids)
    if not pending:
        return 0
    if not settings.smtp_host:
        log.info("no SMTP server configured (ABB_SMTP_HOST): %d new-match e-mails not sent", len(pending))
        return 0
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(pending), User.is_active.is_(True)))}
    sent = 0
    with smtp_connection(settings) as smtp:
        for user_id, items in sorted(pending.items()):
            user = users.get(user_id)
            if user is None:
                continue
            ids = sorted(item.match.id for item in items)
            message_id = "new-matches." + hashlib.sha256(f"{user_id}:{ids}".encode()).hexdigest()[:24]
            with use_locale(user.locale, user.time_zone):
                message = compose(
                    settings,
                    to=user.email,
                    subject=_subject(len(items)),
                    template="new_matches.txt",
                    message_id=message_id,
                    name=user.full_name,
                    company=_own_company(items[0]),
                    matches=[_line(item) for item in sorted(items, key=lambda i: -i.match.score)],
                )
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                # This address is refused for good; the others still get theirs (other errors retry the task).
                log.warning("new-match e-mail to user %d refused by the mail server: %s", user_id, exc.recipients)
                continue
            sent += 1
            _record(session, user_id=user_id, match_ids=ids, message_id=message["Message-ID"])
    log.info("new-match e-mails sent: %d", sent)
    return sent


def _pending_by_user(session: Session, match_ids: Sequence[int]) -> dict[int, list[_Item]]:
    matches = session.scalars(
        select(Match).where(Match.id.in_(match_ids), Match.status.in_(ANNOUNCED_STATES)).order_by(Match.id)
    ).unique()
    announced = {
        (match_id, user_id)
        for match_id, user_id in session.execute(
            select(MatchNotification.match_id, MatchNotification.user_id).where(
                MatchNotification.match_id.in_(match_ids)
            )
        )
    }
    pending: dict[int, list[_Item]] = defaultdict(list)
    for match in matches:
        for side, owner_id in ((Side.SME, match.sme.owner_id), (Side.PARTNER, match.partner.owner_id)):
            if (match.id, owner_id) not in announced:
                pending[owner_id].append(_Item(match, side))
    return pending


def _record(session: Session, *, user_id: int, match_ids: list[int], message_id: str) -> None:
    session.add_all(MatchNotification(match_id=m, user_id=user_id, message_id=message_id) for m in match_ids)
    try:
        session.commit()
    except IntegrityError:
        # Another run announced some of these meanwhile; its record stands.
        session.rollback()
        log.warning("new-match e-mail to user %d overlapped with another run", user_id)


def _subject(count: int) -> str:
    return ngettext("A new match on Africa Business Bridge", "%(num)d new matches on Africa Business Bridge", count) % {
        "num": count
    }


def _own_company(item: _Item) -> str:
    return item.match.sme.company_name if item.side is Side.SME else item.match.partner.organization_name


def _line(item: _Item) -> dict[str, object]:
    other = counterpart(item.match, Side.PARTNER if item.side is Side.SME else Side.SME)
    country = (
        gettext("Italy") if other.country == "IT" else gettext(PARTNER_COUNTRIES.get(other.country, other.country))
    )
    return {
        "id": item.match.id,
        "counterpart": other.name,
        "place": f"{other.city}, {country}",
        "score": round(item.match.score),
        "explanation": item.match.explanation_in_current_language(item.side),
    }


def send_password_reset_email(session: Session, *, reset_id: int, settings: Settings) -> bool:
    """E-mail the reset link of a pending reset, in its user's language; False when there is nothing to send."""
    from abb.accounts.service import issue_reset_token

    if not settings.smtp_host:
        log.info("no SMTP server configured (ABB_SMTP_HOST): password-reset e-mail %d not sent", reset_id)
        return False
    issued = issue_reset_token(session, reset_id=reset_id, settings=settings)
    if issued is None:
        return False
    user, token = issued
    with use_locale(user.locale, user.time_zone):
        message = compose(
            settings,
            to=user.email,
            subject=gettext("Reset your Africa Business Bridge password"),
            template="password_reset.txt",
            message_id=f"password-reset.{reset_id}.{hashlib.sha256(token.encode()).hexdigest()[:12]}",
            name=user.full_name,
            link=f"{settings.public_base_url}/password/reset?token={token}",
            minutes=settings.password_reset_minutes,
        )
    with smtp_connection(settings) as smtp:
        smtp.send_message(message)
    log.info("password-reset e-mail sent", extra={"user.id": user.id})
    return True


def send_match_message_email(session: Session, *, message_id: int, settings: Settings) -> bool:
    """E-mail a message on a match to the other side, in their language; False when nothing was sent."""
    from abb.matching.models import MatchMessage

    if not settings.smtp_host:
        log.info("no SMTP server configured (ABB_SMTP_HOST): match message %d not e-mailed", message_id)
        return False
    message = session.get(MatchMessage, message_id)
    match = session.get(Match, message.match_id) if message else None
    if message is None or match is None:
        return False
    reader_side = Side.PARTNER if message.author_side is Side.SME else Side.SME
    reader = session.get(User, match.partner.owner_id if reader_side is Side.PARTNER else match.sme.owner_id)
    if reader is None or not reader.is_active:
        return False
    sender = counterpart(match, message.author_side)
    with use_locale(reader.locale, reader.time_zone):
        mail = compose(
            settings,
            to=reader.email,
            subject=gettext("A message from %(company)s") % {"company": sender.name},
            template="match_message.txt",
            message_id=f"match-message.{message.id}",
            name=reader.full_name,
            company=sender.name,
            body=message.body,
            match_id=match.id,
        )
    with smtp_connection(settings) as smtp:
        smtp.send_message(mail)
    return True

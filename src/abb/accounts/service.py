"""Account rules: registration, sign-in, token rotation and revocation, admin actions.

Service functions are keyword-only and take the session; they commit their own unit of work.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from abb.accounts.models import PasswordReset, RefreshToken, Role, User
from abb.accounts.schemas import RegisterIn
from abb.core.config import Settings
from abb.core.database import fetch_page, utcnow
from abb.core.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from abb.core.security import (
    decode_jwt,
    encode_jwt,
    hash_password,
    new_opaque_token,
    password_problem,
    token_digest,
    verify_password,
)
from abb.observability import business as business_metrics
from abb.security.bruteforce import LoginGuard
from abb.security.events import current_caller, emit
from abb.security.metrics import LOGIN_ATTEMPTS

ACCESS = "access"
log = logging.getLogger(__name__)
# Access tokens are checked against the database on each request; recording activity more often
# than this would turn every read into a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
# The windows of the abb_active_users gauge.
ACTIVE_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    family_id: str
    expires_in: int


def _check_password(password: str, *, email: str, settings: Settings, field: str = "password") -> None:
    problem = password_problem(password, min_length=settings.password_min_length, email=email)
    if problem:
        raise Unprocessable(
            f"The {field.replace('_', ' ')} {problem}.",
            extra={"errors": [{"field": field, "message": problem, "code": "weak_password"}]},
        )


def register(session: Session, *, register_in: RegisterIn, settings: Settings) -> User:
    """A new account; `register_in` is a RegisterIn, or an AdminCreateUserIn (which may make admins)."""
    email, password = register_in.email, register_in.password
    _check_password(password, email=email, settings=settings)
    # Hashed before the transaction begins: no lock (SQLite: the write lock) is held while Argon2 runs.
    password_hash = hash_password(password, settings=settings)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this e-mail address already exists.")
    user = User(email=email, password_hash=password_hash, full_name=register_in.full_name, role=Role(register_in.role))
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent registration won the race
        session.rollback()
        raise Conflict("An account with this e-mail address already exists.") from exc
    business_metrics.record_registration(user.role.value)
    return user


def authenticate(session: Session, *, email: str, password: str, settings: Settings) -> User:
    """Check a sign-in, behind the brute-force guard (security/bruteforce.py); every attempt is an event."""
    guard = LoginGuard(settings)
    ip = current_caller().ip
    guard.check(session, email=email, ip=ip)
    user = session.scalar(select(User).where(User.email == email))
    session.commit()  # the read ends before the slow hash check: no transaction (or SQLite write lock) waits on it
    if not verify_password(user.password_hash if user else None, password, settings=settings) or user is None:
        LOGIN_ATTEMPTS.labels("failure", "bad_credentials").inc()
        guard.failed(
            session,
            email=email,
            ip=ip,
            user_id=user.id if user else None,
            reason="unknown_account" if user is None else "bad_password",
        )
        raise Unauthorized("E-mail or password is wrong.")
    if not user.is_active:
        LOGIN_ATTEMPTS.labels("failure", "disabled").inc()
        emit("authentication", "login", "failure", user_id=user.id, reason="disabled")
        raise Forbidden("This account has been disabled.")
    guard.succeeded(email=email)
    LOGIN_ATTEMPTS.labels("success", "ok").inc()
    emit("authentication", "login", "success", user_id=user.id)
    return user


def _access_token(user: User, settings: Settings, family_id: str, lifetime: timedelta | None = None) -> str:
    """The one place an access token's claims are written (API tokens; browser sessions, with their lifetime)."""
    return encode_jwt(
        {
            "sub": str(user.id),
            "typ": ACCESS,
            "ver": user.token_version,
            "fam": family_id,
            "role": user.role.value,
        },
        secret=settings.secret_key.get_secret_value(),
        lifetime=lifetime or timedelta(minutes=settings.access_token_minutes),
    )


def _new_refresh(session: Session, *, user: User, family_id: str, settings: Settings) -> str:
    raw = new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=token_digest(raw),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    return raw


def issue_tokens(session: Session, *, user: User, settings: Settings) -> TokenPair:
    family_id = secrets.token_hex(16)
    refresh = _new_refresh(session, user=user, family_id=family_id, settings=settings)
    session.commit()
    return TokenPair(_access_token(user, settings, family_id), refresh, family_id, settings.access_token_minutes * 60)


def issue_web_session(session: Session, *, user: User, settings: Settings) -> tuple[str, str]:
    """A browser session: a token family like an API sign-in, carried in a cookie (never shown to JS)."""
    family_id = secrets.token_hex(16)
    _new_refresh(session, user=user, family_id=family_id, settings=settings)
    session.commit()
    return _access_token(user, settings, family_id, timedelta(hours=settings.web_session_hours)), family_id


def end_web_session(session: Session, *, token: str, settings: Settings) -> None:
    try:
        claims = decode_jwt(token, secret=settings.secret_key.get_secret_value(), expected_type=ACCESS)
    except Unauthorized:
        return
    revoke_family(session, family_id=str(claims.get("fam", "")))
    session.commit()
    emit(
        "authentication",
        "logout",
        "success",
        user_id=int(claims["sub"]) if str(claims.get("sub", "")).isdigit() else None,
    )


def revoke_family(session: Session, *, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_for_user(session: Session, *, user: User) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    user.token_version += 1


def rotate_refresh(session: Session, *, refresh_token: str, settings: Settings) -> TokenPair:
    stored = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token)))
    if stored is None or stored.revoked_at is not None or stored.expires_at <= utcnow():
        emit(
            "authentication",
            "token.refresh",
            "failure",
            user_id=stored.user_id if stored else None,
            reason="revoked" if stored is not None and stored.revoked_at is not None else "invalid",
        )
        raise Unauthorized("The refresh token is not valid.")
    if stored.rotated_at is not None:
        # A rotated token came back: someone holds a copy. Revoke the whole family.
        revoke_family(session, family_id=stored.family_id)
        session.commit()
        emit("authentication", "token.reuse", "failure", user_id=stored.user_id, family=stored.family_id[:8])
        raise Unauthorized("The refresh token was already used; all sessions from that sign-in are revoked.")
    user = session.get(User, stored.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The refresh token is not valid.")
    stored.rotated_at = utcnow()
    refresh = _new_refresh(session, user=user, family_id=stored.family_id, settings=settings)
    session.commit()
    emit("authentication", "token.refresh", "success", user_id=user.id)
    return TokenPair(
        _access_token(user, settings, stored.family_id),
        refresh,
        stored.family_id,
        settings.access_token_minutes * 60,
    )


def logout(session: Session, *, refresh_token: str) -> None:
    stored = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_digest(refresh_token)))
    if stored is None:
        raise Unauthorized("The refresh token is not valid.")
    revoke_family(session, family_id=stored.family_id)
    session.commit()
    emit("authentication", "logout", "success", user_id=stored.user_id)


def family_is_active(session: Session, *, family_id: str) -> bool:
    now = utcnow()
    return (
        session.scalar(
            select(RefreshToken.id)
            .where(
                RefreshToken.family_id == family_id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .limit(1)
        )
        is not None
    )


def user_from_token(session: Session, *, token: str, settings: Settings, check_family: bool = False) -> User:
    claims = decode_jwt(token, secret=settings.secret_key.get_secret_value(), expected_type=ACCESS)
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("The token is not valid.") from exc
    user = session.get(User, user_id)
    if user is None or user.token_version != claims.get("ver"):
        raise Unauthorized("The token is no longer valid.")
    if not user.is_active:
        raise Forbidden("This account has been disabled.")
    if check_family and not family_is_active(session, family_id=str(claims.get("fam", ""))):
        raise Unauthorized("The session has ended.")
    _record_activity(session, user=user)
    return user


def _record_activity(session: Session, *, user: User) -> None:
    """Best effort: losing one activity stamp to a concurrent writer must never fail the request."""
    now = utcnow()
    if user.last_seen_at is not None and now - user.last_seen_at <= LAST_SEEN_RESOLUTION:
        return
    try:
        # Activity is not an edit of the account: updated_at keeps its value.
        session.execute(update(User).where(User.id == user.id).values(last_seen_at=now, updated_at=User.updated_at))
        session.commit()
    except OperationalError:  # e.g. SQLite's "database is locked" when first requests race
        session.rollback()
        log.info("activity stamp skipped: the database was busy", extra={"user.id": user.id})
        return
    user.last_seen_at = now


def change_password(
    session: Session, *, user: User, current_password: str, new_password: str, settings: Settings
) -> None:
    session.commit()  # no transaction held while Argon2 verifies and hashes
    if not verify_password(user.password_hash, current_password, settings=settings):
        emit("iam", "password.change", "failure", user_id=user.id, reason="wrong_current_password")
        raise Forbidden("The current password is wrong.")
    _check_password(new_password, email=user.email, settings=settings, field="new_password")
    user.password_hash = hash_password(new_password, settings=settings)
    revoke_all_for_user(session, user=user)
    session.commit()
    emit("iam", "password.change", "success", user_id=user.id)


def list_users(
    session: Session, *, q: str | None, role: Role | None, active: bool | None, limit: int, offset: int
) -> tuple[list[User], int]:
    query = select(User)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(pattern), func.lower(User.full_name).like(pattern)))
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active == active)
    return fetch_page(session, query, User.id, limit=limit, offset=offset)


def set_active(session: Session, *, admin: User, user_id: int, active: bool, reason: str | None = None) -> User:
    """Disable or enable an account (the API and the admin pages); the reason is kept on the account."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.id == admin.id and not active:
        raise Conflict("Administrators cannot disable their own account.")
    if user.is_active == active:
        raise Conflict(f"The account is already {'active' if active else 'disabled'}.")
    user.is_active = active
    user.status_reason = (reason or "").strip()[:500] or None
    user.status_changed_at = utcnow()
    if not active:
        revoke_all_for_user(session, user=user)
    session.commit()
    log.info(
        "account %s by an administrator",
        "enabled" if active else "disabled",
        extra={"user.id": user.id, "admin.id": admin.id},
    )
    emit(
        "iam",
        "admin.user_enable" if active else "admin.user_disable",
        "success",
        user_id=admin.id,
        entity_type="users",
        entity_id=user.id,
    )
    return user


def active_users_by_window(connection: Connection) -> dict[str, int]:
    """Distinct users seen within each of ACTIVE_WINDOWS (the abb_active_users gauge)."""
    now = utcnow()
    return {
        window: connection.scalar(select(func.count()).select_from(User).where(User.last_seen_at >= now - span)) or 0
        for window, span in ACTIVE_WINDOWS.items()
    }


def set_preferences(session: Session, *, user: User, locale: str | None, time_zone: str | None) -> User:
    """The user's language and time zone for pages and e-mails (None: from the browser and the company)."""
    user.locale = locale
    user.time_zone = time_zone
    session.commit()
    return user


class ResetLinkInvalid(Unprocessable):
    slug, title = "reset-link-invalid", "This reset link is invalid or has expired"


def request_password_reset(session: Session, *, email: str, settings: Settings) -> None:
    """Start a reset for the account with this e-mail, if there is an active one; the caller says the same
    either way (no account enumeration). The e-mail task makes the link, so no token travels through a broker
    and the answer takes as long whether or not the account exists (nothing is sent from the request)."""
    from abb.tasks import SEND_PASSWORD_RESET  # here: accounts is imported by the task modules
    from abb.tasks.dispatch import enqueue

    user = session.scalar(select(User).where(User.email == email.strip().lower(), User.is_active.is_(True)))
    if user is None:
        return
    pause = utcnow() - timedelta(seconds=settings.password_reset_pause_seconds)
    recent = select(PasswordReset.id).where(PasswordReset.user_id == user.id, PasswordReset.created_at > pause)
    if session.scalar(recent.limit(1)) is not None:
        return  # one e-mail per pause: a form submitted in a loop does not flood the inbox
    reset = PasswordReset(user_id=user.id)
    session.add(reset)
    session.commit()
    enqueue(session, SEND_PASSWORD_RESET, reset.id)


def issue_reset_token(session: Session, *, reset_id: int, settings: Settings) -> tuple[User, str] | None:
    """The link's token for a pending reset (for its e-mail), replacing the user's earlier ones; None when the
    reset was used meanwhile. A retried e-mail gets a new token: only the last one sent works."""
    reset = session.get(PasswordReset, reset_id)
    if reset is None or reset.used_at is not None:
        return None
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        return None
    _close_open_resets(session, user_id=user.id, keep=reset.id)
    token = new_opaque_token()
    reset.token_hash = token_digest(token)
    reset.expires_at = utcnow() + timedelta(minutes=settings.password_reset_minutes)
    session.commit()
    return user, token


def reset_password(session: Session, *, token: str, new_password: str, settings: Settings) -> User:
    """Set a new password with a reset link's token: once, before it expires. Every session of the user ends."""
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_digest(token)))
    now = utcnow()
    if reset is None or reset.used_at is not None or reset.expires_at is None or reset.expires_at <= now:
        raise ResetLinkInvalid("This reset link is invalid or has expired. Ask for a new one.")
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise ResetLinkInvalid("This reset link is invalid or has expired. Ask for a new one.")
    _check_password(new_password, email=user.email, settings=settings, field="new_password")
    # Claimed with a conditional update: two tabs submitting the same link cannot both succeed.
    claimed = session.execute(
        update(PasswordReset).where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ResetLinkInvalid("This reset link is invalid or has expired. Ask for a new one.")
    user.password_hash = hash_password(new_password, settings=settings)
    revoke_all_for_user(session, user=user)
    _close_open_resets(session, user_id=user.id, keep=None)
    session.commit()
    return user


def _close_open_resets(session: Session, *, user_id: int, keep: int | None) -> None:
    query = update(PasswordReset).where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
    if keep is not None:
        query = query.where(PasswordReset.id != keep)
    session.execute(query.values(used_at=utcnow()))


def users_by_id(session: Session, *, user_ids: list[int]) -> list[User]:
    if not user_ids:
        return []
    return list(session.scalars(select(User).where(User.id.in_(set(user_ids)))))

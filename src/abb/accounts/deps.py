"""Who is calling: annotated dependencies for routers (`CurrentUser`, `AdminUser`, `SmeUser`, `PartnerUser`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from abb.accounts import service
from abb.accounts.models import Role, User
from abb.core.context import set_actor
from abb.core.errors import Forbidden, Unauthorized
from abb.core.http import SessionDep, SettingsDep

_bearer = HTTPBearer(auto_error=False)


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an access token as 'Authorization: Bearer <token>'.")
    user = service.user_from_token(session, token=credentials.credentials, settings=settings)
    set_actor(request, user.id)
    request.state.role = user.role.value
    request.app.state.rate_limits.check_user(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    async def _check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"This action needs the role {' or '.join(r.value for r in roles)}.")
        return user

    return _check


AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
SmeUser = Annotated[User, Depends(require_role(Role.SME))]
PartnerUser = Annotated[User, Depends(require_role(Role.PARTNER))]

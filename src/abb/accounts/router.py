from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from abb.accounts import service
from abb.accounts.deps import AdminUser, CurrentUser
from abb.accounts.models import Role
from abb.accounts.schemas import (
    AccountStatusIn,
    AdminCreateUserIn,
    LoginIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    TokenOut,
    UserOut,
)
from abb.core.http import PASSWORD_HASHING_TURN, IdPath, Page, PageDep, SessionDep, SettingsDep
from abb.core.openapi import problem_responses

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def _tokens(pair: service.TokenPair) -> TokenOut:
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=problem_responses(400, 409, 413, 422),
    dependencies=[PASSWORD_HASHING_TURN],
)
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserOut:
    return UserOut.model_validate(service.register(session, register_in=body, settings=settings))


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses=problem_responses(400, 401, 403, 422),
    dependencies=[PASSWORD_HASHING_TURN],
)
def login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    user = service.authenticate(session, email=body.email, password=body.password, settings=settings)
    return _tokens(service.issue_tokens(session, user=user, settings=settings))


@router.post("/auth/refresh", response_model=TokenOut, responses=problem_responses(400, 401, 422))
def refresh(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    return _tokens(service.rotate_refresh(session, refresh_token=body.refresh_token, settings=settings))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400, 401, 422))
def logout(body: RefreshIn, session: SessionDep) -> Response:
    service.logout(session, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 403, 422),
    dependencies=[PASSWORD_HASHING_TURN],
)
def change_password(body: PasswordChangeIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    service.change_password(
        session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        settings=settings,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut, responses=problem_responses(401, 403))
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/admin/users", response_model=Page[UserOut], responses=problem_responses(401, 403, 422))
def list_users(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of the e-mail or name")] = None,
    role: Role | None = None,
    active: bool | None = None,
) -> Page[UserOut]:
    users, total = service.list_users(session, q=q, role=role, active=active, limit=page.limit, offset=page.offset)
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in users], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/admin/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=problem_responses(400, 401, 403, 409, 422),
    dependencies=[PASSWORD_HASHING_TURN],
)
def create_user(body: AdminCreateUserIn, _admin: AdminUser, session: SessionDep, settings: SettingsDep) -> UserOut:
    return UserOut.model_validate(service.register(session, register_in=body, settings=settings))


@router.post(
    "/admin/users/{user_id}/disable",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def disable_user(
    user_id: IdPath, admin: AdminUser, session: SessionDep, body: AccountStatusIn | None = None
) -> UserOut:
    reason = body.reason if body else None
    return UserOut.model_validate(
        service.set_active(session, admin=admin, user_id=user_id, active=False, reason=reason)
    )


@router.post(
    "/admin/users/{user_id}/enable",
    response_model=UserOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def enable_user(user_id: IdPath, admin: AdminUser, session: SessionDep, body: AccountStatusIn | None = None) -> UserOut:
    reason = body.reason if body else None
    return UserOut.model_validate(service.set_active(session, admin=admin, user_id=user_id, active=True, reason=reason))

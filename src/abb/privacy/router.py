"""The data subject's rights over HTTP (`/api/v1/me/...`) and the admins' view of the access log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import case, func, select

from abb.accounts.deps import AdminUser, CurrentUser, SettingsDep
from abb.accounts.models import RefreshToken
from abb.accounts.schemas import UserOut
from abb.accounts.service import revoke_family
from abb.core.database import utcnow
from abb.core.errors import NotFound
from abb.core.http import PASSWORD_HASHING_TURN, Page, PageDep, SessionDep
from abb.core.openapi import problem_responses
from abb.core.security import decode_jwt
from abb.privacy import service
from abb.privacy.schemas import AccessOut, ConsentIn, ConsentOut, CorrectionIn, ErasureIn, SessionOut
from abb.security.events import emit
from abb.uploads.deps import StorageDep

router = APIRouter(prefix="/api/v1", tags=["privacy"])


@router.get("/me/data", responses=problem_responses(401, 403))
def export_my_data(user: CurrentUser, session: SessionDep) -> JSONResponse:
    """All personal data held about you, as JSON (GDPR Art. 15 and 20)."""
    return JSONResponse(
        service.export(session, user=user),
        headers={"Content-Disposition": f'attachment; filename="abb-personal-data-{user.id}.json"'},
    )


@router.patch("/me", response_model=UserOut, responses=problem_responses(400, 401, 403, 422))
def correct_me(body: CorrectionIn, user: CurrentUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(service.correct(session, user=user, full_name=body.full_name))


@router.post(
    "/me/erasure",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 403, 409, 422),
    dependencies=[PASSWORD_HASHING_TURN],
)
def erase_me(
    body: ErasureIn, user: CurrentUser, session: SessionDep, storage: StorageDep, settings: SettingsDep
) -> Response:
    service.erase(session, user=user, password=body.password, storage=storage, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/consents", response_model=list[ConsentOut], responses=problem_responses(401, 403))
def my_consents(user: CurrentUser, session: SessionDep) -> list[ConsentOut]:
    return [ConsentOut.model_validate(c) for c in service.consents(session, user=user)]


@router.post(
    "/me/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentOut,
    responses=problem_responses(400, 401, 403, 422),
)
def give_consent(body: ConsentIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> ConsentOut:
    version = body.version or settings.terms_version
    return ConsentOut.model_validate(
        service.record_consent(session, user=user, purpose=body.purpose, granted=body.granted, version=version)
    )


@router.get("/me/data-access", response_model=Page[AccessOut], responses=problem_responses(401, 403, 422))
def my_data_access(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[AccessOut]:
    """Who viewed your profile or documents."""
    items, total = service.access_log(session, subject_user_id=user.id, limit=page.limit, offset=page.offset)
    return Page[AccessOut](
        items=[AccessOut.model_validate(i) for i in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/admin/data-access", response_model=Page[AccessOut], responses=problem_responses(401, 403, 422))
def data_access(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    subject_user_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[AccessOut]:
    items, total = service.access_log(session, subject_user_id=subject_user_id, limit=page.limit, offset=page.offset)
    return Page[AccessOut](
        items=[AccessOut.model_validate(i) for i in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/me/sessions", response_model=list[SessionOut], responses=problem_responses(401, 403))
def my_sessions(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> list[SessionOut]:
    """Signed-in sessions (API sign-ins and browsers): one per token family that is still valid."""
    now = utcnow()
    bearer = request.headers.get("authorization", "")[7:].strip()
    token_family = decode_jwt(bearer, secret=settings.secret_key.get_secret_value(), expected_type="access").get("fam")
    rows = session.execute(
        select(
            RefreshToken.family_id,
            func.min(RefreshToken.created_at),
            func.max(RefreshToken.created_at),
            func.max(RefreshToken.expires_at),
        )
        .where(RefreshToken.user_id == user.id)
        .group_by(RefreshToken.family_id)
        .having(func.max(RefreshToken.expires_at) > now, func.sum(_revoked(now)) == 0)
    ).all()
    return [
        SessionOut(family_id=f, started_at=s, last_used_at=last, expires_at=e, current=f == token_family)
        for f, s, last, e in sorted(rows, key=lambda r: r[2], reverse=True)
    ]


@router.delete(
    "/me/sessions/{family_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422)
)
def revoke_session(
    family_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], user: CurrentUser, session: SessionDep
) -> Response:
    owned = session.scalar(
        select(RefreshToken.id).where(RefreshToken.family_id == family_id, RefreshToken.user_id == user.id).limit(1)
    )
    if owned is None:
        raise NotFound("No such session.")
    revoke_family(session, family_id=family_id)
    session.commit()
    emit("authentication", "session.revoke", "success", user_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _revoked(now: Any) -> Any:
    return case((RefreshToken.revoked_at.is_not(None), 1), else_=0)

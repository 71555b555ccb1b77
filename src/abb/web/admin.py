"""The admin console: users, companies, deals needing attention, courses and enrollments, and a status page.

Every action calls the same service function as the API (`abb.accounts.service.set_active`,
`abb.training.service.complete`, ...); these pages only read forms and show results. Only administrators get in.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from abb.accounts import service as accounts
from abb.accounts.models import Role, User
from abb.companies import service as companies
from abb.core.database import utcnow
from abb.core.errors import AppError, Forbidden
from abb.core.http import IdPath, SessionDep
from abb.core.i18n import gettext
from abb.deals import payments as deals
from abb.deals import service as deal_service
from abb.observability.health import dependency_checks
from abb.observability.timeouts import run_checks
from abb.training import service as training
from abb.web.kit import CheckedForm, SignedInUser, render, safe_next

router = APIRouter(include_in_schema=False)
PER_PAGE = 25
DASHBOARDS = (  # uid, title: deploy/grafana/dashboards (made by abb.ops.dashboards)
    ("abb-operations", "ABB / Operations"),
    ("abb-business", "ABB / Business"),
    ("abb-development", "ABB / Development"),
)


async def admin_user(user: SignedInUser) -> User:
    if user.role != Role.ADMIN:
        raise Forbidden("Only administrators can open the admin console.")
    return user


AdminPageUser = Annotated[User, Depends(admin_user)]


def page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    attention = deals.deals_needing_attention(session, limit=100)
    counts = {name: len(items) for name, items in attention.items()}
    return render(request, "admin/home.html", {"user": user, "counts": counts, "section": "home"})


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    params = request.query_params
    q = (params.get("q") or "").strip()[:100] or None
    role = params.get("role") if params.get("role") in {r.value for r in Role} else None
    state = params.get("state") if params.get("state") in ("active", "disabled") else None
    page = page_number(request)
    items, total = accounts.list_users(
        session,
        q=q,
        role=Role(role) if role else None,
        active=None if state is None else state == "active",
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    context = {
        "user": user,
        "section": "users",
        "users": items,
        "total": total,
        "filters": {"q": q or "", "role": role or "", "state": state or ""},
        "roles": [r.value for r in Role],
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "here": _here(request),
        "notice": {"disabled": gettext("The account is disabled."), "enabled": gettext("The account is enabled.")}.get(
            params.get("done", "")
        ),
    }
    return render(request, "admin/users.html", context)


def _set_active(
    user: User, form: FormData, session: SessionDep, user_id: int, *, active: bool, request: Request
) -> Response:
    back = safe_next(str(form.get("next", "")), default="/admin/users")
    reason = str(form.get("reason", "")).strip()[:500]
    if not active and not reason:
        return _refused(request, user, gettext("Give a reason for disabling the account."), back)
    if form.get("confirm") != "yes":
        return _refused(request, user, gettext("Tick the box to confirm."), back)
    try:
        accounts.set_active(session, admin=user, user_id=user_id, active=active, reason=reason or None)
    except AppError as exc:
        return _refused(request, user, gettext(exc.detail), back, status=exc.status)
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={'enabled' if active else 'disabled'}", status_code=303)


def _refused(request: Request, user: User, message: str, back: str, *, status: int = 422) -> Response:
    context = {"user": user, "section": "users", "message": message, "back": back}
    return render(request, "admin/refused.html", context, status=status)


@router.post("/admin/users/{user_id}/disable")
def user_disable(
    request: Request, user_id: IdPath, user: AdminPageUser, form: CheckedForm, session: SessionDep
) -> Response:
    return _set_active(user, form, session, user_id, active=False, request=request)


@router.post("/admin/users/{user_id}/enable")
def user_enable(
    request: Request, user_id: IdPath, user: AdminPageUser, form: CheckedForm, session: SessionDep
) -> Response:
    return _set_active(user, form, session, user_id, active=True, request=request)


@router.get("/admin/companies", response_class=HTMLResponse)
def companies_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    params = request.query_params
    kind = companies.PARTNER if params.get("kind") == "partner" else companies.SME
    q = (params.get("q") or "").strip()[:100] or None
    page = page_number(request)
    items, total = companies.list_profiles(session, kind=kind, q=q, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    context = {
        "user": user,
        "section": "companies",
        "kind": kind.role.value,
        "items": items,
        "total": total,
        "q": q or "",
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "admin/companies.html", context)


@router.get("/admin/deals", response_class=HTMLResponse)
def deals_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    context: dict[str, Any] = {
        "user": user,
        "section": "deals",
        "attention": deals.deals_needing_attention(session, limit=100),
        "display_reference": deal_service.display_reference,
    }
    return render(request, "admin/deals.html", context)


@router.get("/admin/courses", response_class=HTMLResponse)
def courses_page(request: Request, user: AdminPageUser, session: SessionDep) -> Response:
    page = page_number(request)
    items, total = training.list_courses(
        session, language=None, upcoming=False, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    seats = training.seat_counts(session, [c.id for c in items])
    context = {
        "user": user,
        "section": "courses",
        "courses": items,
        "seats": seats,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }
    return render(request, "admin/courses.html", context)


@router.get("/admin/courses/{course_id}", response_class=HTMLResponse)
def course_page(request: Request, course_id: IdPath, user: AdminPageUser, session: SessionDep) -> Response:
    course = training.get_course(session, course_id=course_id)
    enrollments, total = training.course_enrollments(session, course_id=course_id, user=user, limit=100, offset=0)
    people = {u.id: u for u in accounts.users_by_id(session, user_ids=[e.user_id for e in enrollments])}
    context = {
        "user": user,
        "section": "courses",
        "course": course,
        "enrollments": enrollments,
        "people": people,
        "total": total,
        "started": course.starts_at <= utcnow(),  # completion is marked once the course has begun
    }
    return render(request, "admin/course.html", context)


@router.post("/admin/enrollments/{enrollment_id}/complete")
def enrollment_complete(enrollment_id: IdPath, user: AdminPageUser, form: CheckedForm, session: SessionDep) -> Response:
    enrollment = training.complete(session, enrollment_id=enrollment_id, user=user)
    return RedirectResponse(
        safe_next(str(form.get("next", "")), default=f"/admin/courses/{enrollment.course_id}"), status_code=303
    )


@router.get("/admin/status", response_class=HTMLResponse)
def status_page(request: Request, user: AdminPageUser) -> Response:
    settings = request.app.state.settings
    checks = dependency_checks(request, settings)
    results = run_checks(checks, settings.health_timeout_seconds)
    grafana = settings.grafana_url.rstrip("/")
    dashboards = [(title, f"{grafana}/d/{uid}" if grafana else None) for uid, title in DASHBOARDS]
    context = {"user": user, "section": "status", "checks": results, "dashboards": dashboards}
    return render(request, "admin/status.html", context)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from abb.accounts.deps import AdminUser, CurrentUser
from abb.core.config import Settings
from abb.core.http import IdPath, Page, PageDep, SessionDep, SettingsDep
from abb.core.idempotency import IdempotencyKeyHeader, idempotent_response
from abb.core.openapi import problem_responses
from abb.deals import payments, service
from abb.deals.models import Deal, DealState
from abb.deals.money import format_amount
from abb.deals.schemas import DealIn, DealOut, PayIn, PaymentOut, ReasonIn, ReconciliationIn, ReconciliationOut

router = APIRouter(prefix="/api/v1", tags=["deals"])
IDEMPOTENT_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 503)
CHANGE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)


def deal_out(session: Session, deal: Deal) -> DealOut:
    return DealOut.build(deal, service.history(session, deal=deal))


def _once(
    request: Request,
    session: Session,
    *,
    user_id: int,
    key: str | None,
    body: BaseModel,
    action: Callable[[], tuple[int, Any]],
    settings: Settings,
) -> JSONResponse:
    """Run `action` at most once per Idempotency-Key (a repeat replays the stored answer)."""
    return idempotent_response(
        session,
        user_id=user_id,
        key=key,
        method="POST",
        path=request.url.path,
        body=body.model_dump(mode="json"),
        action=action,
        wait_seconds=settings.idempotency_wait_seconds,
    )


@router.get("/deals", response_model=Page[DealOut], responses=problem_responses(401, 422))
def list_deals(user: CurrentUser, session: SessionDep, page: PageDep, state: DealState | None = None) -> Page[DealOut]:
    items, total = service.list_deals(session, user=user, state=state, limit=page.limit, offset=page.offset)
    return Page[DealOut](items=[deal_out(session, d) for d in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/deals", status_code=status.HTTP_201_CREATED, response_model=DealOut, responses=IDEMPOTENT_ERRORS)
def create_deal(
    body: DealIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def action() -> tuple[int, Any]:
        deal = service.create_deal(session, user=user, deal_in=body)
        return status.HTTP_201_CREATED, deal_out(session, deal).model_dump(mode="json")

    return _once(request, session, user_id=user.id, key=idempotency_key, body=body, action=action, settings=settings)


@router.get("/deals/{deal_id}", response_model=DealOut, responses=problem_responses(401, 404, 422))
def get_deal(deal_id: IdPath, user: CurrentUser, session: SessionDep) -> DealOut:
    return deal_out(session, service.get_deal(session, deal_id=deal_id, user=user))


@router.post("/deals/{deal_id}/pay", response_model=PaymentOut, responses=IDEMPOTENT_ERRORS)
def pay(
    deal_id: IdPath,
    body: PayIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    def action() -> tuple[int, Any]:
        result = payments.pay(session, deal_id=deal_id, user=user, provider_name=body.provider, settings=settings)
        out = PaymentOut(
            deal=deal_out(session, result.deal),
            payment_id=result.payment.id if result.payment else None,
            instructions=result.instructions,
        )
        return status.HTTP_200_OK, out.model_dump(mode="json")

    return _once(request, session, user_id=user.id, key=idempotency_key, body=body, action=action, settings=settings)


@router.post("/deals/{deal_id}/cancel", response_model=DealOut, responses=CHANGE_ERRORS)
def cancel(deal_id: IdPath, body: ReasonIn, user: CurrentUser, session: SessionDep) -> DealOut:
    return deal_out(session, service.cancel(session, deal_id=deal_id, user=user, reason=body.reason))


@router.post("/admin/deals/{deal_id}/settle", response_model=DealOut, responses=CHANGE_ERRORS)
def settle(deal_id: IdPath, admin: AdminUser, session: SessionDep, settings: SettingsDep) -> DealOut:
    return deal_out(session, service.settle(session, deal_id=deal_id, admin=admin, settings=settings))


@router.post("/admin/deals/{deal_id}/refund", response_model=DealOut, responses=CHANGE_ERRORS)
def refund(deal_id: IdPath, body: ReasonIn, admin: AdminUser, session: SessionDep) -> DealOut:
    return deal_out(session, service.refund(session, deal_id=deal_id, admin=admin, reason=body.reason))


@router.post("/admin/deals/{deal_id}/excess-refunded", response_model=DealOut, responses=CHANGE_ERRORS)
def excess_refunded(deal_id: IdPath, admin: AdminUser, session: SessionDep) -> DealOut:
    """Record that an over-payment was sent back to the SME."""
    return deal_out(session, service.excess_refunded(session, deal_id=deal_id, admin=admin))


@router.get("/admin/reconciliations", response_model=list[DealOut], responses=problem_responses(401, 403))
def awaiting_transfers(admin: AdminUser, session: SessionDep) -> list[DealOut]:
    """Deals waiting for a bank transfer: what an incoming transfer can be reconciled against."""
    return [deal_out(session, d) for d in payments.awaiting_bank_transfers(session)]


@router.post(
    "/admin/reconciliations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReconciliationOut,
    responses=CHANGE_ERRORS,
)
def reconcile(body: ReconciliationIn, admin: AdminUser, session: SessionDep) -> ReconciliationOut:
    result = payments.reconcile(session, admin=admin, reconciliation_in=body)
    return ReconciliationOut(
        payment_id=result.payment.id,
        outcome=result.outcome,
        amount=format_amount(result.payment.amount_minor, result.deal.currency),
        excess_to_refund=format_amount(result.excess_minor, result.deal.currency),
        deal=deal_out(session, result.deal),
    )

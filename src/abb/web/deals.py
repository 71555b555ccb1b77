"""Deal pages: list and new-deal form, deal detail (instructions, history, actions), admin reconciliation.

Forms that create or pay carry a one-time `idempotency_key`, so a double-clicked or resubmitted form
has one effect, like the API's Idempotency-Key header.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from abb.accounts.models import Role, User
from abb.core.errors import AppError, Forbidden, NotFound
from abb.core.http import IdPath, SessionDep, SettingsDep
from abb.core.idempotency import request_fingerprint, run_idempotent
from abb.deals import payments, service
from abb.deals.models import ProviderName
from abb.deals.money import Currency, percent_of
from abb.deals.schemas import DealIn, ReconciliationIn
from abb.training import service as training
from abb.web.forms import machine_amount, require_confirmation, validate_form
from abb.web.kit import CSRF_FIELD, CheckedForm, SignedInUser, render

router = APIRouter(include_in_schema=False)
IDEMPOTENCY_FIELD = "idempotency_key"
DEAL_FIELDS = ("match_id", "description", "currency", "amount", "due_date")
RECONCILE_FIELDS = ("reference", "currency", "amount", "bank_transaction_id")


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:2000] for name in names}


def _once(request: Request, session: SessionDep, user: User, form: FormData, settings: SettingsDep, act: Any) -> str:
    """Run `act` (returning the page to go to) at most once per form key; return where to go."""
    key = str(form.get(IDEMPOTENCY_FIELD, ""))[:255] or None
    body = {k: str(v) for k, v in form.items() if k not in (CSRF_FIELD, IDEMPOTENCY_FIELD)}
    _status, answer, _replayed = run_idempotent(
        session,
        user_id=user.id,
        key=key,
        fingerprint=request_fingerprint("POST", request.url.path, body),
        action=lambda: (303, {"location": act()}),
        wait_seconds=settings.idempotency_wait_seconds,
    )
    return str(answer["location"])


def _deals_page(
    request: Request,
    user: User,
    session: SessionDep,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    deals, total = service.list_deals(session, user=user, state=None, limit=100, offset=0)
    matches = service.connected_matches(session, user=user) if user.role != Role.ADMIN else []
    return render(
        request,
        "deals.html",
        {
            "user": user,
            "deals": deals,
            "total": total,
            "matches": matches,
            "currencies": [c.value for c in Currency],
            "values": values or {},
            "errors": errors or {},
            "form_key": secrets.token_urlsafe(16),
        },
        status=status,
    )


@router.get("/deals", response_class=HTMLResponse)
def deals_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    return _deals_page(request, user, session)


@router.post("/deals", response_class=HTMLResponse)
def deal_create(
    request: Request, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    values = _values(form, DEAL_FIELDS)
    parsed, errors = validate_form(DealIn, {**values, "amount": machine_amount(values["amount"])})
    if parsed is not None:
        assert isinstance(parsed, DealIn)

        def create() -> str:
            return f"/deals/{service.create_deal(session, user=user, deal_in=parsed).id}"

        try:
            return RedirectResponse(_once(request, session, user, form, settings, create), status_code=303)
        except AppError as exc:
            return _deals_page(request, user, session, values=values, errors={"form": exc.detail}, status=exc.status)
    return _deals_page(request, user, session, values=values, errors=errors, status=422)


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
def deal_page(
    request: Request, deal_id: IdPath, user: SignedInUser, session: SessionDep, settings: SettingsDep
) -> Response:
    deal = service.get_deal(session, deal_id=deal_id, user=user)
    actions = service.allowed_actions(deal, user)
    return render(
        request,
        "deal_detail.html",
        {
            "user": user,
            "deal": deal,
            "side": service.side_of(deal, user),
            "history": service.history(session, deal=deal),
            "instructions": payments.payment_instructions(deal, settings),
            "reference": service.display_reference(deal.payment_reference),
            "can_pay": actions.pay,
            "can_cancel": actions.cancel,
            "can_settle": actions.settle,
            # What settling pays out, shown in the confirmation: the amount less the platform's fee.
            "payout_minor": deal.amount_minor - percent_of(deal.amount_minor, settings.platform_fee_percent),
            "can_refund_excess": actions.refund_excess,
            "form_key": secrets.token_urlsafe(16),
        },
    )


@router.post("/deals/{deal_id}/pay")
def deal_pay(
    request: Request, deal_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    def pay() -> str:
        payments.pay(session, deal_id=deal_id, user=user, provider_name=ProviderName.BANK_TRANSFER, settings=settings)
        return f"/deals/{deal_id}"

    return RedirectResponse(_once(request, session, user, form, settings, pay), status_code=303)


@router.post("/deals/{deal_id}/cancel")
def deal_cancel(deal_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    service.get_deal(session, deal_id=deal_id, user=user)  # access before the form's fields
    require_confirmation(form)
    reason = str(form.get("reason", "")).strip()[:500] or None
    service.cancel(session, deal_id=deal_id, user=user, reason=reason)
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


@router.post("/deals/{deal_id}/settle")
def deal_settle(
    deal_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    if user.role != Role.ADMIN:
        raise Forbidden("Only an admin settles deals.")
    require_confirmation(form)
    service.settle(session, deal_id=deal_id, admin=user, settings=settings)
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


@router.post("/deals/{deal_id}/excess-refunded")
def deal_excess_refunded(deal_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep) -> Response:
    if user.role != Role.ADMIN:
        raise Forbidden("Only an admin records refunds.")
    require_confirmation(form)
    service.excess_refunded(session, deal_id=deal_id, admin=user)
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


def _reconcile_page(
    request: Request,
    user: User,
    session: SessionDep,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: payments.Reconciliation | None = None,
    seat_result: training.EnrollmentReconciliation | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "admin_reconcile.html",
        {
            "user": user,
            "awaiting": payments.awaiting_bank_transfers(session),
            "awaiting_seats": [
                e for e in training.awaiting_payment(session) if e.provider == ProviderName.BANK_TRANSFER
            ],
            "seat_result": seat_result,
            "currencies": [c.value for c in Currency],
            "values": values or {},
            "errors": errors or {},
            "result": result,
            "display_reference": service.display_reference,
        },
        status=status,
    )


@router.get("/admin/reconcile", response_class=HTMLResponse)
def reconcile_page(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    if user.role != Role.ADMIN:
        raise Forbidden("Only admins reconcile bank transfers.")
    return _reconcile_page(request, user, session)


@router.post("/admin/reconcile", response_class=HTMLResponse)
def reconcile_submit(
    request: Request, user: SignedInUser, form: CheckedForm, session: SessionDep, settings: SettingsDep
) -> Response:
    """One form for every incoming transfer: a deal's reference, else a course seat's (abb.training)."""
    if user.role != Role.ADMIN:
        raise Forbidden("Only admins reconcile bank transfers.")
    values = _values(form, RECONCILE_FIELDS)
    require_confirmation(form)
    parsed, errors = validate_form(ReconciliationIn, {**values, "amount": machine_amount(values["amount"])})
    if parsed is not None:
        assert isinstance(parsed, ReconciliationIn)
        try:
            try:
                result = payments.reconcile(session, admin=user, reconciliation_in=parsed)
            except NotFound:
                try:
                    seat = training.reconcile_transfer(session, admin=user, reconciliation_in=parsed, settings=settings)
                except NotFound as exc:
                    raise NotFound("No deal and no course seat has this payment reference.") from exc
                return _reconcile_page(request, user, session, seat_result=seat)
        except AppError as exc:
            return _reconcile_page(
                request, user, session, values=values, errors={"form": exc.detail}, status=exc.status
            )
        return _reconcile_page(request, user, session, result=result)
    return _reconcile_page(request, user, session, values=values, errors=errors, status=422)

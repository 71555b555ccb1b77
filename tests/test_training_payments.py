"""Paid courses: enrolling holds a seat until it is paid by card (Stripe's webhook, through the Stripe double)
or bank transfer (an admin reconciles it); unpaid holds run out and free their seat for the waitlist.
Refusals are problem+json and change nothing."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import stripe
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from abb.accounts.models import Role
from abb.core.database import make_engine, utcnow
from abb.core.errors import Unprocessable
from abb.core.migrate import upgrade
from abb.deals.models import Payment, PaymentStatus, ProviderName
from abb.deals.providers.bank_transfer import display_reference, new_reference
from abb.tasks.runtime import bound_engine
from abb.training import service
from abb.training.models import Enrollment, EnrollmentStatus
from abb.training.tasks import release_expired_seat_holds
from tests.conftest import make_settings
from tests.factories import assert_problem, db_snapshot, make_user
from tests.fixtures_deals import WEBHOOK_SECRET
from tests.fixtures_training import make_course
from tests.test_web_pages import CSRF, sign_in

WEBHOOK = "/api/v1/payments/webhooks/stripe"
RECONCILE = "/api/v1/admin/enrollment-reconciliations"
PRICE = 14900


@pytest.fixture
def settings(stripe_double):
    return make_settings(
        stripe_secret_key="sk_test_double",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_double.url,
    )


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def enrollments_counted() -> float:
    return REGISTRY.get_sample_value("abb_course_enrollments_total") or 0.0


def transactions(provider: str) -> float:
    return REGISTRY.get_sample_value("abb_transactions_total", {"provider": provider, "currency": "EUR"}) or 0.0


def enroll(client, headers, course_id, **body):
    return client.post(f"/api/v1/courses/{course_id}/enrollments", headers=headers, json=body or None)


def pay(client, headers, enrollment_id, provider):
    return client.post(f"/api/v1/enrollments/{enrollment_id}/pay", headers=headers, json={"provider": provider})


def expire_hold(session: Session, enrollment_id: int) -> None:
    session.execute(
        update(Enrollment).where(Enrollment.id == enrollment_id).values(hold_expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()


def reconciliation(reference: str, amount: str = "149.00", **overrides):
    return {"reference": reference, "currency": "EUR", "amount": amount, "bank_transaction_id": "TX-1", **overrides}


def stripe_event(event_id, event_type, intent_id, amount, **intent_fields):
    intent = {"id": intent_id, "object": "payment_intent", "amount": amount, "currency": "eur", **intent_fields}
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": intent}})


def deliver(client, payload):
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    response = client.post(
        WEBHOOK, content=payload, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- holding a seat ----------------------------------------------------------------------------


def test_a_paid_course_holds_the_seat_until_paid_and_a_free_one_enrolls_at_once(client, session, signed_in, settings):
    paid = make_course(session, capacity=2, price_minor=PRICE)
    free = make_course(session, capacity=2)
    headers = signed_in(make_user(session))
    counted = enrollments_counted()

    held = enroll(client, headers, paid.id)
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "awaiting_payment"
    assert (body["amount_minor"], body["currency"], body["received_minor"]) == (PRICE, "EUR", 0)
    assert body["payment_reference"].startswith("RF") and body["provider"] is None
    remaining = parse_time(body["hold_expires_at"]) - utcnow()
    assert (
        timedelta(minutes=settings.seat_hold_card_minutes - 1)
        < remaining
        <= timedelta(minutes=settings.seat_hold_card_minutes)
    )
    assert client.get(f"/api/v1/courses/{paid.id}", headers=headers).json()["seats_taken"] == 1  # held counts
    assert enrollments_counted() == counted  # counted when paid

    assert enroll(client, headers, free.id).json()["status"] == "enrolled"
    assert enrollments_counted() == counted + 1


def test_held_seats_fill_the_course_and_the_next_person_may_only_wait(client, session, signed_in):
    course = make_course(session, capacity=1, price_minor=PRICE)
    assert enroll(client, signed_in(make_user(session)), course.id).json()["status"] == "awaiting_payment"
    late = signed_in(make_user(session))
    before = db_snapshot(session)
    assert_problem(enroll(client, late, course.id), 409, "conflict")
    assert db_snapshot(session) == before
    assert enroll(client, late, course.id, waitlist=True).json()["status"] == "waitlisted"


def test_an_expired_hold_is_not_counted_and_is_released_when_the_course_next_changes(client, session, signed_in):
    course = make_course(session, capacity=1, price_minor=PRICE)
    first = signed_in(make_user(session))
    hold = enroll(client, first, course.id).json()
    waiting = signed_in(make_user(session))
    queued = enroll(client, waiting, course.id, waitlist=True).json()
    expire_hold(session, hold["id"])

    # Lazily: the seat is free the moment the hold runs out, before anything rewrites the row.
    assert client.get(f"/api/v1/courses/{course.id}", headers=first).json()["seats_taken"] == 0
    # The next change to the course (here: the first person trying to pay) expires it and seats the waitlist.
    refused = assert_problem(pay(client, first, hold["id"], "bank_transfer"), 409, "invalid-transition")
    assert "expired" in refused["detail"]
    session.expire_all()
    assert session.get(Enrollment, hold["id"]).status == EnrollmentStatus.EXPIRED
    promoted = session.get(Enrollment, queued["id"])
    assert promoted.status == EnrollmentStatus.AWAITING_PAYMENT and promoted.amount_minor == PRICE
    # Promoted people were not there to pay at once: their hold lasts as long as a bank transfer's.
    assert promoted.hold_expires_at - utcnow() > timedelta(hours=24)

    again = enroll(client, first, course.id, waitlist=True).json()  # the row comes back, at the end of the queue
    assert again["id"] == hold["id"] and again["status"] == "waitlisted"


def test_cancelling_a_held_seat_lets_the_first_waiting_person_in(client, session, signed_in):
    course = make_course(session, capacity=1, price_minor=PRICE)
    holder = signed_in(make_user(session))
    hold = enroll(client, holder, course.id).json()
    queued = enroll(client, signed_in(make_user(session)), course.id, waitlist=True).json()
    cancelled = client.post(f"/api/v1/enrollments/{hold['id']}/cancel", headers=holder)
    assert cancelled.json()["status"] == "cancelled"
    session.expire_all()
    assert session.get(Enrollment, queued["id"]).status == EnrollmentStatus.AWAITING_PAYMENT


def test_the_release_task_runs_every_minute_under_beat():
    from abb.tasks import RELEASE_EXPIRED_SEAT_HOLDS
    from abb.tasks.celery_app import TASK_MODULES, celery_app

    entries = [e for e in celery_app.conf.beat_schedule.values() if e["task"] == RELEASE_EXPIRED_SEAT_HOLDS]
    assert [e["schedule"] for e in entries] == [60.0] and "abb.training.tasks" in TASK_MODULES
    assert RELEASE_EXPIRED_SEAT_HOLDS in celery_app.tasks  # registered once the worker imports TASK_MODULES


def test_the_release_task_expires_every_overdue_hold_and_promotes_the_waitlist(tmp_path: Path):
    engine: Engine = make_engine(make_settings(database_url=f"sqlite:///{tmp_path / 'holds.sqlite3'}"))
    with engine.begin() as conn:
        upgrade(connection=conn)
    settings = make_settings()
    try:
        with Session(engine, expire_on_commit=False) as session:
            course = make_course(session, capacity=1, price_minor=PRICE)
            other = make_course(session, capacity=5, price_minor=PRICE)
            people = [make_user(session) for _ in range(3)]
            held = service.enroll(session, course_id=course.id, user=people[0], settings=settings)
            queued = service.enroll(session, course_id=course.id, user=people[1], waitlist=True, settings=settings)
            running = service.enroll(session, course_id=other.id, user=people[2], settings=settings)
            expire_hold(session, held.id)
        with bound_engine(engine):
            assert release_expired_seat_holds() == 1
            assert release_expired_seat_holds() == 0  # idempotent: nothing left to release
        with Session(engine) as session:
            status = {e.id: e.status for e in session.scalars(select(Enrollment))}
        assert status == {
            held.id: EnrollmentStatus.EXPIRED,
            queued.id: EnrollmentStatus.AWAITING_PAYMENT,
            running.id: EnrollmentStatus.AWAITING_PAYMENT,  # its hold is still running
        }
    finally:
        engine.dispose()


# --- bank transfer -----------------------------------------------------------------------------


def test_bank_transfer_shows_instructions_and_an_admin_reconciles_it(client, session, signed_in, settings):
    course = make_course(session, capacity=3, price_minor=PRICE)
    headers = signed_in(make_user(session))
    hold = enroll(client, headers, course.id).json()

    started = pay(client, headers, hold["id"], "bank_transfer")
    assert started.status_code == 200, started.text
    out = started.json()
    assert out["payment_id"] is None  # a transfer gets its payment row when it arrives
    instructions = out["instructions"]
    assert instructions["method"] == "bank_transfer" and instructions["iban"] == settings.platform_bank_iban
    assert instructions["reference"].replace(" ", "") == hold["payment_reference"]
    assert instructions["amount"] == "149.00"
    longer = parse_time(out["enrollment"]["hold_expires_at"]) - utcnow()
    assert longer > timedelta(minutes=settings.seat_hold_transfer_minutes - 1)  # a transfer takes days

    admin = signed_in(make_user(session, Role.ADMIN))
    assert [e["id"] for e in client.get(RECONCILE, headers=admin).json()] == [hold["id"]]
    counted, received = enrollments_counted(), transactions("bank_transfer")
    partial = client.post(RECONCILE, headers=admin, json=reconciliation(instructions["reference"], "100.00"))
    assert partial.status_code == 201, partial.text
    assert partial.json()["outcome"] == "partial" and partial.json()["enrollment"]["status"] == "awaiting_payment"
    rest = client.post(
        RECONCILE, headers=admin, json=reconciliation(instructions["reference"], "59.00", bank_transaction_id="TX-2")
    )
    assert rest.status_code == 201, rest.text
    done = rest.json()
    assert (done["outcome"], done["excess_to_refund"]) == ("overpaid", "10.00")
    assert done["enrollment"]["status"] == "enrolled" and done["enrollment"]["paid_at"] is not None
    assert enrollments_counted() == counted + 1 and transactions("bank_transfer") == received + 2
    rows = session.scalars(select(Payment).where(Payment.enrollment_id == hold["id"])).all()
    assert sorted((p.external_id, p.amount_minor, p.deal_id) for p in rows) == [
        ("TX-1", 10000, None),
        ("TX-2", 5900, None),
    ]
    assert client.get(RECONCILE, headers=admin).json() == []


@pytest.mark.parametrize(
    ("change", "status", "slug"),
    [
        ({"bank_transaction_id": "TX-DONE"}, 409, "already-reconciled"),
        ({"currency": "KES"}, 422, None),
        ({"reference": "RF00 0000 0000 01"}, 422, "validation-error"),  # check digits wrong
        ({"reference": None}, 404, "not-found"),  # a well-formed reference nobody has
        ({"amount": "-5"}, 422, "validation-error"),
        ({"amount": "1e400"}, 422, "validation-error"),
    ],
)
def test_bad_reconciliations_are_refused_and_change_nothing(client, session, signed_in, change, status, slug):
    course = make_course(session, capacity=3, price_minor=PRICE)
    headers = signed_in(make_user(session))
    hold = enroll(client, headers, course.id).json()
    assert pay(client, headers, hold["id"], "bank_transfer").status_code == 200
    admin = signed_in(make_user(session, Role.ADMIN))
    first = reconciliation(hold["payment_reference"], "10.00", bank_transaction_id="TX-DONE")
    assert client.post(RECONCILE, headers=admin, json=first).status_code == 201
    if change.get("reference", "") is None:
        change = {"reference": display_reference(new_reference())}
    before = db_snapshot(session)
    assert_problem(
        client.post(RECONCILE, headers=admin, json={**reconciliation(hold["payment_reference"]), **change}),
        status,
        slug,
    )
    assert db_snapshot(session) == before


def test_only_admins_reconcile_and_a_seat_not_paid_by_transfer_is_refused(client, session, signed_in):
    course = make_course(session, capacity=3, price_minor=PRICE)
    owner = signed_in(make_user(session))
    hold = enroll(client, owner, course.id).json()  # no method chosen yet
    admin = signed_in(make_user(session, Role.ADMIN))
    before = db_snapshot(session)
    assert_problem(client.post(RECONCILE, headers=owner, json=reconciliation(hold["payment_reference"])), 403)
    refused = client.post(RECONCILE, headers=admin, json=reconciliation(hold["payment_reference"]))
    assert_problem(refused, 409, "invalid-transition")
    assert db_snapshot(session) == before


def test_a_transfer_after_the_hold_ran_out_buys_a_free_seat_but_not_a_taken_one(client, session, signed_in):
    course = make_course(session, capacity=1, price_minor=PRICE)
    late_payer = signed_in(make_user(session))
    hold = enroll(client, late_payer, course.id).json()
    assert pay(client, late_payer, hold["id"], "bank_transfer").status_code == 200
    admin = signed_in(make_user(session, Role.ADMIN))

    expire_hold(session, hold["id"])
    taker = signed_in(make_user(session))
    assert enroll(client, taker, course.id).json()["status"] == "awaiting_payment"  # the freed seat is taken
    before = db_snapshot(session)
    refused = client.post(RECONCILE, headers=admin, json=reconciliation(hold["payment_reference"]))
    assert "return the money" in assert_problem(refused, 409, "invalid-transition")["detail"]
    assert db_snapshot(session) == before

    roomy = make_course(session, capacity=5, price_minor=PRICE)
    hold = enroll(client, late_payer, roomy.id).json()
    assert pay(client, late_payer, hold["id"], "bank_transfer").status_code == 200
    expire_hold(session, hold["id"])
    paid = client.post(
        RECONCILE, headers=admin, json=reconciliation(hold["payment_reference"], bank_transaction_id="TX-9")
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["enrollment"]["status"] == "enrolled"  # a seat was free: paid in good faith


# --- paying: refusals --------------------------------------------------------------------------


def test_paying_refusals_are_problems_and_change_nothing(client, session, signed_in):
    paid = make_course(session, capacity=3, price_minor=PRICE)
    free = make_course(session, capacity=3)
    owner_user = make_user(session)
    owner = signed_in(owner_user)
    hold = enroll(client, owner, paid.id).json()
    seat = enroll(client, owner, free.id).json()
    stranger = signed_in(make_user(session))
    admin = signed_in(make_user(session, Role.ADMIN))
    before = db_snapshot(session)

    assert_problem(pay(client, stranger, hold["id"], "bank_transfer"), 403)
    assert_problem(pay(client, admin, hold["id"], "bank_transfer"), 403)  # admins reconcile, they do not pay
    assert_problem(pay(client, owner, seat["id"], "bank_transfer"), 409, "invalid-transition")  # free: nothing due
    assert_problem(pay(client, owner, 999_999, "bank_transfer"), 404)
    assert_problem(pay(client, owner, hold["id"], "cash"), 422, "validation-error")
    assert_problem(
        client.post(f"/api/v1/enrollments/{hold['id']}/pay", headers=owner, json={"provider": "bank_transfer", "x": 1}),
        422,
    )
    assert_problem(client.post(f"/api/v1/enrollments/{hold['id']}/pay", headers=owner, content=b"{"), 422)
    assert_problem(client.post(f"/api/v1/enrollments/{hold['id']}/pay", json={"provider": "bank_transfer"}), 401)
    assert db_snapshot(session) == before

    no_cards = make_settings()  # no Stripe key: cards are not offered on this server
    with pytest.raises(Unprocessable):
        service.pay(
            session,
            enrollment_id=hold["id"],
            user=owner_user,
            provider_name=ProviderName.STRIPE_CARD,
            settings=no_cards,
        )
    assert db_snapshot(session) == before


# --- card, through the Stripe double -----------------------------------------------------------


def test_card_payment_confirmed_by_the_webhook_enrolls(client, session, signed_in, stripe_double):
    course = make_course(session, capacity=2, price_minor=PRICE)
    headers = signed_in(make_user(session))
    hold = enroll(client, headers, course.id).json()
    started = pay(client, headers, hold["id"], "stripe_card")
    assert started.status_code == 200, started.text
    intent_id = started.json()["instructions"]["payment_intent_id"]
    assert stripe_double.intents[intent_id]["amount"] == PRICE
    assert stripe_double.intents[intent_id]["metadata"]["enrollment_id"] == str(hold["id"])
    assert started.json()["enrollment"]["status"] == "awaiting_payment"

    counted, received = enrollments_counted(), transactions("stripe_card")
    event = stripe_event("evt_seat_paid", "payment_intent.succeeded", intent_id, PRICE, amount_received=PRICE)
    assert deliver(client, event) == {"received": True, "duplicate": False}
    assert deliver(client, event) == {"received": True, "duplicate": True}  # a repeat has no second effect
    session.expire_all()
    enrollment = session.get(Enrollment, hold["id"])
    assert (enrollment.status, enrollment.received_minor) == (EnrollmentStatus.ENROLLED, PRICE)
    assert session.get(Payment, started.json()["payment_id"]).status == PaymentStatus.SUCCEEDED
    assert enrollments_counted() == counted + 1 and transactions("stripe_card") == received + 1


def test_a_failed_card_payment_keeps_the_seat_held_and_may_be_tried_again(client, session, signed_in, stripe_double):
    course = make_course(session, capacity=2, price_minor=PRICE)
    headers = signed_in(make_user(session))
    hold = enroll(client, headers, course.id).json()
    first = pay(client, headers, hold["id"], "stripe_card").json()
    failed = stripe_event(
        "evt_seat_failed",
        "payment_intent.payment_failed",
        first["instructions"]["payment_intent_id"],
        PRICE,
        last_payment_error={"code": "card_declined"},
    )
    deliver(client, failed)
    session.expire_all()
    assert session.get(Enrollment, hold["id"]).status == EnrollmentStatus.AWAITING_PAYMENT
    payment = session.get(Payment, first["payment_id"])
    assert (payment.status, payment.last_error) == (PaymentStatus.FAILED, "stripe: card_declined")

    stripe_double.decline_next(1)  # the provider refuses the next attempt outright
    refused = pay(client, headers, hold["id"], "stripe_card").json()
    assert refused["instructions"]["status"] == "failed"
    second = pay(client, headers, hold["id"], "stripe_card").json()
    assert second["payment_id"] not in (first["payment_id"], refused["payment_id"])
    deliver(
        client,
        stripe_event("evt_seat_ok", "payment_intent.succeeded", second["instructions"]["payment_intent_id"], PRICE),
    )
    session.expire_all()
    assert session.get(Enrollment, hold["id"]).status == EnrollmentStatus.ENROLLED


def test_a_second_payment_while_a_card_payment_is_under_way_is_refused(client, session, signed_in, stripe_double):
    course = make_course(session, capacity=2, price_minor=PRICE)
    user = make_user(session)
    headers = signed_in(user)
    hold = enroll(client, headers, course.id).json()
    intents_before = len(stripe_double.intents)  # the double lives as long as the test process
    first = pay(client, headers, hold["id"], "stripe_card").json()
    for provider in ("stripe_card", "bank_transfer"):  # either could take the money a second time
        assert_problem(pay(client, headers, hold["id"], provider), 409, "payment-under-way")
    session.expire_all()
    assert len(stripe_double.intents) == intents_before + 1
    assert session.scalars(select(Payment.id).where(Payment.enrollment_id == hold["id"])).all() == [first["payment_id"]]
    assert session.get(Enrollment, hold["id"]).provider == ProviderName.STRIPE_CARD
    # The pay page says the card payment is under way and offers no second way to pay.
    assert sign_in(client, user.email).status_code == 303
    page = client.get(f"/enrollments/{hold['id']}/pay")
    assert 'data-card-status="pending"' in page.text
    assert 'name="method"' not in page.text


def test_card_money_for_a_seat_that_is_gone_is_kept_for_a_refund(client, session, signed_in):
    course = make_course(session, capacity=1, price_minor=PRICE)
    payer = signed_in(make_user(session))
    hold = enroll(client, payer, course.id).json()
    started = pay(client, payer, hold["id"], "stripe_card").json()
    expire_hold(session, hold["id"])
    assert enroll(client, signed_in(make_user(session)), course.id).json()["status"] == "awaiting_payment"
    deliver(
        client,
        stripe_event("evt_late", "payment_intent.succeeded", started["instructions"]["payment_intent_id"], PRICE),
    )
    session.expire_all()
    enrollment = session.get(Enrollment, hold["id"])
    assert (enrollment.status, enrollment.received_minor, enrollment.paid_at) == (EnrollmentStatus.EXPIRED, PRICE, None)
    assert client.get(f"/api/v1/courses/{course.id}", headers=payer).json()["seats_taken"] == 1  # never oversold
    admin = make_user(session, Role.ADMIN)
    assert sign_in(client, admin.email).status_code == 303
    assert "Refund owed: €149.00" in client.get(f"/admin/courses/{course.id}").text  # where an admin sees it

    # Should the payer come back when a seat is free, the money already received pays it.
    roomy = session.get(Enrollment, hold["id"])
    session.execute(
        update(Enrollment)
        .where(Enrollment.course_id == course.id, Enrollment.id != roomy.id)
        .values(status=EnrollmentStatus.CANCELLED)
    )
    session.commit()
    back = enroll(client, payer, course.id).json()
    assert (back["id"], back["status"], back["received_minor"]) == (hold["id"], "enrolled", PRICE)


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "price", "held", "confirm", "transfer"),
    [
        (
            "en",
            "€149.00",
            "Seat held, awaiting payment",
            "I confirm: pay €149.00 by Bank transfer.",
            "How to pay by bank transfer",
        ),
        (
            "it",
            "149,00\xa0€",
            "Posto riservato, in attesa di pagamento",
            "Confermo: pago 149,00\xa0€ con Bonifico bancario.",
            "Come pagare con bonifico",
        ),
    ],
)
def test_the_pay_step_chooses_a_method_confirms_and_shows_the_transfer_details(
    client, session, locale, price, held, confirm, transfer
):
    course = make_course(session, capacity=2, price_minor=PRICE, title="Selling to Ethiopia")
    user = make_user(session, locale=locale)
    assert sign_in(client, user.email).status_code == 303
    page = client.get(f"/courses/{course.id}")
    assert price in page.text
    token = CSRF.search(page.text).group(1)
    chosen = client.post(f"/courses/{course.id}/enroll", data={"csrf_token": token}, follow_redirects=True)
    assert chosen.status_code == 200 and held in chosen.text
    enrollment_id = int(re.search(r"/enrollments/(\d+)/pay", str(chosen.url)).group(1))
    assert 'value="stripe_card"' in chosen.text and 'value="bank_transfer"' in chosen.text

    confirming = client.get(f"/enrollments/{enrollment_id}/pay?method=bank_transfer")
    assert confirm in confirming.text.replace("&nbsp;", "\xa0")
    before = db_snapshot(session)
    unconfirmed = client.post(
        f"/enrollments/{enrollment_id}/pay", data={"csrf_token": token, "method": "bank_transfer"}
    )
    assert 400 <= unconfirmed.status_code < 500 and "text/html" in unconfirmed.headers["content-type"]
    assert db_snapshot(session) == before

    paid = client.post(
        f"/enrollments/{enrollment_id}/pay",
        data={"csrf_token": token, "method": "bank_transfer", "confirm": "yes"},
        follow_redirects=True,
    )
    assert paid.status_code == 200 and transfer in paid.text
    reference = session.get(Enrollment, enrollment_id).payment_reference
    shown = re.search(r'data-testid="payment-reference">([^<]+)<', paid.text).group(1)
    assert shown.replace(" ", "") == reference


def test_an_admin_reconciles_a_seat_transfer_on_the_reconciliation_page(client, session, signed_in):
    course = make_course(session, capacity=2, price_minor=PRICE)
    owner = signed_in(make_user(session))
    hold = enroll(client, owner, course.id).json()
    assert pay(client, owner, hold["id"], "bank_transfer").status_code == 200
    admin = make_user(session, Role.ADMIN)
    assert sign_in(client, admin.email).status_code == 303
    page = client.get("/admin/reconcile")
    assert "Course seats awaiting a bank transfer" in page.text and f"/admin/courses/{course.id}" in page.text
    token = CSRF.search(page.text).group(1)
    form = {**reconciliation(hold["payment_reference"]), "csrf_token": token, "confirm": "yes"}
    done = client.post("/admin/reconcile", data=form)
    assert done.status_code == 200, done.text
    assert f"Course seat #{hold['id']} is now" in done.text and "Enrolled" in done.text
    session.expire_all()
    assert session.get(Enrollment, hold["id"]).status == EnrollmentStatus.ENROLLED

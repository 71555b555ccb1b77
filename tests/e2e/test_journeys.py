"""The critical paths in a real browser (Chromium), against the real app on PostgreSQL with Redis and a worker.

Each journey runs at a desktop and at a phone viewport (see conftest.py); every page visited is checked for
accessibility and, on the phone, for sideways scrolling (browsing.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.e2e.browsing import Visitor
from tests.e2e.conftest import UPLOAD_MAX_BYTES, LiveApp
from tests.fixtures_observability import sample
from tests.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PASSWORD = "journey-password-2026"
WORKER_TIMEOUT = 90.0  # the worker computes new matches in the background; generous on a busy machine


def _unique() -> str:
    return uuid.uuid4().hex[:10]


def _register_by_api(client: httpx.Client, role: str, name: str) -> tuple[str, dict[str, str]]:
    email = f"{role}-{_unique()}@journeys.example"
    answer = client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "full_name": name, "role": role}
    )
    assert answer.status_code == 201, answer.text
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return email, {"Authorization": f"Bearer {login.json()['access_token']}"}


def _fitting_partner(live_app: LiveApp) -> tuple[str, str]:
    """A partner in Kenya in the SME's trade, made through the API; returns its e-mail and organization name."""
    organization = f"Journey Foods Kenya {_unique()}"
    with live_app.api() as client:
        email, headers = _register_by_api(client, "partner", "Wanjiru Kamau")
        profile = {
            "organization_name": organization,
            "country": "KE",
            "city": "Nairobi",
            "sectors": ["agri_food"],
            "services": "Distribution of pasta production lines and food packaging machines to supermarkets",
            "languages": ["en", "it"],
            "years_active": 12,
            "company_size": "medium",
        }
        answer = client.post("/api/v1/partners", json=profile, headers=headers)
        assert answer.status_code == 201, answer.text
    return email, organization


def _slot(days: int, hour: int) -> str:
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return when.replace(hour=hour).strftime("%Y-%m-%dT%H:%M")


def test_from_registration_to_a_settled_deal(
    live_app: LiveApp, visitors: Callable[[str], Visitor], admin: Visitor
) -> None:
    partner_email, organization = _fitting_partner(live_app)
    sme, partner = visitors("sme"), visitors("partner")

    # The SME registers and completes the company profile.
    sme.goto("/register")
    sme_email = f"sme-{_unique()}@journeys.example"
    sme.submit(
        'form[action="/register"]',
        {"full_name": "Giulia Bianchi", "email": sme_email, "password": PASSWORD, "role": "sme"},
    )
    assert sme.page_name == "profile-edit"
    sme.submit(
        'form[action="/profile/edit"]',
        {
            "company_name": f"Pastificio Bianchi {_unique()}",
            "vat_number": f"IT{uuid.uuid4().int % 10**11:011d}",
            "city": "Bologna",
            "sectors": ["agri_food"],
            "products": "Pasta production lines and food packaging machines for supermarkets",
            "target_countries": ["KE"],
            "company_size": "small",
            "languages": ["it", "en"],
        },
    )
    assert sme.page_name == "profile"

    # Matches are computed by the worker: the SME sees the partner, with the reasons in words, and accepts.
    sme.goto("/matches")
    card = sme.page.locator("li[data-match-id]", has_text=organization)

    def partner_suggested() -> bool:
        sme.page.reload()
        return card.count() == 1

    wait_until(partner_suggested, timeout=WORKER_TIMEOUT, every=1.0, what=f"{organization} among the SME's matches")
    sme.check_page()
    match_id = card.get_attribute("data-match-id")
    assert card.locator(".explanation").inner_text().strip(), "a match shows why it was suggested"
    sme.submit(f'form[action="/matches/{match_id}/accept"]')
    assert sme.attribute(f'li[data-match-id="{match_id}"]', "data-status") == "accepted"

    # The partner signs in and accepts: they are connected.
    partner.sign_in(partner_email, PASSWORD)
    partner.goto(f"/matches/{match_id}")
    partner.submit(f'form[action="/matches/{match_id}/accept"]')
    assert partner.attribute("#match-status", "data-status") == "connected"

    # They agree a video call: the SME proposes two times, the partner picks one.
    sme.goto(f"/matches/{match_id}")
    sme.submit(
        f'form[action="/matches/{match_id}/meetings"]',
        {"slot_1": _slot(7, 9), "slot_2": _slot(8, 10), "video_link": "https://meet.example.org/bianchi-kamau"},
    )
    assert sme.attribute("article[data-meeting-id]", "data-status") == "proposed"
    partner.goto(f"/matches/{match_id}")
    partner.submit('form[action^="/meetings/"][action$="/accept"]')
    assert partner.attribute("article[data-meeting-id]", "data-status") == "accepted"
    sme.goto(f"/matches/{match_id}")
    assert sme.attribute("article[data-meeting-id]", "data-status") == "accepted"

    # The SME opens a deal and pays by bank transfer.
    sme.goto("/deals")
    due = (date.today() + timedelta(days=30)).isoformat()
    sme.submit(
        'form[action="/deals"]',
        {
            "match_id": str(match_id),
            "description": "Two pasta lines, installation in Nairobi",
            "amount": "1250,50" if sme.language == "it" else "1250.50",  # typed the reader's way
            "currency": "EUR",
            "due_date": due,
        },
    )
    assert sme.page_name == "deal-detail"
    deal_path = re.sub(r"^https?://[^/]+", "", sme.page.url)
    assert re.fullmatch(r"/deals/\d+", deal_path), deal_path
    sme.submit(f'form[action="{deal_path}/pay"]')
    assert sme.attribute("[data-state]", "data-state") == "awaiting_payment"
    assert sme.page.locator("html").get_attribute("lang") == sme.language
    reference = sme.page.locator('[data-testid="payment-reference"]').inner_text().strip()
    assert reference.startswith("RF"), reference

    # An admin records the incoming transfer and settles.
    admin.goto("/admin/reconcile")
    admin.submit(
        'form[action="/admin/reconcile"]',
        {
            "reference": reference,
            "amount": "1250.50",
            "currency": "EUR",
            "bank_transaction_id": f"BT-{_unique()}",
            "confirm": "yes",  # money moves: the page asks for a confirmation
        },
    )
    admin.goto(deal_path)
    assert admin.attribute("[data-state]", "data-state") == "paid"
    admin.submit(f'form[action="{deal_path}/settle"]', {"confirm": "yes"})
    assert admin.attribute("[data-state]", "data-state") == "settled"

    # Both sides see it settled.
    for person in (sme, partner):
        person.goto(deal_path)
        assert person.attribute("[data-state]", "data-state") == "settled"


def _course(client: httpx.Client, headers: dict[str, str], *, capacity: int, price_minor: int = 0) -> int:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    answer = client.post(
        "/api/v1/courses",
        json={
            "title": f"Export paperwork for Tanzania {_unique()}",
            "description": "Certificates of origin, TBS standards and clearing agents.",
            "language": "en",
            "level": "beginner",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": capacity,
            "price_minor": price_minor,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_an_sme_enrolls_in_a_course_and_joins_a_waitlist(live_app: LiveApp, visitors: Callable[[str], Visitor]) -> None:
    from abb.demo.seed import DEMO_PASSWORD
    from tests.e2e.conftest import ADMIN_EMAIL

    with live_app.api() as client:
        login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": DEMO_PASSWORD})
        admin_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        open_course = _course(client, admin_headers, capacity=5)
        full_course = _course(client, admin_headers, capacity=1)
        _email, other = _register_by_api(client, "sme", "Marco Rossi")
        taken = client.post(f"/api/v1/courses/{full_course}/enrollments", json={}, headers=other)
        assert taken.status_code == 201, taken.text
        sme_email, _headers = _register_by_api(client, "sme", "Giulia Verdi")

    sme = visitors("sme")
    sme.sign_in(sme_email, PASSWORD)
    sme.goto("/courses")
    sme.goto(f"/courses/{open_course}")
    sme.submit(f'form[action="/courses/{open_course}/enroll"]')
    assert sme.attribute('[data-testid="enrollment-status"]', "data-status") == "enrolled"

    sme.goto(f"/courses/{full_course}")
    sme.submit(f'form[action="/courses/{full_course}/enroll"]:has(input[name="waitlist"])')
    assert sme.attribute('[data-testid="enrollment-status"]', "data-status") == "waitlisted"


def test_an_sme_pays_a_course_seat_by_bank_transfer_and_is_enrolled_once_reconciled(
    live_app: LiveApp, visitors: Callable[[str], Visitor]
) -> None:
    from abb.demo.seed import DEMO_PASSWORD
    from tests.e2e.conftest import ADMIN_EMAIL

    with live_app.api() as client:
        login = client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": DEMO_PASSWORD})
        admin_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        course = _course(client, admin_headers, capacity=3, price_minor=14900)
        sme_email, _headers = _register_by_api(client, "sme", "Chiara Bianchi")

    sme = visitors("sme")
    sme.sign_in(sme_email, PASSWORD)
    sme.goto(f"/courses/{course}")
    sme.submit(f'form[action="/courses/{course}/enroll"]')  # leads to the pay step
    assert sme.attribute('[data-testid="enrollment-status"]', "data-status") == "awaiting_payment"
    sme.submit('form[method="get"]', {"method": "bank_transfer"})  # the method, then the confirmation
    sme.submit("form.confirm", {"confirm": "yes"})
    reference = sme.page.locator('[data-testid="payment-reference"]').inner_text()
    assert reference.startswith("RF")

    with live_app.api() as client:
        reconciled = client.post(
            "/api/v1/admin/enrollment-reconciliations",
            json={"reference": reference, "currency": "EUR", "amount": "149.00", "bank_transaction_id": _unique()},
            headers=admin_headers,
        )
        assert reconciled.status_code == 201, reconciled.text
    sme.goto(f"/courses/{course}")
    assert sme.attribute('[data-testid="enrollment-status"]', "data-status") == "enrolled"


def test_a_wrong_password_says_so_on_the_sign_in_page(live_app: LiveApp, visitors: Callable[[str], Visitor]) -> None:
    with live_app.api() as client:
        email, _headers = _register_by_api(client, "sme", "Luca Neri")
    visitor = visitors("visitor")
    visitor.goto("/login")
    visitor.submit('form[action="/login"]', {"email": email, "password": "not-the-password"}, status=401)
    assert visitor.page_name == "login"
    alert = visitor.page.get_by_role("alert")
    assert alert.is_visible() and alert.inner_text().strip(), "the refusal is shown in words"
    assert visitor.page.locator('input[name="email"]').input_value() == email, "the e-mail is kept for the retry"
    assert not visitor.page.context.cookies() or all(c["name"] != "abb_session" for c in visitor.page.context.cookies())


def test_an_oversized_upload_shows_an_error_page_not_json(
    live_app: LiveApp, visitors: Callable[[str], Visitor], tmp_path
) -> None:
    with live_app.api() as client:
        email, _headers = _register_by_api(client, "sme", "Sara Galli")
    visitor = visitors("sme")
    visitor.sign_in(email, PASSWORD)
    visitor.goto("/documents")
    big = tmp_path / "brochure.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (UPLOAD_MAX_BYTES * 4))
    visitor.page.locator('input[name="file"]').set_input_files(big)
    visitor.submit('form[action="/documents"]', status=413)
    assert visitor.page_name == "error"
    assert visitor.attribute('[data-testid="error-page"]', "data-status") == "413"
    assert visitor.page.get_by_role("alert").is_visible()
    assert "application/problem+json" not in visitor.page.content()


def test_page_load_timings_reach_the_metrics(live_app: LiveApp, visitors: Callable[[str], Visitor]) -> None:
    before = sample(live_app.metrics(), "abb_frontend_page_load_seconds_count", page="login")
    visitor = visitors("visitor")
    visitor.goto("/login")
    wait_until(
        lambda: sample(live_app.metrics(), "abb_frontend_page_load_seconds_count", page="login") > before,
        timeout=30,
        what="the login page's load time (sent by the page with sendBeacon) in /metrics",
    )


@pytest.mark.parametrize("viewport", ["phone"])
def test_the_phone_check_sees_a_page_that_scrolls_sideways(visitors: Callable[[str], Visitor]) -> None:
    """The sideways-scroll check can fail: a page made wider than the phone is caught."""
    visitor = visitors("visitor")
    visitor.goto("/login")
    visitor.page.evaluate("document.querySelector('main').style.minWidth = '900px'")
    with pytest.raises(AssertionError, match="scrolls sideways"):
        visitor.check_page()

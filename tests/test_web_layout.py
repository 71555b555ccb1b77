"""Phone layouts, checked in Debian's Chromium against the real app (`abb serve` on seeded demo data, as `make run`):
at 360 px no page scrolls sideways, the navigation stays one line, and each filter label sits right above its control.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from abb.demo.seed import DEMO_PASSWORD
from tests.harness.browser import chromium
from tests.harness.monitoring import ABB, app_env, app_server
from tests.harness.services import free_port

pytestmark = pytest.mark.slow

PHONE = 360
PAGES = [
    "/dashboard",
    "/partners",
    "/smes",
    "/matches",
    "/meetings",
    "/deals",
    "/courses",
    "/documents",
    "/profile",
    "/profile/edit",
    "/settings",
    "/password/forgot",
    "/deals/abc",  # an error page
    "/deals/DEAL",  # a deal and a connected match, made by the fixture
    "/matches/MATCH",
]
DYNAMIC: dict[str, str] = {}


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("layout")
    env = app_env(work, ABB_FAULT_INJECTION="false")
    server = app_server(work, free_port(), env)
    subprocess.run(
        [ABB, "seed-demo", "--smes", "15", "--partners", "20"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=300,
    )
    server.start(timeout=180)  # start-up imports take long on a loaded CI machine
    try:
        yield _with_a_deal_and_a_meeting(server.url)
    finally:
        server.stop()


def _with_a_deal_and_a_meeting(url: str) -> str:
    """The demo pair connects, agrees a meeting and opens a deal through the API, so tables have rows."""
    with httpx.Client(base_url=url, timeout=30) as api:
        tokens = {}
        for who in ("sme", "partner"):
            login = api.post(
                "/api/v1/auth/login",
                json={"email": f"{who}@demo.africabusinessbridge.example", "password": DEMO_PASSWORD},
            )
            tokens[who] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        ids = [
            {m["id"] for m in api.get("/api/v1/matches", params={"limit": 100}, headers=tokens[w]).json()["items"]}
            for w in ("sme", "partner")
        ]
        match_id = min(ids[0] & ids[1])
        for who in ("sme", "partner"):
            api.post(f"/api/v1/matches/{match_id}/accept", headers=tokens[who]).raise_for_status()
        start = (datetime.now(UTC) + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
        slots = [start.isoformat(), (start + timedelta(hours=3)).isoformat()]
        meeting = api.post(
            f"/api/v1/matches/{match_id}/meetings",
            json={"slots": slots, "video_link": "https://meet.example.com/demo"},
            headers=tokens["sme"],
        )
        api.post(
            f"/api/v1/meetings/{meeting.json()['id']}/accept", json={"slot": slots[1]}, headers=tokens["partner"]
        ).raise_for_status()
        deal = api.post(
            "/api/v1/deals",
            json={
                "match_id": match_id,
                "description": "Cold-chain distribution of espresso machines in Nairobi and Mombasa",
                "currency": "EUR",
                "amount": "12500.50",
                "due_date": (date.today() + timedelta(days=30)).isoformat(),
            },
            headers={**tokens["sme"], "Idempotency-Key": "layout-demo-deal"},
        )
        deal.raise_for_status()
        DYNAMIC["/deals/DEAL"] = f"/deals/{deal.json()['id']}"
        DYNAMIC["/matches/MATCH"] = f"/matches/{match_id}"
    return url


@pytest.fixture(scope="module")
def phone(demo_site: str) -> Iterator[Page]:
    """One signed-in demo SME in a phone-sized Playwright page; tests pick the language per request."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": PHONE, "height": 800}, is_mobile=True, base_url=demo_site)
        page = context.new_page()
        page.goto("/login")
        form = page.locator("form[action='/login']")
        form.locator("[name=email]").fill("sme@demo.africabusinessbridge.example")
        form.locator("[name=password]").fill(DEMO_PASSWORD)
        with page.expect_navigation():
            form.locator("[type=submit]").first.click()
        assert "/login" not in page.url, f"the demo SME could not sign in: {page.url}"
        yield page
        context.close()


def _open(page: Page, path: str, language: str | None = None) -> None:
    if language:
        page.set_extra_http_headers({"Accept-Language": language})
    response = page.goto(path)
    assert response is not None, f"no response for {path}"


def _overflow(page: Page) -> list[str]:
    """Elements wider than the window, for the failure message (empty when nothing sticks out)."""
    return list(
        page.evaluate(
            """[...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > 361 && !e.closest('.main-nav, .table-scroll'))
              .slice(0, 5)
              .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
        )
    )


def _page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.parametrize("language", ["it", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(phone: Page, path: str, language: str):
    path = DYNAMIC.get(path, path)
    _open(phone, path, language)
    assert phone.evaluate("document.documentElement.lang") == language
    width = _page_width(phone)
    assert width <= PHONE, f"{path} is {width}px wide at {PHONE}px: {_overflow(phone)}"


def test_the_sideways_check_catches_a_wide_element(phone: Page):
    """The check above can fail: a 600 px block on a phone page is measured and named."""
    _open(phone, "/dashboard", "en")
    assert _page_width(phone) <= PHONE
    phone.evaluate(
        "() => { const wide = document.createElement('div'); wide.className = 'too-wide';"
        " wide.style.width = '600px'; wide.textContent = 'x'; document.querySelector('main').append(wide); }"
    )
    assert _page_width(phone) > PHONE
    assert any("too-wide" in element for element in _overflow(phone))


def test_the_navigation_is_one_compact_line_on_a_phone(phone: Page):
    _open(phone, "/dashboard", "it")
    links = phone.evaluate("[...document.querySelectorAll('.main-nav > a')].map(a => a.getBoundingClientRect().top)")
    assert len(links) >= 8 and len({round(top) for top in links}) == 1, f"nav links on several lines: {links}"
    nav_height = phone.evaluate("document.querySelector('.main-nav').getBoundingClientRect().height")
    assert nav_height < 60


@pytest.mark.parametrize("path", ["/partners", "/matches", "/courses"])
def test_filter_labels_sit_right_above_their_controls(phone: Page, path: str):
    _open(phone, path)
    gaps = phone.evaluate(
        """[...document.querySelectorAll('form.filters label')].map(label => {
             const control = document.getElementById(label.htmlFor);
             const l = label.getBoundingClientRect(), c = control.getBoundingClientRect();
             return [label.htmlFor, Math.round(c.top - l.bottom), Math.round(Math.abs(c.left - l.left))];
           })"""
    )
    assert gaps, f"{path} has no filter form"
    for name, vertical, horizontal in gaps:
        assert 0 <= vertical <= 12 and horizontal <= 2, f"{path}: label {name} is {vertical}px/{horizontal}px away"


def test_links_take_the_sites_palette(phone: Page):
    _open(phone, "/dashboard")
    colour = phone.evaluate("getComputedStyle(document.querySelector('main a')).color")
    assert colour in ("rgb(10, 92, 138)", "rgb(90, 63, 143)")  # --link, --link-visited


def test_matches_page_in_italian_screenshot(phone: Page, tmp_path: Path):
    """The README's screenshot is made the same way (scripts/screenshot_matches.py); here it must show Italian."""
    _open(phone, "/matches", "it")
    assert "I tuoi abbinamenti" in phone.locator("h1").inner_text()
    shot = tmp_path / "matches-it.png"
    phone.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

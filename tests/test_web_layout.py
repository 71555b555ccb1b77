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

from abb.demo.seed import DEMO_PASSWORD
from tests.harness.chromium import Chromium
from tests.harness.monitoring import ABB, app_env, app_server
from tests.harness.services import free_port

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
def phone(demo_site: str) -> Iterator[Chromium]:
    browser = Chromium()
    browser.viewport(PHONE)
    browser.open(f"{demo_site}/login")
    browser.submit_form(
        "form[action='/login']", {"email": "sme@demo.africabusinessbridge.example", "password": DEMO_PASSWORD}
    )
    yield browser
    browser.close()


def _overflow(browser: Chromium) -> list[str]:
    """Elements wider than the window, for the failure message (empty when nothing sticks out)."""
    return list(
        browser.evaluate(
            """[...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > 361 && !e.closest('.main-nav, .table-scroll'))
              .slice(0, 5)
              .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
        )
    )


@pytest.mark.parametrize("language", ["it", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(phone: Chromium, demo_site: str, path: str, language: str):
    phone.set_language(language)
    path = DYNAMIC.get(path, path)
    phone.open(f"{demo_site}{path}")
    assert phone.evaluate("document.documentElement.lang") == language
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE, f"{path} is {width}px wide at {PHONE}px: {_overflow(phone)}"


def test_the_navigation_is_one_compact_line_on_a_phone(phone: Chromium, demo_site: str):
    phone.set_language("it")
    phone.open(f"{demo_site}/dashboard")
    links = phone.evaluate("[...document.querySelectorAll('.main-nav > a')].map(a => a.getBoundingClientRect().top)")
    assert len(links) >= 8 and len({round(top) for top in links}) == 1, f"nav links on several lines: {links}"
    nav_height = phone.evaluate("document.querySelector('.main-nav').getBoundingClientRect().height")
    assert nav_height < 60


@pytest.mark.parametrize("path", ["/partners", "/matches", "/courses"])
def test_filter_labels_sit_right_above_their_controls(phone: Chromium, demo_site: str, path: str):
    phone.open(f"{demo_site}{path}")
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


def test_links_take_the_sites_palette(phone: Chromium, demo_site: str):
    phone.open(f"{demo_site}/dashboard")
    colour = phone.evaluate("getComputedStyle(document.querySelector('main a')).color")
    assert colour in ("rgb(10, 92, 138)", "rgb(90, 63, 143)")  # --link, --link-visited


def test_matches_page_in_italian_screenshot(phone: Chromium, demo_site: str, tmp_path: Path):
    """The README's screenshot is made the same way (scripts/screenshot.py); here it must show Italian words."""
    phone.set_language("it")
    phone.open(f"{demo_site}/matches")
    assert "I tuoi abbinamenti" in phone.evaluate("document.querySelector('h1').textContent")
    shot = tmp_path / "matches-it.png"
    phone.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

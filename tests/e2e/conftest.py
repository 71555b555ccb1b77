"""The end-to-end harness: the real app (`abb serve`, a uvicorn subprocess) on PostgreSQL with Redis and a Celery
worker (`abb worker`), driven by Debian's Chromium through Playwright.

Nothing is downloaded: Playwright launches /usr/bin/chromium (never `playwright install`) and axe-core comes
inside the `axe-playwright-python` wheel. Each journey runs twice: at a desktop viewport in English and at a phone
viewport in Italian (the browser's Accept-Language picks the site's language); on a failure the screenshots and
the Playwright trace of every browser of the test are kept under var/test-artifacts/.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from abb.demo.seed import DEMO_PASSWORD
from tests.e2e.browsing import Visitor
from tests.harness.browser import chromium
from tests.harness.monitoring import ABB, app_server, worker_server
from tests.harness.redis import RedisServer
from tests.harness.serve import CHEAP_PASSWORD_HASHING, as_env
from tests.harness.services import PostgresServer, free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Both languages are walked without doubling the journeys: the phone user is Italian.
LANGUAGES = {"desktop": "en-GB", "phone": "it-IT"}
ADMIN_EMAIL = "admin@demo.africabusinessbridge.example"
UPLOAD_MAX_BYTES = 64 * 1024  # small, so that the oversized-upload journey sends little


@dataclass
class LiveApp:
    url: str
    log: Path

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def metrics(self) -> str:
        with self.api() as client:
            answer = client.get("/metrics")
            assert answer.status_code == 200, answer.text
            return answer.text


@pytest.fixture(scope="session")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[LiveApp]:
    """`abb serve` on its own PostgreSQL database, Redis database 2 as broker and cache, one `abb worker`."""
    work = tmp_path_factory.mktemp("e2e")
    env = {
        "ABB_ENV": "test",
        "ABB_SECRET_KEY": "end-to-end-test-secret-key-0123456789abcdef",
        "ABB_VAR_DIR": str(work / "var"),
        "ABB_DATABASE_URL": postgres_server.create_database("abb_e2e"),
        "ABB_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/2",
        "ABB_UPLOAD_MAX_BYTES": str(UPLOAD_MAX_BYTES),
        "ABB_METRICS_CACHE_SECONDS": "0",
        "ABB_LOG_JSON": "false",
        "ABB_ACCESS_LOG": "false",
        # Every journey signs its people in from 127.0.0.1; the per-address limits have their own tests.
        "ABB_RATE_LIMIT_AUTH_IP": "100000/minute",
        "ABB_RATE_LIMIT_IP": "100000/minute",
        **as_env(CHEAP_PASSWORD_HASHING),
    }
    port = free_port()
    app = app_server(work, port, env)  # runs `abb migrate`
    seeded = subprocess.run(
        [ABB, "seed-demo", "--smes", "6", "--partners", "12"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seeded.returncode == 0, seeded.stderr
    worker = worker_server(work, free_port(), env)
    try:
        worker.start(timeout=120)
        app.start(timeout=120)
        yield LiveApp(app.url, app.log)
    finally:
        app.stop()
        worker.stop()


# Package scope: Playwright's sync API keeps an event loop running on this thread while it is open, which
# breaks asyncio.run() in every later test module; it is closed when tests/e2e/ is done.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def visitors(
    request: pytest.FixtureRequest, browser: Any, live_app: LiveApp, viewport: str
) -> Iterator[Callable[[str], Visitor]]:
    """Opens one browser context (its own cookies) per person of a journey, all at the test's viewport, traced."""
    opened: list[tuple[str, Any, Visitor]] = []

    def open_visitor(who: str) -> Visitor:
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale=LANGUAGES[viewport], base_url=live_app.url)
        context.tracing.start(screenshots=True, snapshots=True)
        visitor = Visitor(context.new_page(), phone=viewport == "phone", language=LANGUAGES[viewport][:2])
        opened.append((who, context, visitor))
        return visitor

    yield open_visitor
    failed = request.node.stash.get(_FAILED, True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for who, context, visitor in opened:
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            visitor.page.screenshot(path=ARTIFACTS / f"{name}-{who}.png", full_page=True)
            context.tracing.stop(path=ARTIFACTS / f"{name}-{who}-trace.zip")
        else:
            context.tracing.stop()
        context.close()


@pytest.fixture
def admin(visitors: Callable[[str], Visitor]) -> Visitor:
    visitor = visitors("admin")
    visitor.sign_in(ADMIN_EMAIL, DEMO_PASSWORD)
    return visitor

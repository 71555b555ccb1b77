"""Debian's Chromium driven by Playwright, the one way the suite (and scripts/screenshot_matches.py) opens a
browser: never `playwright install`, the binary comes from Debian's `chromium` package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.harness.services import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Playwright `Browser` on Debian's Chromium, closed (with Playwright's driver) on exit."""
    if not Path(CHROMIUM).exists():
        unavailable("Debian's chromium is not installed (scripts/install-test-services.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()

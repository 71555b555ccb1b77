"""Debian's Chromium, headless, driven over the DevTools protocol: open a page at a given width, run JavaScript in
it, take a screenshot. Enough for layout checks; the end-to-end journeys use Playwright on the same binary."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.harness.services import unavailable
from tests.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"


class Chromium:
    """One headless browser with one tab; stopped by its PID on close."""

    def __init__(self, profile: Path | None = None) -> None:
        if not Path(CHROMIUM).exists():
            unavailable("Debian's chromium is not installed (scripts/install-test-services.sh installs it)")
        self._own_profile = profile is None
        self.profile = profile or Path(tempfile.mkdtemp(prefix="abb-chromium-"))
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        active = self.profile / "DevToolsActivePort"
        port = wait_until(
            lambda: active.exists() and active.read_text().split("\n")[0].strip(),
            timeout=30,
            what="Chromium's DevTools port file",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t["type"] == "page")
        self._closing = contextlib.ExitStack()
        self.socket: ClientConnection = self._closing.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        )
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def viewport(self, width: int, height: int = 800, *, mobile: bool = True) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def set_language(self, accept_language: str) -> None:
        self.send("Network.enable")
        self.send("Network.setExtraHTTPHeaders", headers={"Accept-Language": accept_language})

    def open(self, url: str) -> None:
        """Navigate and wait until the page has loaded (document.readyState complete)."""
        self.send("Page.navigate", url=url)
        wait_until(lambda: self._loaded_href() not in (None, "about:blank"), timeout=30, what=f"{url} to load")

    def _loaded_href(self) -> str | None:
        try:
            href = self.evaluate("document.readyState === 'complete' ? location.href : null")
        except RuntimeError:  # the old page's context went away mid-navigation
            return None
        return str(href) if href else None

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def submit_form(self, selector: str, fields: dict[str, str]) -> None:
        """Fill the form's fields and submit it as a person would (a real POST with its CSRF token)."""
        before = self.evaluate("location.href")
        self.evaluate(
            f"(() => {{ const form = document.querySelector({json.dumps(selector)});"
            f" for (const [name, value] of Object.entries({json.dumps(fields)})) form.elements[name].value = value;"
            " form.requestSubmit(); })()"
        )
        wait_until(
            lambda: self._loaded_href() not in (before, None), timeout=30, what=f"the form {selector} to be submitted"
        )

    def screenshot(self, path: Path, *, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone: only the process remains to be reaped
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._closing.close()
        if self._own_profile:
            shutil.rmtree(self.profile, ignore_errors=True)

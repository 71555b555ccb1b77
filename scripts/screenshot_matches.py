"""Screenshot of the matches page in Italian for the README (docs/images/matches-it.png).

Runs what `make run` runs (migrate, seed-demo, serve) in a temporary folder, signs the demo SME in with Debian's
Chromium (through Playwright, as the tests do), sets Italian on the settings page and takes the picture.
Run from the repository root: `.venv/bin/python scripts/screenshot_matches.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.browser import chromium
from tests.harness.monitoring import ABB, app_env, app_server
from tests.harness.services import free_port

from abb.demo.seed import DEMO_PASSWORD, DEMO_SME

OUT = Path("docs/images/matches-it.png")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="abb-screenshot-") as folder:
        work = Path(folder)
        env = app_env(work, ABB_FAULT_INJECTION="false")
        server = app_server(work, free_port(), env)
        seed = [ABB, "seed-demo", "--if-empty"]
        subprocess.run(seed, env={**os.environ, **env}, check=True, timeout=600)  # noqa: S603 - our own command
        server.start(timeout=180)
        try:
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 1000}, base_url=server.url)
                page.goto("/login")
                page.fill("form[action='/login'] [name=email]", DEMO_SME)
                page.fill("form[action='/login'] [name=password]", DEMO_PASSWORD)
                with page.expect_navigation():
                    page.click("form[action='/login'] [type=submit]")
                page.goto("/settings")
                page.select_option("form[action='/settings'] [name=locale]", "it")
                with page.expect_navigation():
                    page.click("form[action='/settings'] [type=submit]")
                page.goto("/matches")
                OUT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=OUT)
        finally:
            server.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

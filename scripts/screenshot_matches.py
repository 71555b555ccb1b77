"""Screenshot of the matches page in Italian for the README (docs/images/matches-it.png).

Runs what `make run` runs (migrate, seed-demo, serve) in a temporary folder, signs the demo SME in with Debian's
Chromium and sets Italian, then takes the picture with Chromium's own `--screenshot` on that browser profile.
Run from the repository root: `.venv/bin/python scripts/screenshot_matches.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.chromium import CHROMIUM, Chromium
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
            profile = work / "chromium-profile"
            browser = Chromium(profile)
            browser.viewport(1280, 1000, mobile=False)
            browser.open(f"{server.url}/login")
            browser.submit_form("form[action='/login']", {"email": DEMO_SME, "password": DEMO_PASSWORD})
            browser.open(f"{server.url}/settings")
            browser.submit_form("form[action='/settings']", {"locale": "it"})
            browser.close()  # writes the session cookie to the profile
            OUT.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(  # noqa: S603 - Debian's chromium with fixed arguments
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={profile}",
                    "--window-size=1280,1000",
                    f"--screenshot={OUT.resolve()}",
                    f"{server.url}/matches",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        finally:
            server.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

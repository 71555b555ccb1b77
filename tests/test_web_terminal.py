"""The terminal: `abb serve` writes short readable lines to a person in development and JSON everywhere else;
`make run` says what it is doing while it installs."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
from pathlib import Path

import pytest

from abb.observability.logging import ACCESS_LOGGER, configure_logging, wants_json
from tests.conftest import make_settings


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "log_json", "terminal", "expected"),
    [
        ("development", None, True, False),  # a person running abb serve / make run
        ("development", None, False, True),  # piped or redirected: machines read it
        ("production", None, True, True),
        ("development", True, True, True),  # ABB_LOG_JSON wins either way
        ("production", False, False, False),
    ],
)
def test_json_unless_a_person_watches_in_development(env, log_json, terminal, expected):
    # Built as development, then relabelled: production's start-up checks (PostgreSQL, secret) are not the point here.
    settings = make_settings(env="development", log_json=log_json).model_copy(update={"env": env})
    stream = FakeTerminal() if terminal else io.StringIO()
    assert wants_json(settings, stream) is expected


def test_terminal_lines_are_short_and_still_redacted():
    stream = FakeTerminal()
    configure_logging(make_settings(env="development", log_json=None, telemetry_flush_seconds=0), stream=stream)
    try:
        logging.getLogger(ACCESS_LOGGER).info("GET /matches 200", extra={"event.duration": 12_400_000})
        logging.getLogger("abb.errors").warning("login failed password=hunter2")
    finally:
        configure_logging(make_settings())
    access, warning = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  GET /matches 200 12 ms", access), access
    assert warning.startswith(tuple("0123456789")) and "WARNING login failed" in warning and "(abb.errors)" in warning
    assert "hunter2" not in warning
    with pytest.raises(json.JSONDecodeError):
        json.loads(access)


def test_make_run_says_what_it_installs_on_a_fresh_machine(tmp_path):
    """What `make run` would do with no environment yet (make -n: nothing runs)."""
    plan = subprocess.run(
        ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    steps = [line for line in plan if line.startswith('echo "==> ')]
    assert [s.split("]")[0][-4:] for s in steps[:3]] == ["[1/3", "[2/3", "[3/3"], plan
    install = next(line for line in plan if "-r requirements.lock" in line)
    assert "--quiet" not in install  # uv's own progress shows while the packages install

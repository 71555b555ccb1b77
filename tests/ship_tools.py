"""Shared by the tests/test_ship_*.py files: where the shipping artefacts are, and the static checkers
(checkov in its own venv, actionlint, zizmor, shellcheck) found or, under CI=true, required."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "deploy" / "terraform"
WORKFLOWS = ROOT / ".github" / "workflows"
DOCKERFILE = ROOT / "Dockerfile"
CHECKOV = ROOT / "var" / "tools" / "checkov" / "bin" / "checkov"  # scripts/install-ship-tools.sh
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(path: str | Path | None, what: str) -> str:
    """The tool's path; a missing tool skips locally and fails under CI=true."""
    if path and Path(path).exists():
        return str(path)
    message = f"{what} is not installed (make test-setup installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def venv_tool(name: str) -> str:
    """A console script of the project's venv (actionlint, zizmor), or shellcheck from Debian."""
    return require_tool(shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name), name)

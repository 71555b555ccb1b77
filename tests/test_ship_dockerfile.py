"""The container image, checked statically (no Docker engine here): a pinned base, a builder stage with the
locked install, a non-root runtime without compilers or secrets, a health check on /health/live, and the
commands that Cloud Run runs (deploy/terraform/modules/cloud_run) exist in `abb` with those arguments."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
import typer
import typer.main

from abb.cli import app
from abb.core.config import Settings
from tests.ship_tools import DOCKERFILE, ROOT, TERRAFORM

SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEY|PRIVATE|CREDENTIAL)", re.IGNORECASE)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def parse(args: list[str]) -> Any:
    """Parse `abb ARGS` the way the container's entry point would, without running anything."""
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert args[0] in commands, f"abb has no command {args[0]!r}"
    return commands[args[0]].make_context(args[0], list(args[1:]))


def test_every_base_is_pinned_by_digest_and_none_is_latest() -> None:
    bases = [args.split()[0] for name, args in instructions() if name == "FROM"]
    assert len(bases) == 2
    for base in bases:
        assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base
        assert ":latest" not in base
    assert "dependabot" in DOCKERFILE.read_text().lower()


def test_the_builder_installs_the_lock_file_and_the_runtime_has_no_compilers() -> None:
    builder, runtime = stages()
    builder_text = " ".join(args for _, args in builder)
    assert "pip install --no-deps -r requirements.lock" in builder_text
    assert "build-essential" in builder_text
    runtime_text = " ".join(args for _, args in runtime)
    for compiler in ("build-essential", "gcc", "g++", "apt-get install"):
        assert compiler not in runtime_text
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime


def test_the_runtime_runs_as_a_non_root_user() -> None:
    runtime = stages()[-1]
    users = [args for name, args in runtime if name == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    user_index = runtime.index(("USER", users[-1]))
    assert all(name not in {"RUN", "COPY", "ADD"} for name, _ in runtime[user_index + 1 :])


def test_no_secrets_in_layers() -> None:
    for name, args in instructions():
        if name in {"ENV", "ARG"}:
            for key in re.findall(r"(\w+)=", args) or [args.split()[0]]:
                assert not SECRET_NAME.search(key), f"{name} {key}: secrets come from Secret Manager at run time"
        if name in {"COPY", "ADD"}:
            assert not re.search(r"\.env\b|gha-creds|\.pem|\.key\b|id_rsa", args), args
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", "the build context must be an allow-list"
    assert "**/.env" in ignore and "**/gha-creds-*.json" in ignore


def test_environment_variables_set_in_the_image_are_settings_the_app_reads() -> None:
    fields = {f"ABB_{name.upper()}" for name in Settings.model_fields}
    runtime_env = " ".join(args for name, args in stages()[-1] if name == "ENV")
    names = set(re.findall(r"(ABB_\w+)=", runtime_env))
    assert names and names - {"ABB_WORKERS"} <= fields
    assert "PORT=8080" in runtime_env


def test_healthcheck_calls_health_live_on_port() -> None:
    health = [args for name, args in instructions() if name == "HEALTHCHECK"]
    assert len(health) == 1
    command = json.loads(health[0][health[0].index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")
    assert "/health/live" in command[2] and "PORT" in command[2]


def test_entrypoint_and_default_command_serve_the_api() -> None:
    entry = json.loads(next(args for name, args in instructions() if name == "ENTRYPOINT"))
    cmd = json.loads(next(args for name, args in instructions() if name == "CMD"))
    assert entry == ["abb"]
    ctx = parse(cmd)
    assert ctx.params["host"] == "0.0.0.0"


def test_serve_reads_port_and_workers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("ABB_WORKERS", "3")
    params = parse(["serve"]).params
    assert (params["port"], params["workers"]) == (9123, 3)
    monkeypatch.setenv("ABB_WORKERS", "0")
    with pytest.raises(typer.BadParameter):
        parse(["serve"])


def cloud_run_args() -> dict[str, list[str]]:
    """The `args` of each container in the cloud_run module, with Terraform interpolations filled in."""
    text = (TERRAFORM / "modules" / "cloud_run" / "main.tf").read_text()
    found: dict[str, list[str]] = {}
    for resource, body in re.findall(r'resource "google_cloud_run_v2_\w+" "(\w+)" \{(.*?)\n\}', text, re.S):
        args = re.search(r"args\s*=\s*\[(.*?)\]\n", body)
        assert args, resource
        values = re.findall(r'"([^"]*)"|tostring\(([\w.]+)\)', args.group(1))
        found[resource] = [literal or "4" for literal, _ in values]
    return found


def test_the_commands_cloud_run_runs_exist_in_the_package() -> None:
    commands = cloud_run_args()
    assert set(commands) == {"api", "worker", "migrate"}
    contexts: dict[str, Any] = {name: parse(args) for name, args in commands.items()}
    assert contexts["api"].command.name == "serve" and contexts["api"].params["host"] == "0.0.0.0"
    assert contexts["worker"].command.name == "worker" and contexts["worker"].params["pool"] == "threads"
    assert contexts["migrate"].command.name == "migrate"


def test_a_command_the_package_lacks_is_caught() -> None:
    with pytest.raises(AssertionError, match="no command"):
        parse(["no-such-command"])
    with pytest.raises(Exception, match="No such option"):
        parse(shlex.split("worker --no-such-option 1"))


def test_environment_variables_terraform_sets_are_settings_the_app_reads() -> None:
    fields = {f"ABB_{name.upper()}" for name in Settings.model_fields}
    cli_only = {"ABB_WORKERS", "ABB_HOST"}  # `abb serve` options, not settings
    names = set(re.findall(r"\b(ABB_[A-Z0-9_]+)\b", (TERRAFORM / "modules" / "cloud_run" / "main.tf").read_text()))
    names |= set(re.findall(r"\b(ABB_[A-Z0-9_]+)\b", (TERRAFORM / "platform" / "main.tf").read_text()))
    for env in ("staging", "production"):
        tfvars = (TERRAFORM / "envs" / env / "terraform.tfvars").read_text()
        names |= set(re.findall(r"^\s*(ABB_[A-Z0-9_]+)\s*=", tfvars, re.M))
    assert {"ABB_DATABASE_URL", "ABB_SECRET_KEY", "ABB_REDIS_URL", "ABB_WORKER_METRICS_PORT"} <= names
    assert names - cli_only <= fields, (names - cli_only) - fields

""".github/: the pipeline and Terraform workflows pass actionlint (with shellcheck) and zizmor --offline, pin
every action by commit SHA, give each job least privilege, a timeout and the make targets `.ci/run` uses;
dependabot covers the three ecosystems."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from abb.cli import app
from tests.ship_tools import ROOT, WORKFLOWS, venv_tool

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
OURS = [path for path in WORKFLOW_FILES if path.name in {"pipeline.yml", "terraform.yml"}]
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def pipeline() -> dict[str, Any]:
    return load(WORKFLOWS / "pipeline.yml")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_actionlint_with_shellcheck_passes_on_every_workflow() -> None:
    actionlint, shellcheck = venv_tool("actionlint"), venv_tool("shellcheck")
    result = run(actionlint, "-shellcheck", shellcheck, *map(str, WORKFLOW_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_and_shellcheck_catch_a_broken_workflow(tmp_path: Path) -> None:
    actionlint, shellcheck = venv_tool("actionlint"), venv_tool("shellcheck")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $UNQUOTED_VAR\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    result = run(actionlint, "-shellcheck", shellcheck, str(broken))
    assert result.returncode != 0
    assert "SC2086" in result.stdout and "potentially untrusted" in result.stdout


def test_zizmor_offline_finds_nothing() -> None:
    result = run(venv_tool("zizmor"), "--offline", "--no-progress", str(ROOT / ".github"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_catches_an_unpinned_action_with_excessive_permissions(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
    )
    result = run(venv_tool("zizmor"), "--offline", "--no-progress", str(bad))
    assert result.returncode != 0, result.stderr
    assert "excessive-permissions" in result.stdout or "dangerous-triggers" in result.stdout


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_commit_sha_with_its_version(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for action, comment in uses:
        if action.startswith("./"):
            continue
        assert SHA_PIN.match(action), action
        assert re.search(r"#\s*v\d+(\.\d+)*", comment), f"{action} lacks its # vX.Y.Z comment"


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.name)
def test_least_privilege_timeouts_and_concurrency(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        assert "write-all" not in str(job["permissions"]), name
        assert 0 < job["timeout-minutes"] <= 60, name
        steps = job.get("steps", [])
        uses_google_auth = any(step.get("uses", "").startswith("google-github-actions/auth@") for step in steps)
        assert (job["permissions"].get("id-token") == "write") == uses_google_auth, name
        if uses_google_auth:
            assert "environment" in job, f"{name}: cloud credentials only inside a GitHub environment"
    deploys = [job for job in workflow["jobs"].values() if job.get("environment")]
    assert all("concurrency" in job or "concurrency" in workflow for job in deploys)


def test_the_pipeline_has_the_ten_stages_in_order() -> None:
    jobs = pipeline()["jobs"]
    stages = sorted((int(job["name"].split()[0]), name) for name, job in jobs.items())
    assert [number for number, _ in stages] == list(range(1, 11))
    assert [name for _, name in stages] == [
        "build", "unit-tests", "integration-tests", "code-quality", "security-scanning", "image",
        "deploy-staging", "e2e-staging", "deploy-production", "report",
    ]  # fmt: skip
    assert jobs["deploy-production"]["environment"]["name"] == "production"
    assert set(jobs["image"]["needs"]) == {"unit-tests", "integration-tests", "code-quality", "security-scanning"}
    assert pipeline()["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    for job in ("deploy-staging", "deploy-production"):
        assert jobs[job]["concurrency"]["cancel-in-progress"] is False


def test_the_pipeline_calls_the_make_targets_that_ci_run_uses() -> None:
    commands = [step.get("run", "") for job in pipeline()["jobs"].values() for step in job["steps"]]
    targets = {t for command in commands for t in re.findall(r"(?m)(?:^|&&|;)\s*make ([a-z.][\w./-]*)", command)}
    makefile = (ROOT / "Makefile").read_text()
    defined = set(re.findall(r"(?m)^([\w./-]+):", makefile)) | {".venv/.dev-installed", ".venv/.runtime-installed"}
    assert targets <= defined, targets - defined
    assert {"test-unit", "test-integration", "lint", "audit"} <= targets
    # test-unit and test-integration are the two halves of `make test`, split by the postgres marker.
    assert '-m "not postgres"' in makefile and "-m postgres" in makefile
    assert "make lint" in (ROOT / ".ci" / "run").read_text() and "make test" in (ROOT / ".ci" / "run").read_text()


def steps_text(job: str) -> list[str]:
    return [str(step.get("run", "")) + str(step.get("name", "")) for step in pipeline()["jobs"][job]["steps"]]


def test_production_migrates_first_then_shifts_traffic_gradually_and_rolls_back_on_failure() -> None:
    steps = steps_text("deploy-production")
    migrate = next(i for i, s in enumerate(steps) if "gcloud run jobs execute" in s)
    canary = next(i for i, s in enumerate(steps) if "--no-traffic --tag=canary" in s)
    shift = next(i for i, s in enumerate(steps) if "update-traffic" in s and "canary=$percent" in s)
    assert migrate < canary < shift
    assert "for percent in 10 50 100" in steps[shift]
    assert "abb.ops.smoke" in steps[shift] and "scripts/rollout-gate.sh" in steps[shift]
    rollback = pipeline()["jobs"]["deploy-production"]["steps"][-1]
    assert "failure()" in rollback["if"] and '--to-revisions="$PREVIOUS=100"' in rollback["run"]
    assert any("gcloud run jobs execute" in s for s in steps_text("deploy-staging"))


def test_the_monitoring_stage_uses_options_abb_ci_report_has() -> None:
    report = pipeline()["jobs"]["report"]["steps"][-1]["run"]
    used = set(re.findall(r"--[a-z][\w-]+", report.split("abb ci report", 1)[0] + report))
    ci_report = typer.main.get_command(app).commands["ci"].commands["report"]  # type: ignore[attr-defined]
    options = {opt for param in ci_report.params for opt in [*param.opts, *param.secondary_opts]}
    script_options = {o for o in used if o in {"--build-seconds", "--junit", "--deployment", "--success", "--failure"}}
    assert {"--build-seconds", "--junit", "--deployment"} <= script_options <= options
    assert "always()" in pipeline()["jobs"]["report"]["if"]


def test_scripts_the_workflows_run_exist_and_pass_shellcheck() -> None:
    text = "\n".join(path.read_text() for path in OURS)
    scripts = sorted(set(re.findall(r"\b(scripts/[\w.-]+\.sh)", text)))
    assert "scripts/rollout-gate.sh" in scripts
    result = run(venv_tool("shellcheck"), *scripts, "scripts/install-test-services.sh")
    assert result.returncode == 0, result.stdout


def test_terraform_plans_on_pull_requests_and_applies_only_from_main_after_review() -> None:
    jobs = load(WORKFLOWS / "terraform.yml")["jobs"]
    assert "pull_request" in jobs["plan"]["if"] and "-lock=false" in str(jobs["plan"]["steps"])
    assert jobs["plan"]["environment"] == "${{ matrix.environment }}-plan"
    assert jobs["apply-production"]["needs"] == "apply-staging"
    assert jobs["apply-production"]["environment"] == "production-infra"
    for job in ("apply-staging", "apply-production"):
        assert jobs[job]["if"] == "github.event_name == 'push'"
        assert "-lockfile=readonly" in str(jobs[job]["steps"])


def test_dependabot_updates_python_actions_and_docker_grouped() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert {"pip", "github-actions", "docker"} <= set(ecosystems)
    for update in config["updates"]:
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}
        assert update.get("groups"), update["package-ecosystem"]
        assert "directory" in update or "directories" in update

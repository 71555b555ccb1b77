"""The monitoring tools in-process: the test-only fault switch, `abb ci report`, the derived configs, docker-compose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import ValidationError
from typer.testing import CliRunner

from abb.app import create_app
from abb.cli import app as cli
from abb.core.config import Settings
from abb.ops import ci_report, monitoring_stack
from tests.conftest import make_settings
from tests.factories import assert_problem
from tests.fixtures_monitoring import ROOT

STRONG = "a-properly-random-production-secret-0123456789"
PG_URL = "postgresql://abb:secret@db.internal:5432/abb"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"


# --- the fault switch -------------------------------------------------------------------------------------------


def test_production_refuses_fault_injection_without_echoing_secrets() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(env="production", secret_key=STRONG, database_url=PG_URL, metrics_port=9464, fault_injection=True)
    assert "ABB_FAULT_INJECTION is for tests only" in str(info.value)
    assert STRONG not in str(info.value)
    assert (
        Settings(env="production", secret_key=STRONG, database_url=PG_URL, metrics_port=9464).fault_injection is False
    )


@pytest.mark.parametrize("env", ["development", "production"])
def test_fault_header_is_ignored_outside_tests(env: str, tmp_path: Path) -> None:
    overrides: dict[str, object] = {"env": env, "var_dir": tmp_path}
    if env == "production":
        overrides |= {"secret_key": STRONG, "database_url": PG_URL, "metrics_port": 9464}
    settings = make_settings(**overrides)
    # Even with the switch on (only possible outside production), nothing is installed outside tests.
    if env == "development":
        settings = settings.model_copy(update={"fault_injection": True})
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/live", headers={"X-Abb-Fault": "error"}).status_code == 200


def test_fault_header_fails_the_request_in_tests_only_when_switched_on(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(var_dir=tmp_path))) as client:
        assert client.get("/health/live", headers={"X-Abb-Fault": "error"}).status_code == 200
    labels = {"method": "GET", "route": "/health/live", "status": "500"}
    before = REGISTRY.get_sample_value("abb_http_requests_total", labels) or 0
    with TestClient(create_app(make_settings(var_dir=tmp_path, fault_injection=True))) as client:
        assert client.get("/health/live").status_code == 200
        assert_problem(client.get("/health/live", headers={"X-Abb-Fault": "error"}), 500, "injected-fault")
    # Counted as a real 5xx of the route that was asked for.
    assert REGISTRY.get_sample_value("abb_http_requests_total", labels) == before + 1


# --- abb ci report ----------------------------------------------------------------------------------------------


def test_ci_figures_are_read_from_the_runs_reports(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite tests="10" failures="2" errors="1" skipped="3"/>'
        '<testsuite tests="5" failures="0" errors="0" skipped="0"/></testsuites>'
    )
    assert ci_report.read_junit(junit) == {"passed": 9, "failed": 2, "errors": 1, "skipped": 3}
    coverage = tmp_path / "coverage.xml"
    coverage.write_text('<coverage line-rate="0.8123" branch-rate="0.71"/>')
    assert ci_report.read_cobertura_coverage(coverage) == pytest.approx(0.8123)
    assert ci_report.read_cobertura_coverage(coverage, "branch-rate") == pytest.approx(0.71)
    ruff = tmp_path / "ruff.json"
    ruff.write_text(json.dumps([{"code": "E501"}, {"code": "F401"}, {"code": "S101"}]))
    assert ci_report.read_ruff_findings(ruff) == 3
    ruff.write_text("{}")
    with pytest.raises(ValueError, match="not ruff's JSON"):
        ci_report.read_ruff_findings(ruff)


def test_ci_registry_holds_only_the_figures_the_run_knows() -> None:
    figures = ci_report.CiFigures(
        build_seconds=42.0, succeeded=False, tests={"passed": 7, "failed": 1}, benchmark_ratios={"api": 1.2}
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in ci_report.build_registry(figures, now=1_700_000_000).collect()
        for sample in family.samples
    }
    assert samples == {
        ("abb_ci_last_run_timestamp_seconds", ()): 1_700_000_000,
        ("abb_ci_build_duration_seconds", ()): 42.0,
        ("abb_ci_run_success", ()): 0.0,
        ("abb_ci_tests_total", (("result", "failed"),)): 1,
        ("abb_ci_tests_total", (("result", "passed"),)): 7,
        ("abb_ci_benchmark_ratio", (("benchmark", "api"),)): 1.2,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--deployment", "maybe"], "success or failure"),
        (["--benchmark", "matching"], "NAME=RATIO"),
        (["--benchmark", "=1.5"], "NAME=RATIO"),
        (["--build-seconds", "-1"], "greater than or equal to 0"),
    ],
)
def test_ci_report_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["ci", "report", "--gateway", "http://127.0.0.1:9", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output


def test_ci_report_says_when_the_gateway_cannot_be_reached() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    result = CliRunner().invoke(cli, ["ci", "report", "--gateway", "http://127.0.0.1:9", "--build-seconds", "1"])
    assert result.exit_code == 1
    assert "could not push to the Pushgateway" in result.output


# --- derived configs (what make monitoring and the live tests run) ---------------------------------------------


def test_derived_configs_change_only_addresses_intervals_and_for(tmp_path: Path) -> None:
    prom = monitoring_stack.derive_prometheus_config(
        tmp_path, targets={"abb-api": ["127.0.0.1:8000"]}, alertmanager="127.0.0.1:9093", interval="1s", alert_for="1s"
    )
    config = yaml.safe_load(prom.read_text())
    assert [job["job_name"] for job in config["scrape_configs"]] == ["abb-api"]
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]
    assert config["global"]["scrape_interval"] == "1s"
    for source in monitoring_stack.RULES_DIR.glob("*.yml"):
        original = yaml.safe_load(source.read_text())["groups"]
        derived = yaml.safe_load((tmp_path / "rules" / source.name).read_text())["groups"]
        for group, copy in zip(original, derived, strict=True):
            for rule, rule_copy in zip(group["rules"], copy["rules"], strict=True):
                assert rule["expr"] == rule_copy["expr"] and rule.get("labels") == rule_copy.get("labels")
                assert rule_copy.get("for") == ("1s" if "for" in rule else None)

    am = monitoring_stack.derive_alertmanager_config(
        tmp_path / "am",
        slack_url="http://127.0.0.1:1/slack",
        pagerduty_url="http://127.0.0.1:1/pd",
        smtp="127.0.0.1:25",
    )
    derived_am = yaml.safe_load(am.read_text())
    original_am = yaml.safe_load(monitoring_stack.ALERTMANAGER_CONFIG.read_text())
    assert derived_am["route"] == original_am["route"] and derived_am["inhibit_rules"] == original_am["inhibit_rules"]
    assert Path(derived_am["global"]["slack_api_url_file"]).read_text() == "http://127.0.0.1:1/slack"


# --- docker-compose, checked statically (there is no Docker engine here) ----------------------------------------

PORT = re.compile(r"^(?:127\.0\.0\.1:)?\d{1,5}:\d{1,5}$")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_describes_the_full_stack() -> None:
    services = _compose()["services"]
    expected = {
        "app", "worker", "postgres", "redis", "prometheus", "alertmanager", "grafana", "elasticsearch",
        "logstash", "kibana", "node-exporter", "postgres-exporter", "redis-exporter", "pushgateway",
    }  # fmt: skip
    assert expected <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for port in service.get("ports", []):
            assert PORT.match(str(port)), (name, port)
            assert all(0 < int(p) < 65536 for p in str(port).split(":")[-2:]), (name, port)
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)


def test_compose_mounts_only_files_that_exist_in_the_repo() -> None:
    compose = _compose()
    named_volumes = set(compose.get("volumes", {}))
    mounted = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            target = rest.split(":")[0]
            assert target.startswith("/"), (name, volume)
            if source.startswith("."):
                assert (COMPOSE.parent / source).resolve().exists(), (name, source)
                mounted += 1
            else:  # a named volume, or a path of the Docker host (node-exporter's /, the Alertmanager secrets)
                assert source in named_volumes or source.startswith("/"), (name, volume)
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], (name, secret)
    assert mounted >= 5
    # Secrets come from files outside the repository, never inline.
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"} and not (COMPOSE.parent / secret["file"]).resolve().is_relative_to(ROOT)


def test_compose_scrape_targets_match_prometheus_config() -> None:
    services = _compose()["services"]
    prom = yaml.safe_load(monitoring_stack.PROMETHEUS_CONFIG.read_text())
    for job in prom["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host = target.split(":")[0]
            assert host in services, (job["job_name"], target)
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0].split(":")[0] in services


def test_compose_app_reads_its_secrets_from_docker_secrets() -> None:
    services = _compose()["services"]
    for name in ("app", "worker"):
        command = " ".join(services[name]["command"])
        script = command.split(". ")[1].split()[0]
        assert script == "/srv/abb/deploy/compose-secrets.sh"
        assert (COMPOSE.parent / "compose-secrets.sh").exists()
        assert {"abb-secret-key", "postgres-password"} <= set(services[name]["secrets"])
    assert "/run/secrets/abb-secret-key" in (COMPOSE.parent / "compose-secrets.sh").read_text()

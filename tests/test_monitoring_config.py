"""Monitoring as code, checked by the real tools: promtool and amtool on deploy/, runbooks, generated dashboards.

The live proofs (Prometheus scraping the running app, alerts delivered) are in test_monitoring_live.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from abb.ops import dashboards
from abb.ops.monitoring_stack import ALERTMANAGER_CONFIG, DEPLOY_DIR, PROMETHEUS_CONFIG, RULES_DIR
from tests.fixtures_monitoring import ROOT, alert_rules

PROMETHEUS_TESTS = sorted((DEPLOY_DIR / "prometheus" / "tests").glob("*.yml"))
ROUTE_CASES = yaml.safe_load((DEPLOY_DIR / "alertmanager" / "tests" / "routes.yml").read_text())
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
ALERTS = alert_rules()
LEVEL_METRIC_OPERATIONS = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_promtool_checks_every_rule_file(promtool: str, rule_file: Path) -> None:
    result = run(promtool, "check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", PROMETHEUS_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool: str, test_file: Path) -> None:
    result = run(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_prometheus_config(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]}
    assert jobs == {"abb-api", "abb-worker", "node", "postgres", "redis", "pushgateway"}


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = {
        Path(rule).name
        for test_file in PROMETHEUS_TESTS
        for rule in yaml.safe_load(test_file.read_text())["rule_files"]
    }
    assert {p.name for p in RULE_FILES} <= tested


def test_every_alert_is_exercised_by_a_promtool_test() -> None:
    tested = {
        case["alertname"]
        for test_file in PROMETHEUS_TESTS
        for test in yaml.safe_load(test_file.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert {rule["alert"] for rule in ALERTS} <= tested


def test_promtool_test_fails_when_an_alert_misses_its_expectation(promtool: str, tmp_path: Path) -> None:
    """The unit tests can fail: the HighErrorRate file with the 'silent just under' case expecting an alert."""
    source = DEPLOY_DIR / "prometheus" / "tests" / "http_test.yml"
    data = yaml.safe_load(source.read_text())
    data["rule_files"] = [str((source.parent / rule).resolve()) for rule in data["rule_files"]]
    silent = next(t for t in data["tests"] if t["name"].startswith("HighErrorRate stays silent"))
    silent["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    broken = tmp_path / "http_test.yml"
    broken.write_text(yaml.safe_dump(data))
    assert run(promtool, "test", "rules", str(broken)).returncode != 0


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_every_alert_has_severity_annotations_and_a_runbook(rule: dict) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["labels"]["service"]
    annotations = rule["annotations"]
    assert annotations["summary"]
    assert "{{ $value" in annotations["description"]
    assert annotations["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
    runbook = (ROOT / annotations["runbook_url"]).read_text()
    for heading in ("## What it means", "## What to check", "## What to do", "## Silencing"):
        assert heading in runbook, f"{annotations['runbook_url']} lacks {heading!r}"


def test_alert_names_are_unique_and_every_runbook_belongs_to_an_alert() -> None:
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names))
    runbooks = {p.stem for p in (ROOT / "docs" / "runbooks").glob("*.md")}
    assert runbooks - {"disaster-recovery"} == set(names)  # the one procedure that is not an alert's


def test_recording_rules_follow_level_metric_operations() -> None:
    for rule_file in RULE_FILES:
        for group in yaml.safe_load(rule_file.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    assert LEVEL_METRIC_OPERATIONS.match(rule["record"]), rule["record"]


def test_amtool_checks_alertmanager_config(amtool: str) -> None:
    result = run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c["labels"].items()))
def test_alertmanager_routes_each_severity(amtool: str, case: dict) -> None:
    labels = [f"{name}={value}" for name, value in case["labels"].items()]
    args = ["config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}"]
    result = run(amtool, *args, f"--verify.receivers={case['receiver']}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    # The check can fail: any other receiver is refused.
    other = next(r for r in ("oncall-critical", "ops-email") if r != case["receiver"])
    assert run(amtool, *args, f"--verify.receivers={other}", *labels).returncode != 0


def test_alertmanager_reads_every_secret_from_a_file_outside_the_repo() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    text = ALERTMANAGER_CONFIG.read_text()
    assert not re.search(r"(api_url|routing_key|service_key|auth_password|auth_secret):", text)
    file_fields = re.findall(r"\w+_file: (\S+)", text)
    assert len(file_fields) >= 3
    assert all(path.startswith("/etc/alertmanager/secrets/") for path in file_fields)
    assert config["route"]["group_by"] == ["alertname", "service"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["oncall-critical"]["slack_configs"] and receivers["oncall-critical"]["pagerduty_configs"]
    assert receivers["ops-email"]["email_configs"]


def test_dashboards_regenerate_byte_identical(tmp_path: Path) -> None:
    written = dashboards.write_all(tmp_path)
    committed = DEPLOY_DIR / "grafana" / "dashboards"
    assert sorted(p.name for p in written) == sorted(p.name for p in committed.glob("*.json"))
    for path in written:
        assert path.read_bytes() == (committed / path.name).read_bytes(), (
            f"{path.name} is stale: run `.venv/bin/python -m abb.ops.dashboards`"
        )


def test_dashboards_cover_the_three_audiences_and_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((DEPLOY_DIR / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    titles = {}
    for path in sorted((DEPLOY_DIR / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        titles[path.stem] = {panel["title"] for panel in board["panels"] if panel["type"] != "row"}
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid
                assert panel["targets"] and all(target["expr"].strip() for target in panel["targets"])
    assert {"Latency p50 / p95 / p99", "Connection pool", "Firing alerts", "Cache hit ratio"} <= titles["operations"]
    assert {"Active users", "Match to deal conversion, 30 days"} <= titles["business"]
    assert {"Build duration", "Test coverage", "Deployments, 7 days"} <= titles["development"]

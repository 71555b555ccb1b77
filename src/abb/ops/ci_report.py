"""Development figures of one CI run, pushed to a Prometheus Pushgateway (the Development dashboard reads them).

`abb ci report` gathers what the run knows (build duration, test counts from pytest's JUnit XML, coverage
from a Cobertura XML, lint findings from ruff's JSON, security findings, deployment outcome, benchmark
ratios) and pushes them under job `abb-ci`. Figures the run does not know are simply not pushed.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

JOB = "abb-ci"
DeploymentStatus = Literal["success", "failure"]


@dataclass
class CiFigures:
    build_seconds: float | None = None
    succeeded: bool | None = None
    tests: dict[str, int] = field(default_factory=dict)  # result -> count (passed, failed, errors, skipped)
    coverage_ratio: float | None = None
    branch_coverage_ratio: float | None = None
    lint_findings: int | None = None
    security_findings: int | None = None
    deployment: DeploymentStatus | None = None
    benchmark_ratios: dict[str, float] = field(default_factory=dict)


def read_junit(path: Path) -> dict[str, int]:
    """Test counts by result from a JUnit XML report (pytest --junitxml), summed over its test suites."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest report
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    return {"passed": passed, "failed": totals["failures"], "errors": totals["errors"], "skipped": totals["skipped"]}


def read_cobertura_coverage(path: Path, rate: str = "line-rate") -> float:
    """Line coverage ratio (0..1) from a Cobertura XML report (coverage xml); `rate="branch-rate"` for branches."""
    return float(ET.parse(path).getroot().get(rate, "nan"))  # noqa: S314 - our own coverage report


def read_ruff_findings(path: Path) -> int:
    """Number of findings in `ruff check --output-format=json` output."""
    findings = json.loads(path.read_text())
    if not isinstance(findings, list):
        raise ValueError(f"{path} is not ruff's JSON output (a list of findings)")
    return len(findings)


def build_registry(figures: CiFigures, *, now: float | None = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    families: dict[str, Gauge] = {}

    def gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> None:
        # One family per name; a labelled family gets one child per label value.
        if name not in families:
            families[name] = Gauge(name, doc, list(labels or {}), registry=registry)
        metric = families[name]
        (metric.labels(**labels) if labels else metric).set(value)

    gauge("abb_ci_last_run_timestamp_seconds", "When this CI run reported (Unix time)", now or time.time())
    if figures.build_seconds is not None:
        gauge("abb_ci_build_duration_seconds", "Wall time of the CI run", figures.build_seconds)
    if figures.succeeded is not None:
        gauge("abb_ci_run_success", "1 when the CI run passed, 0 when it failed", float(figures.succeeded))
    for result, count in sorted(figures.tests.items()):
        gauge("abb_ci_tests_total", "Tests in the CI run, by result", count, {"result": result})
    if figures.coverage_ratio is not None:
        gauge("abb_ci_coverage_ratio", "Line coverage of the test suite (0..1)", figures.coverage_ratio)
    if figures.branch_coverage_ratio is not None:
        gauge("abb_ci_branch_coverage_ratio", "Branch coverage of the test suite (0..1)", figures.branch_coverage_ratio)
    if figures.lint_findings is not None:
        gauge("abb_ci_lint_findings", "Linter findings in the CI run", figures.lint_findings)
    if figures.security_findings is not None:
        gauge("abb_ci_security_findings", "Security scanner findings in the CI run", figures.security_findings)
    if figures.deployment is not None:
        gauge(
            "abb_ci_last_deployment_timestamp_seconds",
            "When the last deployment with this outcome finished (Unix time)",
            now or time.time(),
            {"status": figures.deployment},
        )
    for benchmark, ratio in sorted(figures.benchmark_ratios.items()):
        gauge(
            "abb_ci_benchmark_ratio",
            "Benchmark figure relative to its baseline measured in the same run",
            ratio,
            {"benchmark": benchmark},
        )
    return registry


def push(gateway: str, figures: CiFigures, *, timeout: float = 10.0) -> CollectorRegistry:
    """Push the figures under job abb-ci. `pushadd` (POST) replaces only the metrics pushed now, so a run that
    deploys without testing keeps the last test figures, and a test run keeps the last deployment's."""
    registry = build_registry(figures)
    pushadd_to_gateway(gateway, job=JOB, registry=registry, timeout=timeout)
    return registry

"""The small disaster-recovery drill in `make test`: the real app, PostgreSQL and pgBackRest, tens of MB.

`make dr-drill` runs the same code at 1 GB; both fail unless no acknowledged write before the target is
lost and every table matches its state at the target.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from abb.ops.monitoring_stack import pushgateway
from abb.ops.processes import free_port
from abb.ops.recovery.drill import DrillOptions, run_drill
from tests.harness.services import unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_small_drill_restores_the_target_state_and_reports_rto_and_rpo(tmp_path: Path) -> None:
    if shutil.which("pgbackrest") is None or shutil.which("prometheus-pushgateway") is None:
        unavailable(
            "pgBackRest and the Pushgateway are needed (Debian packages 'pgbackrest', 'prometheus-pushgateway')"
        )
    gateway = pushgateway(tmp_path, free_port()).start()
    workdir = Path(tempfile.mkdtemp(prefix="abb-dr-drill-test-"))
    lines: list[str] = []
    try:
        report = run_drill(
            DrillOptions(
                size_mb=20,
                seconds_before_target=3,
                seconds_after_target=2,
                report=tmp_path / "report.json",
                pushgateway_url=f"127.0.0.1:{gateway.port}",
                workdir=workdir,
            ),
            echo=lines.append,
        )
    finally:
        gateway_metrics = urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/metrics", timeout=10).read().decode()
        gateway.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    assert report == json.loads((tmp_path / "report.json").read_text())
    assert report["passed"], "\n".join(lines)
    assert report["rpo"]["rows_lost"] == 0
    assert report["writes"]["acknowledged_before_target"] > 0
    assert all(report["writes"]["by_table"][t] > 0 for t in ("users", "enrollments", "deals"))
    assert report["tables_mismatched"] == []
    assert {"users", "deals", "deal_events", "enrollments", "courses", "matches"} <= set(report["tables"])
    assert report["database_bytes"] >= 20_000_000
    assert report["rto_seconds"] > 0 and report["rpo"]["archive_exposure_seconds"] >= 0
    assert any(line.startswith("RTO ") and "PASSED" in line for line in lines)
    pushed = {
        sample.name: sample.value
        for family in text_string_to_metric_families(gateway_metrics)
        for sample in family.samples
        if sample.labels.get("job") == "abb-dr-drill"
    }
    assert pushed["abb_dr_drill_rpo_rows"] == 0
    assert pushed["abb_dr_drill_rto_seconds"] == pytest.approx(report["rto_seconds"])
    assert pushed["abb_dr_drill_success"] == 1
    assert pushed["abb_dr_drill_last_run_timestamp_seconds"] > 0

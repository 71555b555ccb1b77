"""The operators' files for logs agree with what the app writes: Logstash input, ECS template, Kibana objects."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from abb.core.config import Settings
from abb.observability.logging import EcsJsonFormatter

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
TEMPLATE = json.loads((DEPLOY / "elasticsearch" / "abb-logs-template.json").read_text())
PROPERTIES = TEMPLATE["template"]["mappings"]["properties"]


def mapped(field: str) -> bool:
    node: dict[str, Any] = {"properties": PROPERTIES}
    for part in field.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            return False
        node = properties[part]
    return "type" in node


def _line(extra: dict[str, Any], exc: BaseException | None = None) -> dict[str, Any]:
    record = logging.LogRecord("abb.access", logging.ERROR, __file__, 1, "GET /x 500", (), None)
    if exc is not None:
        record.exc_info = (type(exc), exc, None)
    record.__dict__.update(extra)
    return json.loads(EcsJsonFormatter("abb-api", "test").format(record))


def test_every_field_the_app_writes_is_mapped_by_the_ecs_template():
    access = _line(
        {
            "event.dataset": "abb.access",
            "event.duration": 1_500_000,
            "http.request.method": "GET",
            "url.path": "/x",
            "http.route": "/x",
            "http.response.status_code": 500,
            "http.response.body.bytes": 12,
            "client.ip": "127.0.0.1",
            "user_agent.original": "curl/8",
            "user.id": "7",
            "http.request.id": "abc",
        },
        exc=RuntimeError("boom"),
    )
    access.update({"trace.id": "0" * 32, "span.id": "0" * 16, "db.statement": "SELECT 1", "db.operation": "select"})
    unmapped = sorted(field for field in access if not mapped(field))
    assert not unmapped, f"fields without an explicit mapping: {unmapped}"
    assert TEMPLATE["index_patterns"] == ["abb-logs-*"]


def test_logstash_input_matches_the_handler_and_output_matches_the_template():
    pipeline = (DEPLOY / "logstash" / "pipeline.conf").read_text()
    tcp = re.search(r"tcp\s*{([^}]*)}", pipeline)
    assert tcp is not None
    assert f"port => {Settings().logstash_port}" in tcp.group(1)
    assert "codec => json_lines" in tcp.group(1)
    index = re.search(r'index => "([^"]+)"', pipeline)
    assert index is not None and index.group(1).startswith("abb-logs-")


def test_kibana_export_is_consistent():
    objects = [json.loads(line) for line in (DEPLOY / "kibana" / "abb-logs.ndjson").read_text().splitlines()]
    ids = {(o["type"], o["id"]) for o in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids, f"{obj['id']} refers to a missing {ref}"
    titles = {o["attributes"]["title"] for o in objects}
    assert {"Errors (all services)", "Failed sign-ins", "Slow requests (over 1 s)", "Errors by service"} <= titles
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    assert len(json.loads(dashboard["attributes"]["panelsJSON"])) == len(dashboard["references"]) == 4
    for obj in objects:
        source = obj["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if source:
            query = json.loads(source)["query"]["query"]
            for field in re.findall(r"([a-z_]+(?:\.[a-z_]+)+)\s*[:>]", query):
                assert mapped(field), f"{obj['id']} searches {field}, which the template does not map"

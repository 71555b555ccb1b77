"""A local monitoring stack on loopback: Prometheus, Alertmanager and a Pushgateway with configs derived from deploy/.

    make monitoring      # against a running `make run`, prints the URLs; Ctrl-C stops everything

The live tests (tests/harness/monitoring.py) use the same pieces. What "derived" changes, and nothing else:
- prometheus.yml: scrape targets rewritten to loopback addresses (a job with no target is left out),
  the Alertmanager address, the rule file paths, and optionally shorter scrape/evaluation intervals;
- rule files: the same rules; optionally every alert's `for:` shortened and group intervals dropped, so
  that a test sees an alert fire in seconds (the thresholds and expressions are untouched);
- alertmanager.yml: the receivers' endpoints (Slack, PagerDuty, SMTP) pointed at local doubles, with
  throwaway secret files in place of /etc/alertmanager/secrets/, and optionally shorter group timings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from abb.ops.processes import die_with_parent, terminate

DEPLOY_DIR = Path(__file__).resolve().parents[3] / "deploy"
PROMETHEUS_CONFIG = DEPLOY_DIR / "prometheus" / "prometheus.yml"
RULES_DIR = DEPLOY_DIR / "prometheus" / "rules"
ALERTMANAGER_CONFIG = DEPLOY_DIR / "alertmanager" / "alertmanager.yml"
LOOPBACK = "127.0.0.1"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def derive_rules(out_dir: Path, *, alert_for: str | None = None) -> list[Path]:
    """Copy every rule file; with `alert_for`, every alert waits that long instead and groups use the global
    evaluation interval (so a 1m-interval group is not left behind in a 1s test)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(RULES_DIR.glob("*.yml")):
        data = load_yaml(source)
        if alert_for is not None:
            for group in data["groups"]:
                group.pop("interval", None)
                for rule in group["rules"]:
                    if "alert" in rule and "for" in rule:
                        rule["for"] = alert_for
        written.append(write_yaml(out_dir / source.name, data))
    return written


def derive_prometheus_config(
    out_dir: Path,
    *,
    targets: dict[str, list[str]],
    alertmanager: str,
    interval: str | None = None,
    alert_for: str | None = None,
) -> Path:
    """prometheus.yml with loopback targets (job name -> host:port list) and derived rule files."""
    config = load_yaml(PROMETHEUS_CONFIG)
    if interval is not None:
        config["global"]["scrape_interval"] = interval
        config["global"]["evaluation_interval"] = interval
    rules_dir = out_dir / "rules"
    derive_rules(rules_dir, alert_for=alert_for)
    config["rule_files"] = [str(rules_dir / "*.yml")]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    jobs = []
    for job in config["scrape_configs"]:
        if targets.get(job["job_name"]):
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    return write_yaml(out_dir / "prometheus.yml", config)


def derive_alertmanager_config(
    out_dir: Path, *, slack_url: str, pagerduty_url: str, smtp: str, fast: bool = False
) -> Path:
    """alertmanager.yml whose Slack, PagerDuty and SMTP endpoints are local doubles; secrets in throwaway files."""
    config = load_yaml(ALERTMANAGER_CONFIG)
    secrets = out_dir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "slack-webhook-url").write_text(slack_url)
    (secrets / "pagerduty-routing-key").write_text("local-test-routing-key")
    glob = config["global"]
    glob["slack_api_url_file"] = str(secrets / "slack-webhook-url")
    glob["smtp_smarthost"] = smtp
    glob["smtp_require_tls"] = False  # the local SMTP double speaks plain SMTP without AUTH
    glob.pop("smtp_auth_username", None)
    glob.pop("smtp_auth_password_file", None)
    config["templates"] = [str(ALERTMANAGER_CONFIG.parent / pattern) for pattern in config.get("templates", [])]
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = str(secrets / "pagerduty-routing-key")
            pagerduty["url"] = pagerduty_url
    if fast:
        config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
        for route in config["route"].get("routes", []):
            route.pop("repeat_interval", None)
    return write_yaml(out_dir / "alertmanager.yml", config)


@dataclass
class Server:
    """A binary run in the background, its output in a log file, stopped by its PID."""

    name: str
    args: list[str]
    port: int
    log: Path
    env: dict[str, str] | None = None
    ready_path: str = "/-/ready"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, timeout: float = 30.0) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed binaries and arguments built here
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not each server
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready on {self.url} after {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def stop(self) -> None:
        terminate(self.process)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed (scripts/install-test-services.sh installs it)")
    return path


def prometheus(work: Path, port: int, config: Path) -> Server:
    data = work / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    return Server(
        "prometheus",
        [
            require_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={LOOPBACK}:{port}",
            # Resend firing alerts every second instead of every minute (the first send can be lost
            # while Alertmanager is still being discovered).
            "--rules.alert.resend-delay=1s",
        ],
        port,
        work / "prometheus.log",
    )


def alertmanager(work: Path, port: int, config: Path) -> Server:
    data = work / "alertmanager-data"
    data.mkdir(parents=True, exist_ok=True)
    return Server(
        "alertmanager",
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",  # no cluster listener on 0.0.0.0:9094
        ],
        port,
        work / "alertmanager.log",
    )


def pushgateway(work: Path, port: int) -> Server:
    return Server(
        "pushgateway",
        [
            require_binary("prometheus-pushgateway"),
            f"--web.listen-address={LOOPBACK}:{port}",
            # Debian's default is a machine-wide /var/lib/prometheus/pushgateway.data: keep it to this stack.
            f"--persistence.file={work / 'pushgateway.data'}",
        ],
        port,
        work / "pushgateway.log",
    )


def node_exporter(work: Path, port: int) -> Server:
    return Server(
        "node-exporter",
        [require_binary("prometheus-node-exporter"), f"--web.listen-address={LOOPBACK}:{port}"],
        port,
        work / "node-exporter.log",
        ready_path="/metrics",
    )


class WebhookReceiver:
    """Double of the Slack and PagerDuty webhooks: a loopback HTTP server that keeps every JSON body posted to it,
    by path (/slack, /pagerduty), and optionally prints a one-line summary."""

    def __init__(self, port: int = 0, *, echo: bool = False) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                payload = json.loads(body or b"{}")
                with receiver._lock:
                    receiver.received.append((self.path, payload))
                if echo:
                    print(f"[{self.path}] {summarize(payload)}", flush=True)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def payloads(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for where, payload in self.received if where == path]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def summarize(payload: dict[str, Any]) -> str:
    """One line from a Slack or PagerDuty notification, for the console of `make monitoring`."""
    attachments = payload.get("attachments") or [{}]
    return str(attachments[0].get("title") or payload.get("payload", {}).get("summary") or payload)


@contextlib.contextmanager
def local_stack(
    work: Path,
    *,
    targets: dict[str, list[str]],
    prometheus_port: int,
    alertmanager_port: int,
    receiver: WebhookReceiver,
    smtp: str,
    interval: str | None = None,
    alert_for: str | None = None,
    fast_notifications: bool = False,
) -> Iterator[tuple[Server, Server]]:
    """Alertmanager then Prometheus, with derived configs, stopped (by PID) on exit."""
    work.mkdir(parents=True, exist_ok=True)
    am_config = derive_alertmanager_config(
        work / "alertmanager",
        slack_url=receiver.url("/slack"),
        pagerduty_url=receiver.url("/pagerduty"),
        smtp=smtp,
        fast=fast_notifications,
    )
    prom_config = derive_prometheus_config(
        work / "prometheus",
        targets=targets,
        alertmanager=f"{LOOPBACK}:{alertmanager_port}",
        interval=interval,
        alert_for=alert_for,
    )
    am = alertmanager(work, alertmanager_port, am_config)
    prom = prometheus(work, prometheus_port, prom_config)
    try:
        am.start()
        prom.start()
        yield prom, am
    finally:
        prom.stop()
        am.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Prometheus, Alertmanager and a Pushgateway against `make run`.")
    parser.add_argument("--app", default=f"{LOOPBACK}:8000", help="address of the running application")
    parser.add_argument("--work", type=Path, default=Path("var/monitoring"), help="configs, data and logs")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--alertmanager-port", type=int, default=9093)
    parser.add_argument("--pushgateway-port", type=int, default=9091)
    parser.add_argument("--node-exporter-port", type=int, default=9100)
    parser.add_argument("--receiver-port", type=int, default=9095, help="local Slack/PagerDuty double")
    args = parser.parse_args()

    # SIGTERM (a supervisor, `kill`) stops the stack like Ctrl-C does: the finally blocks below stop every server.
    signal.signal(signal.SIGTERM, _interrupt)
    work: Path = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    gateway = pushgateway(work, args.pushgateway_port).start()
    extra = []
    targets = {"abb-api": [args.app], "pushgateway": [gateway.address]}
    if shutil.which("prometheus-node-exporter"):
        node = node_exporter(work, args.node_exporter_port).start()
        extra.append(node)
        targets["node"] = [node.address]
    try:
        with (
            WebhookReceiver(args.receiver_port, echo=True) as receiver,
            local_stack(
                work,
                targets=targets,
                prometheus_port=args.prometheus_port,
                alertmanager_port=args.alertmanager_port,
                receiver=receiver,
                # Nothing listens there: warning e-mails fail and are logged in alertmanager.log.
                smtp=f"{LOOPBACK}:2525",
            ) as (prom, am),
        ):
            print(f"  Prometheus    {prom.url}  (alerts: {prom.url}/alerts)")
            print(f"  Alertmanager  {am.url}")
            print(f"  Pushgateway   {gateway.url}  (abb ci report --gateway {gateway.url})")
            print(f"  Scraping      {', '.join(f'{job}={t[0]}' for job, t in targets.items())}")
            print(f"  Critical alerts (Slack/PagerDuty payloads) are printed below; logs in {work}. Ctrl-C stops.")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    finally:
        for server in [*extra, gateway]:
            server.stop()


if __name__ == "__main__":
    main()

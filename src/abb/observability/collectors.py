"""Gauges computed at scrape time: database up, active users, deals by state, build info, host usage.

They are read once per scrape by the process that answers it (never summed across workers), and the
database ones are cached for `ABB_METRICS_CACHE_SECONDS` so a scrape storm cannot load the database.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, func, inspect, select, text

from abb import __version__
from abb.accounts.models import User
from abb.core.config import Settings
from abb.core.database import utcnow
from abb.observability.timeouts import run_with_timeout

log = logging.getLogger("abb.metrics")
ACTIVE_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# The states of issue 4's deal lifecycle: each is reported, 0 until a deal is in it (or the table exists).
DEAL_STATES = ("draft", "awaiting_payment", "paid", "settled", "cancelled", "failed", "refunded")


class DatabaseCollector:
    """abb_db_up, abb_active_users{window}, abb_deals{state}, from one short read every cache period."""

    def __init__(self, engine: Callable[[], Engine], settings: Settings) -> None:
        self.engine = engine
        self.timeout = settings.health_timeout_seconds
        self.ttl = settings.metrics_cache_seconds
        self._lock = threading.Lock()
        self._expires = 0.0
        self._cached: list[Metric] = []

    def _read(self) -> tuple[dict[str, int], dict[str, int]]:
        now = utcnow()
        with self.engine().connect() as conn:
            active = {
                window: conn.scalar(select(func.count()).select_from(User).where(User.last_seen_at >= now - span)) or 0
                for window, span in ACTIVE_WINDOWS.items()
            }
            deals = dict.fromkeys(DEAL_STATES, 0)
            if inspect(conn).has_table("deals"):
                for state, count in conn.execute(text("SELECT state, COUNT(*) FROM deals GROUP BY state")):
                    deals[str(state)] = int(count)
        return active, deals

    def _families(self) -> list[Metric]:
        up = GaugeMetricFamily("abb_db_up", "1 when the database answered the last scrape's query, else 0")
        active_family = GaugeMetricFamily(
            "abb_active_users", "Distinct users seen (last_seen_at) within the window", labels=["window"]
        )
        deals_family = GaugeMetricFamily("abb_deals", "Deals currently in each state", labels=["state"])
        try:
            active, deals = run_with_timeout(self._read, self.timeout)
        except Exception as exc:
            log.warning("metrics: database not readable", extra={"error.type": type(exc).__name__})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        for window, count in active.items():
            active_family.add_metric([window], count)
        for state, count in deals.items():
            deals_family.add_metric([state], count)
        return [up, active_family, deals_family]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() >= self._expires:
                self._cached = self._families()
                self._expires = time.monotonic() + self.ttl
            yield from self._cached


def git_commit(settings: Settings) -> str:
    if settings.git_commit:
        return settings.git_commit
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - git from PATH, no user input
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


class BuildInfoCollector:
    def __init__(self, settings: Settings) -> None:
        self.labels = [__version__, git_commit(settings)]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "abb_build_info", "Always 1; the labels name the build", labels=["version", "commit"]
        )
        family.add_metric(self.labels, 1)
        yield family


class HostCollector:
    """Host CPU, memory, disk usage and disk I/O (psutil); turn off with ABB_HOST_METRICS=false under node_exporter."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "abb_host_cpu_usage_ratio",
            "Host CPU busy ratio since the previous scrape",
            value=psutil.cpu_percent() / 100,
        )
        yield GaugeMetricFamily(
            "abb_host_memory_usage_ratio", "Host memory in use", value=psutil.virtual_memory().percent / 100
        )
        disk = GaugeMetricFamily("abb_host_disk_usage_ratio", "Filesystem space used", labels=["mountpoint"])
        for part in psutil.disk_partitions(all=False):
            try:
                disk.add_metric([part.mountpoint], psutil.disk_usage(part.mountpoint).percent / 100)
            except OSError:
                continue
        yield disk
        io = CounterMetricFamily("abb_host_disk_io_bytes", "Bytes read and written by all disks", labels=["direction"])
        counters = psutil.disk_io_counters()
        if counters is not None:
            io.add_metric(["read"], counters.read_bytes)
            io.add_metric(["write"], counters.write_bytes)
        yield io

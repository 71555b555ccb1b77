"""Gauges computed at scrape time: database up, the domains' database gauges, build info, host usage.

They are read once per scrape by the process that answers it (never summed across workers), and the
database ones are cached for `ABB_METRICS_CACHE_SECONDS` so a scrape storm cannot load the database.
What the database gauges count (active users, deals by state) is handed over by the app as `DatabaseGauge`s:
this module knows no domain table.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection, Engine

from abb import __version__
from abb.core.config import Settings
from abb.observability.timeouts import run_with_timeout

log = logging.getLogger("abb.metrics")


@dataclass(frozen=True)
class DatabaseGauge:
    """A gauge family with one label, read from the database at scrape time by `read` (label value -> count)."""

    name: str
    documentation: str
    label: str
    read: Callable[[Connection], Mapping[str, int]]


class DatabaseCollector:
    """abb_db_up and the given gauges (abb_active_users{window}, abb_deals{state}), one short read a cache period."""

    def __init__(self, engine: Callable[[], Engine], settings: Settings, gauges: Sequence[DatabaseGauge] = ()) -> None:
        self.engine = engine
        self.gauges = tuple(gauges)
        self.timeout = settings.health_timeout_seconds
        self.ttl = settings.metrics_cache_seconds
        self._lock = threading.Lock()
        self._expires = 0.0
        self._cached: list[Metric] = []

    def _read(self) -> list[Mapping[str, int]]:
        with self.engine().connect() as conn:
            return [gauge.read(conn) for gauge in self.gauges]

    def _families(self) -> list[Metric]:
        up = GaugeMetricFamily("abb_db_up", "1 when the database answered the last scrape's query, else 0")
        try:
            readings = run_with_timeout(self._read, self.timeout)
        except Exception as exc:
            log.warning("metrics: database not readable", extra={"error.type": type(exc).__name__})
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        families: list[Metric] = [up]
        for gauge, counts in zip(self.gauges, readings, strict=True):
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=[gauge.label])
            for value, count in counts.items():
                family.add_metric([value], count)
            families.append(family)
        return families

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

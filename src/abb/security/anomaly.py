"""Per-address request-rate anomalies: each address's requests per interval against its own learned baseline,
an exponentially weighted mean and variance (EWMA); an interval whose count is `z_threshold` standard
deviations above the mean, and at least `min_requests`, raises `traffic.anomaly` and counts in
`abb_traffic_anomalies_total`. A new address starts from a zero baseline, so its first burst counts too.

Counting is one dict increment per request; the intervals are rolled over by the first request after one ends
(no thread). Each process learns from the requests it serves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

ALPHA = 0.3  # weight of the newest interval
MAX_ADDRESSES = 50_000


@dataclass
class Baseline:
    mean: float = 0.0
    variance: float = 0.0

    def z_score(self, count: float) -> float:
        # +1 in the deviation: a perfectly steady baseline must not turn one extra request into infinity.
        return (count - self.mean) / math.sqrt(self.variance + 1.0)

    def update(self, count: float) -> None:
        diff = count - self.mean
        increment = ALPHA * diff
        self.mean += increment
        self.variance = (1 - ALPHA) * (self.variance + diff * increment)


class RateAnomalyDetector:
    def __init__(
        self,
        *,
        interval: float,
        z_threshold: float,
        min_requests: int,
        on_anomaly: Callable[[str, int, float, float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.z_threshold = z_threshold
        self.min_requests = min_requests
        self.on_anomaly = on_anomaly
        self.clock = clock
        self.counts: dict[str, int] = {}
        self.baselines: dict[str, Baseline] = {}
        self.interval_end = clock() + interval

    def seen(self, address: str) -> None:
        now = self.clock()
        if now >= self.interval_end:
            self.roll_over(now)
        self.counts[address] = self.counts.get(address, 0) + 1

    def roll_over(self, now: float) -> None:
        counts, self.counts = self.counts, {}
        # Intervals with no request at all count as zeros for every known address.
        missed = max(0, int((now - self.interval_end) // self.interval))
        self.interval_end = now + self.interval - ((now - self.interval_end) % self.interval)
        for address, count in counts.items():
            baseline = self.baselines.get(address)
            if baseline is None:
                if len(self.baselines) >= MAX_ADDRESSES:
                    continue
                baseline = self.baselines[address] = Baseline()
            z = baseline.z_score(count)
            if count >= self.min_requests and z >= self.z_threshold:
                self.on_anomaly(address, count, baseline.mean, z)
            baseline.update(count)
        for address in [a for a in self.baselines if a not in counts]:
            baseline = self.baselines[address]
            for _ in range(min(missed + 1, 20)):
                baseline.update(0)
            if baseline.mean < 0.05:
                del self.baselines[address]

"""The per-address request-rate detector (EWMA baseline, z-score): a steady rate raises nothing, a burst
raises exactly one anomaly for the bursting address and none for a steady neighbour."""

from __future__ import annotations

from abb.security.anomaly import RateAnomalyDetector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _detector(clock: Clock, raised: list[tuple[str, int, float, float]]) -> RateAnomalyDetector:
    return RateAnomalyDetector(
        interval=10.0,
        z_threshold=4.0,
        min_requests=30,
        on_anomaly=lambda address, count, mean, z: raised.append((address, count, mean, z)),
        clock=clock,
    )


def _interval(detector: RateAnomalyDetector, clock: Clock, counts: dict[str, int]) -> None:
    for address, count in counts.items():
        for _ in range(count):
            detector.seen(address)
    clock.now += 10.0


def test_a_steady_rate_raises_nothing_and_a_burst_raises_one_anomaly():
    clock, raised = Clock(), []
    detector = _detector(clock, raised)
    for n in range(30):  # a steady baseline with a little jitter
        _interval(detector, clock, {"198.51.100.1": 20 + n % 3, "198.51.100.2": 25})
    assert raised == []
    assert 19 < detector.baselines["198.51.100.1"].mean < 23

    _interval(detector, clock, {"198.51.100.1": 400, "198.51.100.2": 25})
    detector.seen("198.51.100.2")  # the next request rolls the burst's interval over
    assert [(address, count) for address, count, _, _ in raised] == [("198.51.100.1", 400)]
    assert raised[0][3] >= 4.0 and 19 < raised[0][2] < 23


def test_a_small_first_interval_of_a_new_address_is_not_an_anomaly():
    clock, raised = Clock(), []
    detector = _detector(clock, raised)
    _interval(detector, clock, {"203.0.113.5": 10})  # z is high from a zero baseline, but under min_requests
    detector.seen("203.0.113.5")
    assert raised == []

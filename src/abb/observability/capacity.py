"""Capacity signals: the event loop's lag, and the admission gate's queue (docs/capacity.md).

The event loop's lag is how late a timer fires. Work that blocks the loop (a blocking call in an `async def`)
delays every request of the process, `/health/live` included; this makes it visible.

A task on the loop sleeps `interval` seconds over and over and notes how much later than asked it woke.
`abb_event_loop_lag_seconds` is the largest lag of the last 15 s, read with every batch of the request
recorder and every scrape, so a spike between two scrapes is not missed. Cost: one timer per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import deque
from typing import Protocol

from abb.observability.metrics import EVENT_LOOP_LAG, HTTP_QUEUED
from abb.observability.recorder import recorder

WINDOW_SECONDS = 15.0


class LoopLagMonitor:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._samples: deque[tuple[float, float]] = deque()  # (monotonic time, lag)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling on the running loop (the app's lifespan calls it)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="abb-loop-lag")
        _running.add(self)

    async def stop(self) -> None:
        _running.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def lag(self) -> float:
        """The largest lag seen over the last WINDOW_SECONDS (read from any thread: tuple() copies atomically)."""
        return max((lag for _, lag in tuple(self._samples)), default=0.0)

    async def _run(self) -> None:
        interval = self.interval
        while True:
            asked = time.monotonic() + interval
            await asyncio.sleep(interval)
            woke = time.monotonic()
            samples = self._samples
            samples.append((woke, max(0.0, woke - asked)))
            while samples[0][0] < woke - WINDOW_SECONDS:  # only this task takes from the left
                samples.popleft()


class Gate(Protocol):  # abb.core.http.AdmissionGate
    @property
    def waiting(self) -> int: ...


_running: set[LoopLagMonitor] = set()  # the started monitors of this process (one per served app)
_gates: weakref.WeakSet[Gate] = weakref.WeakSet()
_gates_lock = threading.Lock()  # a WeakSet cannot be iterated while another thread adds to it


def watch_gate(gate: Gate) -> None:
    """Report how many requests wait at `gate` (abb_http_requests_queued)."""
    with _gates_lock:
        _gates.add(gate)


def _sample() -> None:
    monitors = tuple(_running)
    if monitors:
        EVENT_LOOP_LAG.set(max(monitor.lag for monitor in monitors))
    with _gates_lock:
        gates = list(_gates)
    HTTP_QUEUED.set(sum(gate.waiting for gate in gates))


recorder.add_sampler(_sample)

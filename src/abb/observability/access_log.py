"""The access line: one JSON line per HTTP request (fields in docs/observability.md), written in batches.

Why batches: rendering and writing each line the moment its request ends cost about 30 µs of server CPU per
request (benchmarks/overhead.py), mostly because the logging code and data are cold in the CPU cache after
the request's own work; rendering the queued lines in one go and writing them in one call costs about a
third of that. So, like nginx's `access_log … buffer= flush=`, queued lines are written when BATCH_LINES
are waiting, when a line at warning or above arrives (a failing request's line goes out at once, after those
queued before it), ABB_ACCESS_LOG_FLUSH_SECONDS after the first of them at the latest, and when the process
exits. Each line keeps its own time, request id, trace ids and thread. What a hard kill (SIGKILL, out of
memory) loses is at most that window; ABB_ACCESS_LOG_FLUSH_SECONDS=0 writes every line at once.

The lines go straight to the handlers `configure_logging` installed, without a LogRecord each (about 4 µs
apiece). The `abb.access` logger's level (ABB_LOG_LEVELS) applies as for any other logger; with text logs
(ABB_LOG_JSON=false) each line is an ordinary record, written at once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

from abb.observability.logging import ACCESS_LOGGER, EcsJsonFormatter, request_id_var

BATCH_LINES = 64
_logger = logging.getLogger(ACCESS_LOGGER)


class AccessLog:
    def __init__(self, formatter: EcsJsonFormatter | None, handlers: list[Any], flush_seconds: float) -> None:
        self._formatter = formatter
        self._handlers = handlers  # each has write_lines(list[str])
        self._flush_seconds = flush_seconds
        self._queued: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()  # held while queueing and while writing, so lines keep their order
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None

    def write(self, level: int, message: str, fields: dict[str, Any]) -> None:
        if not _logger.isEnabledFor(level):
            return
        formatter = self._formatter
        if formatter is None:
            _logger.log(level, message, extra=fields)
            return
        entry = (
            time.time(),
            level,
            message,
            fields,
            threading.current_thread().name,
            request_id_var.get(),
            formatter.current_trace_ids(),
        )
        with self._lock:
            self._queued.append(entry)
            if len(self._queued) >= BATCH_LINES or level >= logging.WARNING or not self._flush_seconds:
                self._write_queued(formatter)
        if self._flusher is None and self._flush_seconds:
            self._start_flusher()

    def flush(self) -> None:
        if self._formatter is not None:
            with self._lock:
                self._write_queued(self._formatter)

    def stop(self) -> None:
        self._stopped.set()
        self.flush()

    def _write_queued(self, formatter: EcsJsonFormatter) -> None:
        if not self._queued:
            return
        pid = os.getpid()
        lines = [
            formatter.render(
                created=created,
                level=level,
                logger=ACCESS_LOGGER,
                message=message,
                fields=fields.items(),
                pid=pid,
                thread_name=thread_name,
                request_id=request_id,
                trace_ids=trace_ids,
            )
            for created, level, message, fields, thread_name, request_id, trace_ids in self._queued
        ]
        self._queued.clear()
        for handler in self._handlers:
            handler.write_lines(lines)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="abb-access-log", daemon=True)
        self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stopped.wait(self._flush_seconds):
            self.flush()


_current = AccessLog(None, [], 0)


def install(formatter: EcsJsonFormatter | None, handlers: list[Any], flush_seconds: float) -> None:
    """Called by configure_logging: the lines queued so far are written, then the new handlers take over."""
    global _current
    previous, _current = _current, AccessLog(formatter, handlers, flush_seconds)
    previous.stop()


def write_access_line(level: int, message: str, fields: dict[str, Any]) -> None:
    _current.write(level, message, fields)


def flush() -> None:
    _current.flush()


atexit.register(flush)

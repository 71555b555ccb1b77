"""Structured logs: one JSON object per line with Elastic Common Schema field names.

Every record carries the request id (and the trace and span ids when tracing is on) from context
variables, so lines written by the database layer or by a Celery task that a request enqueued carry
the same id. Secrets are masked by key and by pattern before a line is written, whatever the
handler (stdout or the optional Logstash handler with its on-disk buffer).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from abb import __version__
from abb.core.config import Settings
from abb.core.context import request_id_var

ECS_VERSION = "8.11.0"
ACCESS_LOGGER = "abb.access"
RENDERED_LINE = "abb_rendered_line"  # a record attribute: the line is final, the formatter passes it on

# LogRecord's own attributes; anything else on a record came from `extra=` and is logged as a field.
# uvicorn adds `color_message` (the message with terminal colour codes) to its records: not a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}
REDACTED = "[REDACTED]"
SENSITIVE_KEY = re.compile(r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|card|cvc|cvv|pan$|iban", re.I)
_SENSITIVE_PATTERNS = (
    # key=value, key: value, 'key': 'value' and "key": "value" for sensitive keys
    re.compile(
        r"""(?P<key>["']?[\w.-]*(?:pass(?:word|wd)?|secret|token|authori[sz]ation|cookie|card[\w-]*|cvc|cvv)["']?"""
        r"""\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
        re.I,
    ),
    re.compile(r"(?P<key>\b(?:bearer|basic)\s+)(?P<value>[\w.~+/=-]+)", re.I),
    # JSON Web Tokens anywhere
    re.compile(r"(?P<key>)(?P<value>\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*)"),
    # SQLAlchemy puts statement parameters into error messages
    re.compile(r"(?P<key>\[parameters: )(?P<value>[^\]]*)"),
)
# 13-19 digits in a row, or in groups of four separated by spaces, dashes or URL-encoded spaces.
_CARD_CANDIDATE = re.compile(r"\b\d{13,19}\b|\b\d{4}(?:(?: |-|%20|\+)\d{4}){2,3}(?:(?: |-|%20|\+)\d{1,3})?\b")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return REDACTED if _luhn_ok(digits) else match.group(0)


# A cheap look first: most text (an access line's path, a query's text) holds nothing to mask. Substring
# tests on the lower-cased text, and one on the text with its digits folded: several times faster in CPython
# than one case-insensitive alternation, which tries every pattern at every position.
_SECRET_HINTS = (
    "pass",
    "secret",
    "token",
    "authori",
    "cookie",
    "card",
    "cvc",
    "cvv",
    "bearer",
    "basic",
    "eyj",
    "[param",
)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    for hint in _SECRET_HINTS:
        if hint in lowered:
            return True
    # Four digits in a row (a card number may follow): every ASCII digit made "0", then one substring test,
    # a third of a regex search's instructions on a browser's user agent (callgrind).
    return b"0000" in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)


def redact(text: str) -> str:
    """Mask secrets in free text: sensitive key/value pairs, bearer tokens, JWTs, card numbers."""
    if not _may_hold_secret(text):
        return text
    for pattern in _SENSITIVE_PATTERNS:
        text = pattern.sub(lambda m: m.group("key") + REDACTED, text)
    return _CARD_CANDIDATE.sub(_mask_card, text)


@functools.lru_cache(maxsize=1024)
def _sensitive_key(key: str) -> bool:
    return SENSITIVE_KEY.search(key.rsplit(".", 1)[-1]) is not None


def _redact_value(key: str, value: Any) -> Any:
    if _sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    return value


def _trace_ids() -> tuple[str, str] | None:
    # Imported lazily: without tracing set up there is never a valid span and this stays cheap.
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class EcsJsonFormatter(logging.Formatter):
    """A LogRecord as one ECS JSON line; fields passed with `extra={"url.path": ...}` are kept."""

    def __init__(self, service_name: str, environment: str, with_tracing: bool = False) -> None:
        super().__init__()
        self.static = {
            "service.name": service_name,
            "service.version": __version__,
            "service.environment": environment,
            "ecs.version": ECS_VERSION,
        }
        # Spliced onto every line as bytes: the same for the process's life, so serialized once.
        self._static_tail = b"," + orjson.dumps(self.static)[1:]
        self.with_tracing = with_tracing
        self._second: tuple[int, str] = (-1, "")  # the formatted second, reused by the lines within it

    def _timestamp(self, created: float) -> str:
        second = int(created)
        cached_second, prefix = self._second
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        return f"{prefix}.{int((created - second) * 1000):03d}Z"

    def render(
        self,
        *,
        created: float,
        level: int,
        logger: str,
        message: str,
        fields: Iterable[tuple[str, Any]],
        pid: int | None,
        thread_name: str | None,
        request_id: str | None,
        trace_ids: tuple[str, str] | None,
        exc: BaseException | None = None,
        own_fields: dict[str, Any] | None = None,
    ) -> str:
        """The JSON line for one event; every field value is masked by its key and its text.

        `own_fields` are values the service makes itself (numbers, route templates, addresses) under keys
        written in code: they are taken as they are, which saves the masking's look on every access line.
        """
        doc: dict[str, Any] = {
            "@timestamp": self._timestamp(created),
            "log.level": _level_name(level),
            "message": message,
            "log.logger": logger,
            "process.pid": pid,
            "process.thread.name": thread_name,
        }
        if request_id is not None:
            doc["http.request.id"] = request_id
        if trace_ids is not None:
            doc["trace.id"], doc["span.id"] = trace_ids
        if own_fields:
            doc.update(own_fields)
        text_keys = ["message"]  # the keys whose values are free text
        for key, value in fields:
            if _sensitive_key(key):
                doc[key] = REDACTED
            elif value.__class__ is str:
                doc[key] = value
                text_keys.append(key)
            elif isinstance(value, dict):
                doc[key] = _redact_value(key, value)
            else:
                doc[key] = value
        # One look over all the text at once; the patterns run only when something may need masking.
        if _may_hold_secret("\n".join([doc[key] for key in text_keys])):
            for key in text_keys:
                doc[key] = redact(doc[key])
        if exc is not None:
            doc["error.type"] = type(exc).__name__
            doc["error.message"] = redact(str(exc))
            doc["error.stack_trace"] = redact("".join(traceback.format_exception(exc)))
        return (orjson.dumps(doc, default=str)[:-1] + self._static_tail).decode()

    def current_trace_ids(self) -> tuple[str, str] | None:
        return _trace_ids() if self.with_tracing else None

    def format(self, record: logging.LogRecord) -> str:
        rendered = record.__dict__.get(RENDERED_LINE)
        if rendered is not None:  # an access line on its way to the Logstash handler
            return str(rendered)
        return self.render(
            created=record.created,
            level=record.levelno,
            logger=record.name,
            message=record.getMessage(),
            fields=((key, value) for key, value in record.__dict__.items() if key not in _RECORD_ATTRS),
            pid=record.process,
            thread_name=record.threadName,
            request_id=request_id_var.get(),
            trace_ids=self.current_trace_ids(),
            exc=record.exc_info[1] if record.exc_info else None,
        )


@functools.lru_cache(maxsize=64)
def _level_name(level: int) -> str:
    return logging.getLevelName(level).lower()


class PlainFormatter(logging.Formatter):
    """Human-readable lines (ABB_LOG_JSON=false), still redacted and still carrying the request id."""

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        request_id = request_id_var.get()
        return f"{line} [request_id={request_id}]" if request_id is not None else line


class TerminalFormatter(logging.Formatter):
    """Short lines for a person watching `abb serve` in development: '20:12:01 INFO  GET /matches 200 12 ms'.

    Still redacted; the request id and the logger are left out (the JSON lines carry them)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        duration = getattr(record, "event.duration", None)
        line = redact(super().format(record))
        if isinstance(duration, int) and record.name == ACCESS_LOGGER:
            line = f"{line} {duration / 1e6:.0f} ms"
        elif not record.name.startswith(("abb.access", "uvicorn")):
            line = f"{line} ({record.name})"
        return line


def wants_json(settings: Settings, stream: IO[str]) -> bool:
    """ABB_LOG_JSON when set; else text for a person at a terminal in development, JSON for everything else."""
    if settings.log_json is not None:
        return settings.log_json
    return not (settings.env == "development" and _is_terminal(stream))


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a person
        return False


def parse_levels(spec: str) -> dict[str, int]:
    """'abb=INFO,sqlalchemy.engine=WARNING' -> {'abb': 20, 'sqlalchemy.engine': 30}; '' names the root."""
    levels: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, level = item.rpartition("=")
        number = logging.getLevelName(level.strip().upper())
        if not isinstance(number, int):
            raise ValueError(f"unknown log level {level!r} in ABB_LOG_LEVELS")
        levels[name.strip() or ""] = number
    return levels


def _buffer_slot(path: Path) -> Path:
    """One buffer file per live process: the first slot whose lock is free (held for the process's life).

    Processes never share a SQLite buffer (the handler would delete each other's in-flight batches),
    and a restarted worker takes over a slot left behind, so its events are still sent.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for slot in range(64):
        candidate = path.with_name(f"{path.stem}.{slot}{path.suffix}")
        lock = open(candidate.with_suffix(candidate.suffix + ".lock"), "a")  # noqa: SIM115 - held open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _held_locks.append(lock)
        return candidate
    raise RuntimeError(f"no free Logstash buffer slot next to {path}")


_held_locks: list[IO[str]] = []
_installed: list[Any] = []  # the handlers configure_logging installed: LineStreamHandler, LogstashLineHandler
_levelled: set[str] = set()  # the loggers whose level it set


class LineSink(NamedTuple):
    formatter: EcsJsonFormatter
    handlers: list[Any]  # each has write_lines(list[str])


_line_sink: LineSink | None = None


class LineStreamHandler(logging.StreamHandler):
    """The console handler; it also takes lines rendered already (batches of access lines)."""

    def write_lines(self, lines: list[str]) -> None:
        self.acquire()
        try:
            self.stream.write(self.terminator.join(lines) + self.terminator)
            self.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"name": ACCESS_LOGGER, "msg": lines[0]}))
        finally:
            self.release()


def logstash_handler(settings: Settings, formatter: logging.Formatter) -> logging.Handler:
    from logstash_async.constants import constants
    from logstash_async.handler import AsynchronousLogstashHandler

    class LogstashLineHandler(AsynchronousLogstashHandler):
        def write_lines(self, lines: list[str]) -> None:
            # One event per line; the library formats records on the way in: records carrying the lines.
            for line in lines:
                self.emit(logging.makeLogRecord({"name": ACCESS_LOGGER, "msg": line, RENDERED_LINE: line}))

    # After a refused connection the library waits up to this long for the (never connected) socket's
    # write buffer to empty before retrying; its 30 s default holds back every event after an outage.
    constants.SOCKET_CLOSE_WAIT_TIMEOUT = 1.0

    buffer = settings.logstash_buffer_path or settings.var_dir / "logstash-buffer.sqlite3"
    handler = LogstashLineHandler(
        settings.logstash_host,
        settings.logstash_port,
        database_path=str(_buffer_slot(Path(buffer))),
        transport="logstash_async.transport.TcpTransport",
    )
    handler.setFormatter(formatter)
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None, root_level: int | str | None = None) -> None:
    """Install the JSON handler (and the Logstash one when configured) on the root logger.

    `root_level` (a Celery worker's --loglevel) applies unless ABB_LOG_LEVELS names the root ("=LEVEL").
    Idempotent: calling it again (tests, several apps in one process) replaces what it installed.
    """
    global _line_sink
    from abb.observability.recorder import recorder

    root = logging.getLogger()
    recorder.flush()  # waiting access lines go to the handlers they were waiting for
    for handler in _installed:
        root.removeHandler(handler)
        with contextlib.suppress(Exception):
            handler.close()
    _installed.clear()
    from abb.observability.tracing import tracing_wanted

    formatter: logging.Formatter
    out = stream or sys.stdout
    if wants_json(settings, out):
        formatter = EcsJsonFormatter(settings.service_name, settings.env, with_tracing=tracing_wanted(settings))
    elif settings.log_json is None:
        formatter = TerminalFormatter()
    else:
        formatter = PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = LineStreamHandler(out)
    console.setFormatter(formatter)
    _installed.append(console)
    if settings.logstash_host:
        _installed.append(logstash_handler(settings, formatter))
    for handler in _installed:
        root.addHandler(handler)
    _line_sink = LineSink(formatter, list(_installed)) if isinstance(formatter, EcsJsonFormatter) else None
    # No line shows the caller's file and line: skip logging's stack walk for every record (logging docs).
    logging._srcfile = None
    levels = parse_levels(settings.log_levels)
    root.setLevel(levels.pop("", root_level or logging.INFO))
    for name in _levelled.difference(levels):  # a level the previous configuration set, not this one
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    _levelled.clear()
    _levelled.update(levels)
    # uvicorn's own handlers would print plain text next to ours: route its records to the root.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # abb.access writes the access line (with request id and route); uvicorn's would be a second one.
    logging.getLogger("uvicorn.access").disabled = True


def json_line_sink() -> LineSink | None:
    """Where rendered JSON lines go (the access lines, abb.observability.recorder); None with text logs."""
    return _line_sink


def flush_logs() -> None:
    """Write what is waiting: finished requests' access lines, then each handler's buffer."""
    from abb.observability.recorder import recorder

    recorder.flush()
    for handler in _installed:
        handler.flush()


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging config: no handlers of its own, so its records reach ours (JSON or text lines)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
    }

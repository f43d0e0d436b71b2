"""Structured logs: one JSON object per line, with the request id, and no secrets."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gateway import tracing
from gateway.context import current_client, current_request_id
from providers.redact import Redactor

# Record attributes that are not extra fields; uvicorn's color_message duplicates message.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line, masking every registered secret in every value
    before it is serialised (after, a secret holding `"` or `\\` would be escaped past the
    mask)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)
        self._encode = json.JSONEncoder(ensure_ascii=False).encode
        self._second = -1
        self._stamp = ""
        # Which worker wrote the line, with GATEWAY_WORKERS > 1; each builds its own.
        self._pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        # One line per request: the time, level and logger name are the gateway's own and
        # carry no secret; everything else is masked.
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": self._pid,
            "message": self.redact(record.getMessage()),
            "request_id": self._clean(getattr(record, "request_id", None) or current_request_id()),
        }
        if (client := current_client()) is not None:
            entry["client"] = client  # a name from the clients file, never a key
        entry.update(tracing.ids())  # trace_id and span_id, when the line is in a trace
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = self._clean(value)
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return self._encode(entry)

    def _timestamp(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond; the date and time formatted once a second
        (the handler's lock is held while a record is formatted)."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        millis = min(999, round((created - second) * 1_000_000) // 1000)
        return f"{self._stamp}.{millis:03d}+00:00"

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {str(k): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v) for v in value]
        return self.redact(str(value))


class DropStartupTraceback(logging.Filter):
    """Drops the server's traceback of a refused startup: the gateway has already said why
    in one line, and the traceback would only repeat it, maybe with a value in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "uvicorn.error" or record.levelno < logging.ERROR:
            return True
        text = record.getMessage()
        return not (record.exc_info or text.startswith("Traceback (most recent call last)"))


class OncePerInterval(logging.Filter):
    """Lets one record of a kind through per `interval_s`, without its traceback, and says
    how many it held back. asyncio logs every failed accept() when the process is out of
    file descriptors: tens of thousands of lines with tracebacks a second, which fill the
    disk and hide everything else."""

    def __init__(self, prefix: str, interval_s: float = 10.0) -> None:
        super().__init__()
        self._prefix = prefix
        self._interval_s = interval_s
        self._next = 0.0
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self._prefix):
            return True
        if record.created < self._next:
            self._held += 1
            return False
        self._next = record.created + self._interval_s
        if record.exc_info and record.exc_info[1] is not None:
            record.error = type(record.exc_info[1]).__name__
        record.exc_info = None
        record.exc_text = None
        record.held_back = self._held
        record.hint = "out of file descriptors? raise the process's nofile limit (README)"
        self._held = 0
        return True


def configure_logging(level: str, secrets: Iterable[str] = (), *, refused: bool = False) -> None:
    """Send the gateway's and uvicorn's logs through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    if refused:
        handler.addFilter(DropStartupTraceback())
    # Nothing the JSON line shows needs the caller's frame, thread or process looked up per
    # record (the logging documentation's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.filters[:] = [OncePerInterval("socket.accept() out of system resource")]
    # The gateway writes its own access line, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)

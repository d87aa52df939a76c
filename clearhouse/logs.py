"""Log lines: each carries the id of the request (or generation job) it was written for, and
is human-readable text or one JSON object a line (``CLEARHOUSE_LOG_FORMAT``).

The request id lives in a context variable: set by the HTTP middleware
(clearhouse/http_metrics.py) for a request, copied by Starlette into the thread a route runs
in, and set by the generation worker for the job it runs (the id of the request that queued
it, stored with the job).
"""

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
current_request_id: ContextVar[str | None] = ContextVar("clearhouse_request_id", default=None)
# An incoming id is kept only if it could not smuggle anything into a log line or a header.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def request_id_from(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is well-formed (8 to 64 letters, digits or
    ``._:-``); otherwise a new one."""
    if incoming is not None and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@contextmanager
def request_id_set(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry ``request_id``."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``-`` outside any request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and whatever the
    line was given as ``extra`` among :data:`FIELDS` (an access line's route and status)."""

    FIELDS = ("method", "route", "status", "duration_ms", "client")

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_config(*, log_format: str, access_log: bool, level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for ``clearhouse serve`` (given to uvicorn, which
    applies it in every worker process): the app's, uvicorn's and the access lines through
    one handler on stderr; access lines only when ``access_log``."""
    formatter = (
        {"()": "clearhouse.logs.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "clearhouse.logs.RequestIdFilter"}},
        "formatters": {"clearhouse": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "clearhouse",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # Through the root's handler, not uvicorn's own.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Access lines come from clearhouse.access, which knows the route.
            "uvicorn.access": {"handlers": [], "propagate": False},
            "clearhouse.access": {"level": "INFO" if access_log else "WARNING"},
        },
    }

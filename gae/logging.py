"""Logs for Cloud Logging: one JSON object per line, nested under the request's trace.

On App Engine, a line on stdout that is a JSON object becomes a structured log entry; with
``logging.googleapis.com/trace`` set to ``projects/P/traces/T`` it is shown under the
request that wrote it, and an entry whose message holds a Python traceback (with the
``ReportedErrorEvent`` type) is picked up by Error Reporting. Off App Engine the same
records are written as plain readable lines.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import typing as t
from contextvars import ContextVar
from datetime import UTC, datetime

from .headers import Trace
from .settings import Settings, get_settings

#: The trace of the request this thread is serving, set by the entry-point adapter.
current_trace: ContextVar[Trace | None] = ContextVar("gae.current_trace", default=None)

_ERROR_EVENT = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"
_SEVERITY = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
}


class CloudLoggingFormatter(logging.Formatter):
    """Formats a record as the JSON object Cloud Logging and Error Reporting read."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The project, service and version stamped on entries."""
        return self._settings if self._settings is not None else get_settings()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, t.Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": message,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": str(record.lineno),
                "function": record.funcName,
            },
        }
        trace = current_trace.get()
        settings = self.settings
        project = settings.project
        if trace is not None and project:
            entry["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace.trace_id}"
            if trace.span_id:
                entry["logging.googleapis.com/spanId"] = trace.span_id
            entry["logging.googleapis.com/trace_sampled"] = trace.sampled
        if record.exc_info and record.exc_info[0] is not None:
            # Error Reporting reads the stack trace from the message itself.
            stack = "".join(traceback.format_exception(*record.exc_info))
            entry["message"] = f"{message}\n{stack}" if message else stack
            entry["@type"] = _ERROR_EVENT
            entry["serviceContext"] = {
                "service": settings.service,
                "version": settings.version or "local",
            }
        elif record.stack_info:
            entry["message"] = f"{message}\n{record.stack_info}"
        return json.dumps(entry, ensure_ascii=False, default=str)


class ReadableFormatter(logging.Formatter):
    """Plain lines for a terminal, with the trace id when a request has one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace = current_trace.get()
        return f"{line} [trace {trace.trace_id}]" if trace is not None else line


_HANDLER_MARK = "_gae_logging_handler"


def setup_logging(
    *,
    json_format: bool | None = None,
    level: int = logging.INFO,
    stream: t.TextIO | None = None,
    settings: Settings | None = None,
) -> logging.Handler:
    """Send log records of every logger to ``stream`` (stdout), JSON on App Engine.

    Installs one handler on the root logger (replacing one installed earlier by this
    function), so ``app.logger`` and libraries' loggers all land there.
    """
    if json_format is None:
        json_format = (settings or get_settings()).on_app_engine
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(CloudLoggingFormatter(settings) if json_format else ReadableFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    return handler

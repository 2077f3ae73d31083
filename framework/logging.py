"""The application logger and its default handler.

:func:`create_logger` returns ``logging.getLogger(app.name)`` and, only when nothing else
would handle its records, attaches :data:`default_handler`. That handler writes to the WSGI
server's error stream during a request (so messages land in the server's log) and to
``sys.stderr`` otherwise. Remove it with ``app.logger.removeHandler(default_handler)`` to
take over formatting entirely.
"""

from __future__ import annotations

import logging
import sys
import typing as t

from werkzeug.local import LocalProxy

from .globals import _cv_request

if t.TYPE_CHECKING:
    from .app import Flask


def _current_errors_stream() -> t.TextIO:
    # Looked up on every write rather than once: the stream belongs to the request being
    # served, and a worker serves many requests, possibly on several threads.
    ctx = _cv_request.get(None)
    if ctx is not None:
        return t.cast(t.TextIO, ctx.request.environ["wsgi.errors"])
    return sys.stderr


wsgi_errors_stream: t.TextIO = LocalProxy(_current_errors_stream)  # type: ignore[assignment]
"""A proxy to ``environ["wsgi.errors"]`` of the active request, else to ``sys.stderr``."""


def has_level_handler(logger: logging.Logger) -> bool:
    """Whether some handler on ``logger`` or its ancestors accepts its effective level.

    Follows propagation the way :mod:`logging` does, stopping at a logger with
    ``propagate = False``.
    """
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


default_handler: logging.StreamHandler[t.TextIO] = logging.StreamHandler(wsgi_errors_stream)
"""Writes to :data:`wsgi_errors_stream`; added by :func:`create_logger` when needed."""
default_handler.setFormatter(
    logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")
)


def create_logger(app: Flask) -> logging.Logger:
    """Return the logger named after ``app``, configured for it.

    In debug mode a logger without an explicit level is set to ``DEBUG``. A level set by the
    user, or handlers configured through :mod:`logging` beforehand, are left untouched.
    """
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger

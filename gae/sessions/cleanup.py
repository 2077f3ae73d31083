"""Deleting expired Datastore sessions: :func:`cleanup`, and the cron URL that runs it.

Both the cron URL and ``framework sessions cleanup`` (:mod:`gae.sessions.cli`) delete in
batches (cursor-paged) within a time budget, so a cron request stays well inside App
Engine's request deadline; the cron entry runs again and continues.
"""

from __future__ import annotations

import typing as t

from framework import Flask, jsonify
from gae.errors import ConfigurationError
from gae.headers import cron_only
from gae.ndb import ensure_context

from .interface import DatastoreSessionInterface

CLEANUP_RULE = "/tasks/session-cleanup"


def cleanup(app: Flask, *, batch_size: int = 500, time_budget: float = 20.0) -> tuple[int, bool]:
    """Delete expired sessions of ``app`` for at most ``time_budget`` seconds.

    Returns ``(deleted, finished)``; run it again while ``finished`` is false.
    """
    interface = app.session_interface
    if not isinstance(interface, DatastoreSessionInterface):
        raise ConfigurationError(
            "This app does not use Datastore sessions (app.session_interface is "
            f"{type(interface).__name__}): set app.session_interface = "
            "gae.sessions.DatastoreSessionInterface() or use gae.wrap(app, sessions=True)."
        )
    store = interface.store(app)
    with ensure_context():
        deleted, cursor = store.cleanup(batch_size=batch_size, time_budget=time_budget)
    return deleted, cursor is None


def register_cleanup_route(app: Flask, rule: str = CLEANUP_RULE) -> None:
    """Add the cron-only cleanup URL (``cron.yaml`` calls it; others get 403)."""

    @cron_only
    def session_cleanup() -> t.Any:
        deleted, finished = cleanup(app)
        return jsonify(deleted=deleted, finished=finished)

    app.add_url_rule(rule, "gae_session_cleanup", session_cleanup, methods=["GET", "POST"])

"""Deleting expired Datastore sessions: ``framework sessions cleanup`` and a cron URL.

Both delete in batches (cursor-paged) within a time budget, so a cron request stays well
inside App Engine's request deadline; the cron entry runs again and continues.
"""

from __future__ import annotations

import typing as t

import click

from framework import Flask, current_app, jsonify
from framework.cli import AppGroup
from gae.headers import cron_only
from gae.ndb import get_client

from .interface import DatastoreSessionInterface

CLEANUP_RULE = "/tasks/session-cleanup"


def cleanup(app: Flask, *, batch_size: int = 500, time_budget: float = 20.0) -> tuple[int, bool]:
    """Delete expired sessions of ``app`` for at most ``time_budget`` seconds.

    Returns ``(deleted, finished)``; run it again while ``finished`` is false.
    """
    interface = app.session_interface
    if not isinstance(interface, DatastoreSessionInterface):
        raise RuntimeError(
            "This app does not use Datastore sessions (app.session_interface is "
            f"{type(interface).__name__}): set app.session_interface = "
            "gae.sessions.DatastoreSessionInterface() or use gae.wrap(app, sessions=True)."
        )
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    store = interface.store(app)
    if ndb.context.get_context(False) is not None:
        deleted, cursor = store.cleanup(batch_size=batch_size, time_budget=time_budget)
    else:
        with get_client().context():
            deleted, cursor = store.cleanup(batch_size=batch_size, time_budget=time_budget)
    return deleted, cursor is None


def register_cleanup_route(app: Flask, rule: str = CLEANUP_RULE) -> None:
    """Add the cron-only cleanup URL (``cron.yaml`` calls it; others get 403)."""

    @cron_only
    def session_cleanup() -> t.Any:
        deleted, finished = cleanup(current_app._get_current_object())  # type: ignore[attr-defined]
        return jsonify(deleted=deleted, finished=finished)

    app.add_url_rule(rule, "gae_session_cleanup", session_cleanup, methods=["GET", "POST"])


@click.group("sessions", cls=AppGroup)
def sessions() -> None:
    """Datastore session maintenance."""


@sessions.command("cleanup")  # type: ignore[untyped-decorator, unused-ignore]
@click.option("--batch-size", default=500, show_default=True, help="Sessions per batch.")
@click.option(
    "--time-budget",
    default=600.0,
    show_default=True,
    help="Seconds to run before stopping (rerun to continue).",
)
def cleanup_command(batch_size: int, time_budget: float) -> None:
    """Delete expired sessions from Datastore."""
    try:
        deleted, finished = cleanup(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            batch_size=batch_size,
            time_budget=time_budget,
        )
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    state = "done" if finished else "time budget used up; run again to continue"
    click.echo(f"Deleted {deleted} expired session(s): {state}.")

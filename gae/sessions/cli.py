"""``framework sessions cleanup``: delete expired Datastore sessions from the command line.

Reached only through the ``framework.commands`` entry point: nothing at run time imports
this module (or click), so ``gae.wrap(app, sessions=True)`` stays cheap at cold start.
"""

from __future__ import annotations

import click

from framework import Flask, current_app
from framework.cli import AppGroup
from gae.errors import ConfigurationError

from .cleanup import cleanup


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
    app: Flask = current_app
    try:
        deleted, finished = cleanup(app, batch_size=batch_size, time_budget=time_budget)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    state = "done" if finished else "time budget used up; run again to continue"
    click.echo(f"Deleted {deleted} expired session(s): {state}.")

"""Commands that installed packages add to the ``framework`` command, loaded on demand.

Two entry-point groups are read: ``framework.commands`` (this package's own tools) and
``flask.commands``, where Flask extensions register theirs (Flask-Migrate's ``db``,
Flask-Limiter's ``limiter``). A plugin is imported only when its command is run or asked
for help, so ``framework run``, ``routes`` and ``--help`` work whatever state the other
plugins are in, and one that fails to import is reported by name, with the fix, instead of
a traceback:

* an entry point that declares extras (``gae = "gae.deploy.cli:gae [gae]"``) and fails
  with an ImportError names the extra to install: ``pip install "gae-framework[gae]"``;
* a ``flask.commands`` plugin imports ``flask``, which only works through
  :func:`framework.install_as_flask`: the alias is installed before the plugin is imported
  (or, if the real Flask is already loaded, the command says which module loaded it).
"""

from __future__ import annotations

import typing as t
from importlib import metadata

import click

from framework.alias import FlaskAlreadyImportedError, install_as_flask

#: Entry-point groups scanned for commands, in order of precedence.
PLUGIN_GROUPS = ("framework.commands", "flask.commands")
#: The group where Flask extensions register commands; its plugins import ``flask``.
FLASK_PLUGIN_GROUP = "flask.commands"


def discover() -> dict[str, metadata.EntryPoint]:
    """Plugin commands by name, from installed metadata only (nothing is imported)."""
    found: dict[str, metadata.EntryPoint] = {}
    for group in PLUGIN_GROUPS:
        for entry_point in metadata.entry_points(group=group):
            found.setdefault(entry_point.name, entry_point)
    return found


def _distribution(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    name = dist.metadata["Name"] if dist is not None else None
    return str(name) if name else entry_point.value.partition(":")[0].partition(".")[0]


def short_help(entry_point: metadata.EntryPoint) -> str:
    """The line shown by ``--help`` for a plugin that was not imported."""
    return f"Command from {_distribution(entry_point)}."


def _failure(entry_point: metadata.EntryPoint, error: BaseException) -> str:
    name, dist = entry_point.name, _distribution(entry_point)
    extras = list(getattr(entry_point, "extras", None) or ())
    reason = f"{type(error).__name__}: {error}"
    if isinstance(error, ImportError) and extras:
        which = ",".join(extras)
        label = "extra" if len(extras) == 1 else "extras"
        return (
            f"The '{name}' command needs the {label} [{which}] of {dist}, which is not "
            f'installed ({reason}). Install it with: pip install "{dist}[{which}]"'
        )
    if isinstance(error, ImportError):
        return (
            f"The '{name}' command of {dist} could not be imported ({reason}). Reinstall "
            f"{dist} with its dependencies: pip install --force-reinstall {dist}"
        )
    return f"The '{name}' command of {dist} failed to load ({reason})."


def unavailable_command(name: str, message: str) -> click.Command:
    """A stand-in for a plugin that could not be loaded: running it, with any arguments
    (``--help`` included), prints ``message`` and exits with status 1."""

    def fail(args: tuple[str, ...]) -> t.NoReturn:
        raise click.ClickException(message)

    return click.Command(
        name,
        callback=fail,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=message,
        short_help=f"Unavailable: {message}",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def load(entry_point: metadata.EntryPoint) -> click.Command:
    """Import one plugin command; a failure becomes an :func:`unavailable_command`."""
    if entry_point.group == FLASK_PLUGIN_GROUP:
        try:
            install_as_flask()
        except FlaskAlreadyImportedError as error:
            return unavailable_command(
                entry_point.name,
                f"The '{entry_point.name}' command of {_distribution(entry_point)} is a Flask "
                f"extension's command and needs framework as 'flask'. {error}",
            )
    try:
        command = entry_point.load()
    except Exception as error:
        return unavailable_command(entry_point.name, _failure(entry_point, error))
    if not isinstance(command, click.Command):
        return unavailable_command(
            entry_point.name,
            f"The '{entry_point.name}' entry point of {_distribution(entry_point)} "
            f"({entry_point.value}) is {type(command).__name__}, not a click command.",
        )
    return command

"""The ``framework`` command line (the ``flask`` command's equivalent), built on click.

``framework --app hello run`` serves an application; ``routes`` lists its URL rules and
``shell`` opens an interactive Python shell in its app context. The application's own
commands (``@app.cli.command()``) and commands registered by installed packages under the
``framework.commands`` entry-point group appear next to the built-in ones.

This module holds the command groups; app discovery lives in
:mod:`framework.cli.discovery` and the built-in commands in :mod:`framework.cli.commands`.
Every public name is importable from :mod:`framework.cli`.
"""

from __future__ import annotations

import os
import platform
import traceback
import typing as t
from importlib import metadata

import click

from framework.alias import PACKAGE_VERSION
from framework.helpers import get_load_dotenv

from . import plugins
from .commands import debug_option, routes_command, run_command, shell_command
from .discovery import NoAppException, ScriptInfo, _AppNotLocated, with_appcontext

if t.TYPE_CHECKING:
    from framework.app import Flask

#: Entry-point group of this package's extra commands (``name = "package.module:command"``);
#: Flask extensions' ``flask.commands`` are read too (see :mod:`framework.cli.plugins`).
PLUGIN_GROUP = plugins.PLUGIN_GROUPS[0]


_HELP_REQUESTED = "framework.cli.help_requested"
_NO_ARGS = "framework.cli.no_args"


class AppGroup(click.Group):
    """A click group whose commands run in the application context unless registered with
    ``with_appcontext=False``; its sub-groups are ``AppGroup`` too."""

    @t.overload
    def command(self, __func: t.Callable[..., t.Any]) -> click.Command: ...

    @t.overload
    def command(
        self, *args: t.Any, **kwargs: t.Any
    ) -> t.Callable[[t.Callable[..., t.Any]], click.Command]: ...

    def command(
        self, *args: t.Any, **kwargs: t.Any
    ) -> t.Callable[[t.Callable[..., t.Any]], click.Command] | click.Command:
        """Like :meth:`click.Group.command`, wrapping the callback in :func:`with_appcontext`."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.command()(args[0])
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(f: t.Callable[..., t.Any]) -> click.Command:
            if wrap:
                f = with_appcontext(f)
            command: click.Command = click.Group.command(self, *args, **kwargs)(f)
            return command

        return decorator

    @t.overload
    def group(self, __func: t.Callable[..., t.Any]) -> click.Group: ...

    @t.overload
    def group(
        self, *args: t.Any, **kwargs: t.Any
    ) -> t.Callable[[t.Callable[..., t.Any]], click.Group]: ...

    def group(
        self, *args: t.Any, **kwargs: t.Any
    ) -> t.Callable[[t.Callable[..., t.Any]], click.Group] | click.Group:
        """Like :meth:`click.Group.group`; the new group is an :class:`AppGroup`."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.group()(args[0])
        kwargs.setdefault("cls", AppGroup)
        decorator: t.Callable[[t.Callable[..., t.Any]], click.Group] = super().group(
            *args, **kwargs
        )
        return decorator


def _dotenv_files_present() -> bool:
    return any(os.path.isfile(name) for name in (".env", ".flaskenv"))


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Set environment variables from dotenv files (needs ``python-dotenv``).

    Precedence, highest first: variables already in the environment (never overridden),
    the file at ``path``, then, with ``load_defaults``, ``.env`` and ``.flaskenv`` (each the
    nearest one from the current directory upwards). Returns whether any value was read.
    """
    try:
        import dotenv
    except ImportError:
        if path is not None or (load_defaults and _dotenv_files_present()):
            click.secho(
                " * Tip: There are .env files present. Install python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False

    values: dict[str, str | None] = {}
    if load_defaults:
        for name in (".flaskenv", ".env"):
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                values.update(dotenv.dotenv_values(found, encoding="utf-8"))
    if path is not None and os.path.isfile(path):
        values.update(dotenv.dotenv_values(path, encoding="utf-8"))

    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
    return bool(values)


def get_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: print the Python, framework and Werkzeug versions and exit."""
    if not value or ctx.resilient_parsing:
        return
    try:
        werkzeug_version = metadata.version("werkzeug")
    except metadata.PackageNotFoundError:  # vendored without its metadata
        werkzeug_version = "(version unknown: no installed metadata)"
    click.echo(
        f"Python {platform.python_version()}\n"
        f"framework {PACKAGE_VERSION}\n"
        f"Werkzeug {werkzeug_version}",
        color=ctx.color,
    )
    ctx.exit()


version_option = click.Option(
    ["--version"],
    help="Show the framework version.",
    expose_value=False,
    callback=get_version,
    is_flag=True,
    is_eager=True,
)


def _env_file_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    info = ctx.ensure_object(ScriptInfo)
    load_defaults = get_load_dotenv(info.load_dotenv_defaults)
    if value is not None:
        try:
            import dotenv  # noqa: F401
        except ImportError:
            raise click.BadParameter(
                "python-dotenv must be installed to load an env file: pip install python-dotenv.",
                ctx,
                param,
            ) from None
    if value is not None or load_defaults:
        load_dotenv(value, load_defaults=load_defaults)


def _app_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(ScriptInfo).app_import_path = value


def _group_options() -> list[click.Parameter]:
    return [
        # Eager and first, so FLASK_APP etc. from the files are seen by the options below.
        click.Option(
            ["-e", "--env-file"],
            type=click.Path(exists=True, dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_env_file_callback,
            help="Load environment variables from this file, taking precedence over those "
            "set by '.env' and '.flaskenv'. Variables set directly in the environment take "
            "highest precedence. python-dotenv must be installed.",
        ),
        click.Option(
            ["-A", "--app"],
            metavar="IMPORT",
            envvar="FLASK_APP",
            expose_value=False,
            callback=_app_callback,
            help="The application or factory function to load, in the form 'module:name'. "
            "Module can be a dotted import or file path. Name is not required if it is "
            "'app', 'application', 'create_app', or 'make_app', and can be 'name(args)' to "
            "pass arguments.",
        ),
        debug_option(),
    ]


class _NoArgsHelp(click.exceptions.NoArgsIsHelpError):
    """Help shown (on stderr, exit code 2) for a bare ``framework`` with no arguments."""

    def __init__(self, ctx: click.Context, text: str) -> None:
        click.UsageError.__init__(self, text, ctx=ctx)


def _defer_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        ctx.meta[_HELP_REQUESTED] = True


class FlaskGroup(AppGroup):
    """The command group of the ``framework`` command, usable for custom scripts too.

    It adds the ``--env-file``, ``--app`` and ``--debug`` options (and ``--version``), the
    ``run``, ``shell`` and ``routes`` commands, plugin commands from the
    ``framework.commands`` and ``flask.commands`` entry points (imported on demand), and
    the loaded application's ``app.cli`` commands. ``create_app`` (a callable without
    arguments) replaces discovery; ``load_dotenv=False`` skips the default
    ``.env``/``.flaskenv`` files.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: t.Callable[..., Flask] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: t.Any,
    ) -> None:
        params: list[click.Parameter] = _group_options()
        if add_version_option:
            params.append(version_option)
        params.extend(extra.pop("params", None) or ())
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(shell_command)
            self.add_command(routes_command)
        self._plugins: dict[str, metadata.EntryPoint] | None = None

    def _plugin_entry_points(self) -> dict[str, metadata.EntryPoint]:
        """Plugins not imported yet, by command name (read once from installed metadata)."""
        if self._plugins is None:
            self._plugins = plugins.discover()
        return self._plugins

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # A plugin is imported when its command is asked for, and only that one; as in
        # Flask, a plugin named like a built-in command replaces it.
        entry_point = self._plugin_entry_points().pop(cmd_name, None)
        if entry_point is not None:
            self.add_command(plugins.load(entry_point), cmd_name)
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command

        info = ctx.ensure_object(ScriptInfo)
        try:
            app = info.load_app()
        except NoAppException as error:
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
            return None

        # The app's own commands run in its context even when they are plain click commands.
        from framework.globals import _cv_app

        current = _cv_app.get(None)
        if current is None or current.app is not app:
            ctx.with_resource(app.app_context())
        return app.cli.get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx)) | self._plugin_entry_points().keys()
        info = ctx.ensure_object(ScriptInfo)
        try:
            names.update(info.load_app().cli.list_commands(ctx))
        except _AppNotLocated:
            pass  # nothing to load: list the built-in commands only
        except NoAppException as error:
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
        except Exception:
            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        return sorted(names)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section of ``--help``; plugins not imported yet are listed by the
        package that provides them, so printing help never imports them."""
        rows: list[tuple[str, click.Command | str]] = []
        for name in self.list_commands(ctx):
            entry_point = self._plugin_entry_points().get(name)
            if entry_point is not None:
                rows.append((name, plugins.short_help(entry_point)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl(
                [
                    (name, item if isinstance(item, str) else item.get_short_help_str(limit))
                    for name, item in rows
                ]
            )

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        # The help text lists the app's commands, so printing it waits until every option
        # (--env-file, --app, dotenv files) has been processed; see parse_args.
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _defer_help
        return option

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        # Tells app.run() in the loaded module not to start a second server.
        os.environ["FLASK_RUN_FROM_CLI"] = "true"
        settings = extra.keys() | self.context_settings.keys()
        if parent is None and "auto_envvar_prefix" not in settings:
            extra["auto_envvar_prefix"] = "FLASK"
        if (
            "obj" not in extra
            and "obj" not in self.context_settings
            and (parent is None or parent.obj is None)
        ):
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        help_option = self.get_help_option(ctx)
        if not args and self.no_args_is_help and not ctx.resilient_parsing and help_option:
            ctx.meta[_NO_ARGS] = True
            args = [help_option.opts[0]]
        rest = super().parse_args(ctx, args)
        if ctx.meta.pop(_HELP_REQUESTED, False):
            no_args = ctx.meta.pop(_NO_ARGS, False)
            try:
                text = ctx.get_help()
            finally:
                # Listing commands may push the app context onto this context; the help
                # exits before click would close it.
                ctx.close()
            if no_args:
                raise _NoArgsHelp(ctx, text)
            click.echo(text, color=ctx.color)
            ctx.exit()
        return rest


cli = FlaskGroup(
    name="framework",
    help="""\
A general utility script for framework (Flask-compatible) applications.

An application to load must be given with the '--app' option, 'FLASK_APP' environment
variable, or with a 'wsgi.py' or 'app.py' file in the current directory.
""",
)


def main() -> None:
    """Entry point of the ``framework`` console script."""
    cli.main()

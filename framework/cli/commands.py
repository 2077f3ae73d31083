"""The built-in commands of the ``framework`` command line: ``run``, ``shell`` and ``routes``."""

from __future__ import annotations

import importlib.util
import os
import ssl
import sys
import typing as t

import click
from werkzeug.serving import is_running_from_reloader, run_simple
from werkzeug.utils import import_string

from framework.helpers import get_debug_flag
from framework.serving import show_server_banner

from .discovery import ScriptInfo, pass_script_info, with_appcontext

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _set_debug_env(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    """``--debug`` / ``--no-debug``: record the choice in ``FLASK_DEBUG`` for the app."""
    if value is None or ctx.resilient_parsing:
        return
    os.environ["FLASK_DEBUG"] = "1" if value else "0"


def debug_option() -> click.Option:
    """A fresh ``--debug/--no-debug`` option (shared by the group and ``run``)."""
    return click.Option(
        ["--debug/--no-debug"],
        default=None,
        help="Set debug mode.",
        expose_value=False,
        callback=_set_debug_env,
    )


if t.TYPE_CHECKING:
    _AnyParamType = click.ParamType[t.Any, t.Any]
else:
    _AnyParamType = click.ParamType


def _cryptography_available() -> bool:
    """Whether ``cryptography`` can be imported, without importing it. A module already in
    ``sys.modules`` counts even without a ``__spec__`` (find_spec raises ValueError then)."""
    if sys.modules.get("cryptography") is not None:
        return True
    try:
        return importlib.util.find_spec("cryptography") is not None
    except (ImportError, ValueError):
        return False


class CertParamType(_AnyParamType):
    """The ``--cert`` value: an existing file, ``adhoc`` (a throw-away certificate, needs
    the ``cryptography`` package) or the import path of an :class:`ssl.SSLContext`."""

    name = "path"

    def __init__(self) -> None:
        self.path_type = click.Path(exists=True, dir_okay=False, resolve_path=True)

    def convert(
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> t.Any:
        if isinstance(value, ssl.SSLContext):
            return value
        try:
            return self.path_type(value, param, ctx)
        except click.BadParameter:
            text = click.STRING(value, param, ctx).lower()
            if text == "adhoc":
                # werkzeug makes the throw-away certificate with the cryptography package.
                if not _cryptography_available():
                    raise click.BadParameter(
                        "Using ad-hoc certificates requires the cryptography library: "
                        "pip install cryptography.",
                        ctx,
                        param,
                    ) from None
                return text
            obj = import_string(value, silent=True)
            if isinstance(obj, ssl.SSLContext):
                return obj
            raise


def _validate_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--key`` against ``--cert`` (processed first) and pair them for werkzeug."""
    cert = ctx.params.get("cert")
    if cert == "adhoc":
        if value is not None:
            raise click.BadParameter('When "--cert" is "adhoc", "--key" is not used.', ctx, param)
    elif isinstance(cert, ssl.SSLContext):
        if value is not None:
            raise click.BadParameter(
                '"--cert" is an SSLContext object, "--key" is not used.', ctx, param
            )
    elif cert is None:
        if value is not None:
            raise click.BadParameter('"--cert" must also be specified.', ctx, param)
    elif value is None:
        raise click.BadParameter('Required when using "--cert".', ctx, param)
    else:
        ctx.params["cert"] = (cert, value)
    return value


class SeparatedPathType(click.Path):
    """A list of paths separated by :data:`os.pathsep`, each checked as a ``click.Path``."""

    def convert(  # type: ignore[override]
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[t.Any]:
        items = value if isinstance(value, list | tuple) else self.split_envvar_value(value)
        return [super(SeparatedPathType, self).convert(item, param, ctx) for item in items]


def _error_app(error: Exception) -> WSGIApplication:
    """A WSGI app that re-raises the error that stopped the real app from loading, so the
    reloader keeps running and the debugger shows the error in the browser."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        raise error

    return app


@click.command("run", short_help="Run a development server.")
@click.option(
    "--host", "-h", default="127.0.0.1", show_default=True, help="The interface to bind to."
)
@click.option("--port", "-p", default=5000, show_default=True, help="The port to bind to.")
@click.option(
    "--cert",
    type=CertParamType(),
    is_eager=True,
    help="A certificate file for HTTPS, 'adhoc', or the import path of an SSLContext.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    callback=_validate_key,
    expose_value=False,
    help="The key file to use with '--cert'.",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Enable or disable the reloader. By default the reloader is active if debug is enabled.",
)
@click.option(
    "--debugger/--no-debugger",
    default=None,
    help="Enable or disable the debugger. By default the debugger is active if debug is enabled.",
)
@click.option(
    "--with-threads/--without-threads", default=True, help="Enable or disable multithreading."
)
@click.option(
    "--extra-files",
    default=None,
    type=SeparatedPathType(),
    help=f"Extra files that trigger a reload on change. Multiple paths are separated by "
    f"{os.pathsep!r}.",
)
@click.option(
    "--exclude-patterns",
    default=None,
    type=SeparatedPathType(),
    help=f"Files matching these fnmatch patterns will not trigger a reload on change. "
    f"Multiple patterns are separated by {os.pathsep!r}.",
)
@pass_script_info
def run_command(
    info: ScriptInfo,
    host: str,
    port: int,
    reload: bool | None,
    debugger: bool | None,
    with_threads: bool,
    cert: t.Any,
    extra_files: list[str] | None,
    exclude_patterns: list[str] | None,
) -> None:
    """Run a local development server.

    This server is for development only: it is not as stable, secure or fast as a
    production WSGI server. With '--debug' the reloader and the debugger are on.
    """
    app: WSGIApplication
    try:
        app = info.load_app()
    except Exception as error:
        if not is_running_from_reloader():
            raise
        # In the reloader's child, keep serving so a fixed file reloads; show the error.
        import traceback

        traceback.print_exc()
        app = _error_app(error)

    debug = get_debug_flag()
    if reload is None:
        reload = debug
    if debugger is None:
        debugger = debug

    show_server_banner(debug, info.app_import_path)
    run_simple(
        host,
        port,
        app,
        use_reloader=reload,
        use_debugger=debugger,
        threaded=with_threads,
        ssl_context=cert,
        extra_files=extra_files,
        exclude_patterns=exclude_patterns,
    )


run_command.params.insert(0, debug_option())


@click.command("shell", short_help="Run a shell in the app context.")
@with_appcontext
def shell_command() -> None:
    """Run an interactive Python shell in the context of the application.

    The namespace holds 'app', 'g' and whatever the app's shell context processors add;
    PYTHONSTARTUP is run first, as in the plain Python shell.
    """
    import code

    from framework.globals import _cv_app

    app = _cv_app.get().app
    banner = (
        f"Python {sys.version} on {sys.platform}\n"
        f"App: {app.import_name}\n"
        f"Instance: {app.instance_path}"
    )
    namespace: dict[str, t.Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup, encoding="utf-8") as f:
            exec(compile(f.read(), startup, "exec"), namespace)
    namespace.update(app.make_shell_context())

    # Tab completion and history as in the plain interpreter, only on a real terminal.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None and sys.stdin.isatty():
        try:
            import readline
            from rlcompleter import Completer
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()

    code.interact(banner=banner, local=namespace)


_SORT_KEYS = ("endpoint", "methods", "domain", "rule", "match")


@click.command("routes", short_help="Show the routes for the app.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(_SORT_KEYS),
    default="endpoint",
    help="Method to sort routes by. 'match' is the order in which the app matches routes "
    "when dispatching a request.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS methods.")
@with_appcontext
def routes_command(sort: str, all_methods: bool) -> None:
    """Show all registered routes with endpoints and methods."""
    from framework.globals import current_app

    url_map = current_app.url_map
    rules = list(url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return

    hidden = set() if all_methods else {"HEAD", "OPTIONS"}
    host_matching = url_map.host_matching

    def domain(rule: t.Any) -> str:
        return str((rule.host if host_matching else rule.subdomain) or "")

    def methods(rule: t.Any) -> list[str]:
        return sorted(set(rule.methods or ()) - hidden)

    keys: dict[str, t.Callable[[t.Any], t.Any]] = {
        "endpoint": lambda rule: rule.endpoint,
        "methods": methods,
        "domain": domain,
        "rule": lambda rule: rule.rule,
    }
    if sort in keys:
        rules.sort(key=keys[sort])

    show_domain = any(domain(rule) for rule in rules)
    headers = ["Endpoint", "Methods"]
    if show_domain:
        headers.append("Host" if host_matching else "Subdomain")
    headers.append("Rule")

    rows: list[list[str]] = []
    for rule in rules:
        row = [str(rule.endpoint), ", ".join(methods(rule))]
        if show_domain:
            row.append(domain(rule))
        row.append(rule.rule)
        rows.append(row)

    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))

"""``app.run()``: the development server, reloader and debugger (werkzeug's)."""

from __future__ import annotations

import os
import sys
import typing as t

if t.TYPE_CHECKING:
    from .app import Flask


def show_server_banner(debug: bool | None, app_import_path: str | None) -> None:
    """Print the "Serving ..." lines, once (not again in the reloader's child process)."""
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return
    if app_import_path is not None:
        print(f" * Serving app '{app_import_path}'", file=sys.stderr)
    if debug is not None:
        print(f" * Debug mode: {'on' if debug else 'off'}", file=sys.stderr)


def run_app(
    app: Flask,
    host: str | None,
    port: int | None,
    debug: bool | None,
    *,
    load_dotenv: bool,
    **options: t.Any,
) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (see :meth:`Flask.run`)."""
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        # The CLI's own server is already running this module; a second server would block.
        if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
            print(
                " * Ignoring a call to 'app.run()' that would block the current 'framework "
                "run' command.\n   Only call 'app.run()' inside an "
                "'if __name__ == \"__main__\":' block."
            )
        return

    if load_dotenv:
        from .cli import load_dotenv as _load_dotenv
        from .helpers import get_debug_flag

        _load_dotenv()
        if "FLASK_DEBUG" in os.environ:
            app.debug = get_debug_flag()
    if debug is not None:
        app.debug = bool(debug)

    server_name = app.config.get("SERVER_NAME")
    sn_host = sn_port = None
    if server_name:
        sn_host, _, sn_port = server_name.partition(":")
    if not host:
        host = sn_host or "127.0.0.1"
    if port or port == 0:
        port = int(port)
    elif sn_port:
        port = int(sn_port)
    else:
        port = 5000

    options.setdefault("use_reloader", app.debug)
    options.setdefault("use_debugger", app.debug)
    options.setdefault("threaded", True)
    show_server_banner(app.debug, app.name)

    from werkzeug.serving import run_simple

    try:
        run_simple(t.cast(str, host), port, app, **options)
    finally:
        # A later run (e.g. after the reloader restarts) may register setup again.
        app._got_first_request = False

"""The ``framework`` command line (click): app discovery, ``run``, ``routes``, ``shell``.

Only the pieces the application object needs live here for now; the full command group
arrives with the CLI work.
"""

from __future__ import annotations

import os
import typing as t
from functools import update_wrapper

import click

if t.TYPE_CHECKING:
    from .app import Flask

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


class NoAppException(click.UsageError):
    """The application could not be found or imported."""


class ScriptInfo:
    """Finds and holds the application for CLI commands (``ctx.obj``)."""

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: t.Callable[..., Flask] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.data: dict[t.Any, t.Any] = {}
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = load_dotenv_defaults
        self._loaded_app: Flask | None = None

    def load_app(self) -> Flask:
        """Return the application, creating or importing it on first call."""
        if self._loaded_app is not None:
            return self._loaded_app
        if self.create_app is None:
            raise NoAppException(
                "Could not locate a Flask application: pass '--app module:app' or set FLASK_APP."
            )
        app = self.create_app()
        self._loaded_app = app
        return app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run a click command inside the application's app context."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        from .globals import _cv_app

        if _cv_app.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run in the app context by default."""

    def command(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        wrap_for_ctx = kwargs.pop("with_appcontext", True)

        def decorator(f: t.Callable[..., t.Any]) -> click.Command:
            if wrap_for_ctx:
                f = with_appcontext(f)
            return super(AppGroup, self).command(*args, **kwargs)(f)  # type: ignore[no-any-return]

        return decorator

    def group(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("cls", AppGroup)
        return super().group(*args, **kwargs)


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Load ``.flaskenv`` and ``.env`` (and ``path``) when python-dotenv is installed."""
    try:
        import dotenv
    except ImportError:
        return False
    loaded = False
    if path is not None and os.path.isfile(path):
        loaded = dotenv.load_dotenv(path, encoding="utf-8") or loaded
    if load_defaults:
        for name in (".env", ".flaskenv"):
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                loaded = dotenv.load_dotenv(found, encoding="utf-8") or loaded
    return loaded


def main() -> None:
    """Entry point of the ``framework`` console script."""
    click.echo("The framework command line is not available yet.", err=True)
    raise SystemExit(2)

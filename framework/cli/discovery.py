"""Finding the application for the command line: ``--app`` / ``FLASK_APP`` and the defaults.

The rules (those of ``flask``): ``--app`` names a module (dotted, or a file path such as
``src/hello.py``), optionally followed by ``:name`` where ``name`` is an attribute or a factory
call with literal arguments, ``create_app('dev', debug=True)``. Without ``--app``, ``wsgi`` then
``app`` is imported from the current directory. In a module, the attributes ``app`` and
``application`` win, then a single application among the module's globals, then a factory
``create_app`` or ``make_app`` called without arguments.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import traceback
import types
import typing as t
from functools import update_wrapper

import click

from framework.alias import FlaskAlreadyImportedError, install_as_flask
from framework.app import Flask
from framework.helpers import get_debug_flag

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: Attribute names tried, in order, for an application instance and for a factory.
_APP_NAMES = ("app", "application")
_FACTORY_NAMES = ("create_app", "make_app")

#: Set to ``1`` (in the environment, ``.flaskenv`` or ``.env``) to have the command line call
#: :func:`framework.install_as_flask` before it imports the application.
ALIAS_ENV = "FRAMEWORK_INSTALL_AS_FLASK"

# ``module:name`` splits at the first colon not followed by a path separator, so a Windows
# drive letter ("C:\\src\\app.py") stays in the path.
_APP_SPEC_SPLIT = re.compile(r":(?![\\/])")


class NoAppException(click.UsageError):
    """The application could not be found, imported or created."""


class _AppNotLocated(NoAppException):
    """No ``--app`` given and neither ``wsgi`` nor ``app`` could be imported."""


def prepare_import(path: str) -> str:
    """Turn a file path or module name into an importable module name.

    The folder that holds the top-level package (the first folder upwards without an
    ``__init__.py``) is put first on ``sys.path``; ``pkg/sub/app.py`` inside package ``pkg``
    becomes ``pkg.sub.app``.
    """
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)

    parts: list[str] = []
    while True:
        path, name = os.path.split(path)
        parts.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if not sys.path or sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(parts))


def _is_missing(error: ImportError, module_name: str) -> bool:
    """Whether ``error`` says that ``module_name`` itself (or a parent package) is missing,
    as opposed to an import failing inside the module's own code."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return False
    return module_name == error.name or module_name.startswith(error.name + ".")


@t.overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: t.Literal[True] = True
) -> Flask: ...


@t.overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool = ...
) -> Flask | None: ...


def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool = True
) -> Flask | None:
    """Import ``module_name`` and find the application in it (``app_name`` as in ``--app``).

    A module that does not exist raises :class:`NoAppException` (or returns ``None`` when
    ``raise_if_not_found`` is false); an import error raised by the module's own code is
    reported with its traceback.
    """
    try:
        __import__(module_name)
    except ImportError as error:
        if not _is_missing(error, module_name):
            tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
            details = "".join(traceback.format_exception(type(error), error, tb))
            raise NoAppException(
                f"While importing {module_name!r}, an ImportError was raised:\n\n{details}"
            ) from None
        if raise_if_not_found:
            raise NoAppException(
                f"Could not import {module_name!r}. Check the name, or give the file path, "
                f"e.g. '--app path/to/{module_name.rpartition('.')[2]}.py'."
            ) from None
        return None

    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def _call_factory(
    factory: t.Callable[..., t.Any],
    args: tuple[t.Any, ...],
    kwargs: dict[str, t.Any],
    on_mismatch: str,
) -> t.Any:
    """Call ``factory`` after checking that the arguments fit its signature, so a
    ``TypeError`` raised inside the factory propagates with its own traceback."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            raise NoAppException(f"{on_mismatch}: {error}.") from None
    return factory(*args, **kwargs)


def find_best_app(module: types.ModuleType) -> Flask:
    """Find the application in ``module`` when no name was given (see the module docs)."""
    mod = module.__name__
    for name in _APP_NAMES:
        candidate = getattr(module, name, None)
        if isinstance(candidate, Flask):
            return candidate

    found: dict[int, Flask] = {}
    for value in vars(module).values():
        if isinstance(value, Flask):
            found[id(value)] = value
    if len(found) == 1:
        return next(iter(found.values()))
    if len(found) > 1:
        raise NoAppException(
            f"Detected multiple Flask applications in module {mod!r}. Use "
            f"'--app {mod}:name' to pick the one to load."
        )

    for name in _FACTORY_NAMES:
        factory = getattr(module, name, None)
        if not inspect.isfunction(factory):
            continue
        app = _call_factory(
            factory,
            (),
            {},
            f"Detected factory {name!r} in module {mod!r}, but could not call it without "
            f"arguments. Use '--app {mod}:{name}(args)' to pass arguments",
        )
        if isinstance(app, Flask):
            return app
        raise NoAppException(
            f"The factory {name!r} in module {mod!r} returned {type(app).__name__}, not a "
            "Flask application. Make it return the application object."
        )

    raise NoAppException(
        f"Failed to find Flask application or factory in module {mod!r}. Name an "
        f"'app' or 'application' attribute, a 'create_app' factory, or use "
        f"'--app {mod}:name' to specify one."
    )


def _parse_app_name(app_name: str) -> tuple[str, tuple[t.Any, ...], dict[str, t.Any] | None]:
    """Split ``name`` or ``name(args)`` into the name, positional and keyword arguments
    (``None`` keywords = no call). Arguments must be Python literals."""
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call. Use "
            "'name' or 'name(args)' with literal arguments."
        ) from None
    if isinstance(expr, ast.Name):
        return expr.id, (), None
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Name):
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call. Use "
            "'name' or 'name(args)' with literal arguments."
        )
    try:
        args = tuple(ast.literal_eval(arg) for arg in expr.args)
        kwargs: dict[str, t.Any] = {}
        for keyword in expr.keywords:
            if keyword.arg is None:
                raise ValueError("'**' is not allowed")
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise NoAppException(
            f"Failed to parse arguments as literal values: {app_name!r}. Only strings, "
            "numbers, booleans, None and lists, tuples, dicts or sets of them are allowed."
        ) from None
    return expr.func.id, args, kwargs


def find_app_by_string(module: types.ModuleType, app_name: str) -> Flask:
    """Find the application named by ``app_name`` (``name`` or ``factory(args)``)."""
    mod = module.__name__
    name, args, kwargs = _parse_app_name(app_name)
    try:
        attr = getattr(module, name)
    except AttributeError:
        raise NoAppException(
            f"Failed to find attribute {name!r} in {mod!r}. Check the name after the "
            f"colon in '--app {mod}:{app_name}'."
        ) from None

    mismatch = (
        f"The factory {app_name!r} in module {mod!r} could not be called with the "
        "specified arguments"
    )
    if kwargs is not None:
        if isinstance(attr, Flask) or not callable(attr):
            raise NoAppException(
                f"{name!r} in module {mod!r} is not a factory function, so it cannot be "
                f"called. Use '--app {mod}:{name}' without arguments."
            )
        app = _call_factory(attr, args, kwargs, mismatch)
    elif inspect.isfunction(attr):
        app = _call_factory(attr, (), {}, mismatch)
    else:
        app = attr

    if isinstance(app, Flask):
        return app
    raise NoAppException(
        f"A valid Flask application was not obtained from '{mod}:{app_name}' (got "
        f"{type(app).__name__}). Point '--app' at an application or a factory returning one."
    )


class ScriptInfo:
    """Finds and holds the application for CLI commands (the click context's ``obj``).

    ``create_app`` (a callable without arguments) wins over ``app_import_path``; without
    either the defaults ``wsgi`` and ``app`` are tried. With ``set_debug_flag`` the
    application's debug flag follows ``FLASK_DEBUG`` (set by ``--debug``).
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: t.Callable[..., Flask] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        #: The ``--app`` value, ``module[:name]``.
        self.app_import_path = app_import_path
        #: A callable without arguments that returns the application.
        self.create_app = create_app
        #: Free storage for whoever builds commands around this object.
        self.data: dict[t.Any, t.Any] = {}
        self.set_debug_flag = set_debug_flag
        #: Whether ``.env`` and ``.flaskenv`` are loaded (``FLASK_SKIP_DOTENV`` still applies).
        self.load_dotenv_defaults = load_dotenv_defaults
        self._loaded_app: Flask | None = None

    @staticmethod
    def _split_import_path(value: str) -> tuple[str, str, str]:
        match = _APP_SPEC_SPLIT.search(value)
        if match is None:
            return value, "", ""
        return value[: match.start()], ":", value[match.end() :]

    def load_app(self) -> Flask:
        """Return the application, creating or importing it on the first call."""
        if self._loaded_app is not None:
            return self._loaded_app

        if os.environ.get(ALIAS_ENV, "").lower() not in {"", "0", "false", "no", "off"}:
            try:
                install_as_flask()
            except FlaskAlreadyImportedError as error:
                raise NoAppException(f"{ALIAS_ENV} is set, but: {error}") from None

        app: Flask | None = None
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            path, sep, name = self._split_import_path(self.app_import_path)
            app = locate_app(prepare_import(path), name if sep else None)
        else:
            for default in ("wsgi.py", "app.py"):
                app = locate_app(prepare_import(default), None, raise_if_not_found=False)
                if app is not None:
                    break

        if not isinstance(app, Flask):
            if self.create_app is not None:
                raise NoAppException(
                    f"The create_app callable given to the command group returned "
                    f"{type(app).__name__}, not a Flask application."
                )
            raise _AppNotLocated(
                "Could not locate a Flask application. Use the 'framework --app' option, "
                "the 'FLASK_APP' environment variable, or a 'wsgi.py' or 'app.py' file in "
                "the current directory."
            )
        if self.set_debug_flag:
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run a click command inside the application's app context (loading the app if no
    context is active). Commands of :class:`AppGroup` get this automatically."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        from framework.globals import _cv_app

        if _cv_app.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]

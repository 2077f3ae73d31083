"""``install_as_flask()``: one process, one web framework, whatever name code imports it by.

Flask extensions (Flask-Login, Flask-WTF, Flask-SQLAlchemy, ...) import ``flask``. After
:func:`install_as_flask`, ``import flask`` and every ``flask.<module>`` resolve to the very
module objects of ``framework`` and ``framework.<module>``: one ``request``, one
``current_app``, one set of context variables, so an extension written for Flask runs on a
``framework`` app unchanged. Nothing of the real Flask is imported, ever.

It reaches every process the app starts in:

* this process: ``sys.modules["flask"]`` is ``framework``, and a finder first on
  ``sys.meta_path`` answers ``flask.<name>`` with ``framework.<name>``;
* Python processes started from it (``flask db upgrade`` run by Flask-Migrate's tests, a
  reloader child): a folder holding a stand-in ``flask`` package goes first on
  ``PYTHONPATH``; importing it installs the alias in that process too;
* version checks: ``importlib.metadata.version("flask")`` answers the Flask release whose
  API this package implements (:data:`FLASK_API_VERSION`), as does ``flask.__version__``
  (deprecated, with Flask's warning).

When the real Flask is imported in a process that serves a ``framework`` app without the
alias, extensions see Flask's own globals, not ours, and fail with Flask's misleading
"Working outside of application context". :func:`warn_if_mixed` says so once, with the
module that imported Flask and the fix.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
import typing as t
import warnings
from functools import cache

if t.TYPE_CHECKING:
    import importlib.abc
    import importlib.metadata
    from collections.abc import Iterable, Iterator

    from .app import Flask

# Import cost matters (``import framework`` is cold-start time on App Engine), so this
# module loads importlib.metadata only when something asks for Flask's metadata.

__all__ = [
    "CHILD_PATH",
    "FLASK_API_VERSION",
    "PACKAGE_VERSION",
    "FlaskAlreadyImportedError",
    "MixedFlaskWarning",
    "install_as_flask",
    "is_installed",
    "warn_if_mixed",
]

#: This distribution's own version (``gae-framework``).
PACKAGE_VERSION = "0.1.0"
#: The Flask release whose public API and behaviour ``framework`` implements: what
#: ``flask.__version__`` and ``importlib.metadata.version("flask")`` answer under the alias.
FLASK_API_VERSION = "3.1.3"

#: Folder put first on ``PYTHONPATH`` for child processes: it holds the stand-in ``flask``.
CHILD_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_flask_alias")

_FLASK = "flask"
_PREFIX = "flask."
_STUB_MARK = "__framework_alias_stub__"

_FIX = (
    "Call framework.install_as_flask() before importing extensions: make it the first lines "
    "of main.py and of conftest.py (or set 'install_as_flask = true' in pytest's ini options, "
    "or FRAMEWORK_INSTALL_AS_FLASK=1 for the framework command)."
)


class MixedFlaskWarning(UserWarning):
    """The real Flask is loaded in a process that serves a ``framework`` app."""


def _framework() -> types.ModuleType:
    return sys.modules[__name__.rpartition(".")[0]]


def is_installed() -> bool:
    """Whether ``flask`` is ``framework`` in this process."""
    return sys.modules.get(_FLASK) is _framework()


def _is_real_flask(module: types.ModuleType | None) -> bool:
    return (
        module is not None and module is not _framework() and not getattr(module, _STUB_MARK, False)
    )


def _defined_by(value: object, modules: t.Container[str]) -> bool:
    """Whether a module global is an object of one of ``modules`` (not, say, ``sys``)."""
    kind = type(value)
    if kind is types.ModuleType:
        return t.cast(types.ModuleType, value).__name__ in modules
    if kind is types.FunctionType or issubclass(kind, type):
        return getattr(value, "__module__", None) in modules
    # Instances code imports: the request and app proxies, signals.
    origin = kind.__module__
    return origin in modules or origin in {"werkzeug.local", "blinker.base"}


def _objects_of(prefix: str) -> tuple[set[str], set[int]]:
    """The names of the loaded ``prefix`` modules (real ones) and the ids of their objects."""
    names = {
        name
        for name, module in list(sys.modules.items())
        if (name == prefix or name.startswith(prefix + "."))
        and type(module) is types.ModuleType
        and (prefix != _FLASK or _is_real_flask(module))
    }
    ids = set()
    for name in names:
        module = sys.modules[name]
        ids.add(id(module))
        ids.update(id(v) for v in list(vars(module).values()) if _defined_by(v, names))
    return names, ids


def _flask_users(*, only: bool = False) -> list[str]:
    """Modules (other than Flask's own) whose globals hold objects of the real Flask;
    with ``only``, those that hold nothing of framework (an extension, not a comparison).

    Tells the user which import pulled Flask in, usually an extension's module.
    """
    real, flask_objects = _objects_of(_FLASK)
    ours, our_objects = _objects_of(_framework().__name__)
    skip = {"importlib", "_frozen_importlib"}
    users = []
    for name, module in list(sys.modules.items()):
        if name in real or name in ours or name.partition(".")[0] in skip:
            continue
        if type(module) is not types.ModuleType:
            continue
        values = {id(v) for v in list(vars(module).values())}
        if values & flask_objects and not (only and values & our_objects):
            users.append(name)
    return users


def _running_flask_command() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return getattr(spec, "name", None) == "flask.__main__" or (
        os.path.basename(sys.argv[0]) in {"flask", "flask.exe"} if sys.argv else False
    )


def _flask_origin() -> str:
    module = sys.modules.get(_FLASK)
    where = getattr(module, "__file__", None) or "an unknown location"
    if _running_flask_command():
        return (
            f"This process runs the real Flask's command ('flask' or 'python -m flask', "
            f"from {where}): run 'framework' (or 'python -m framework') instead, and"
        )
    users = _flask_users()
    if not users:
        return f"The real Flask ({where}) is imported"
    shown = ", ".join(users[:3])
    more = f" and {len(users) - 3} more" if len(users) > 3 else ""
    return f"The real Flask ({where}) was imported by {shown}{more}"


class FlaskAlreadyImportedError(RuntimeError):
    """:func:`install_as_flask` was called after the real Flask had been imported."""


def install_as_flask() -> None:
    """Make ``flask`` and ``flask.<module>`` the ``framework`` modules in this process and
    in the Python processes it starts.

    Call it before anything imports ``flask``; calling it again is harmless. If the real
    Flask is already imported, :exc:`FlaskAlreadyImportedError` names the module that
    imported it.
    """
    framework = _framework()
    current = sys.modules.get(_FLASK)
    if current is not framework:
        if _is_real_flask(current):
            raise FlaskAlreadyImportedError(
                f"{_flask_origin()}, so install_as_flask() can no longer make 'flask' mean "
                f"framework. {_FIX}"
            )
        sys.modules[_FLASK] = framework
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    _export_to_children()


def _export_to_children() -> None:
    """Put the stand-in ``flask`` first on ``PYTHONPATH`` for child processes."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if CHILD_PATH not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([CHILD_PATH, *parts])


def _registered(app: Flask) -> Iterator[object]:
    """What extensions leave on an app: hooks, handlers, views and ``app.extensions``."""
    yield from app.view_functions.values()
    tables: tuple[dict[t.Any, list[t.Any]], ...] = (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.template_context_processors,
        app.url_value_preprocessors,
        app.url_default_functions,
    )
    for table in tables:
        for funcs in list(table.values()):
            yield from funcs
    yield from app.teardown_appcontext_funcs
    for by_code in list(app.error_handler_spec.values()):
        for handlers in list(by_code.values()):
            yield from handlers.values()
    yield from app.extensions.values()


def warn_if_mixed(app: Flask) -> None:
    """Warn, once per process, when code registered on ``app`` uses the real Flask.

    Runs when the app's first application context is pushed (extensions are set up by
    then) and when ``gae.wrap`` wraps it. A process may load Flask next to framework on
    purpose (comparing the two, say); only an app on which code that uses the real Flask,
    and nothing of framework (an extension), registered something is reported.
    """
    global _warned
    if _warned or not _is_real_flask(sys.modules.get(_FLASK)):
        return
    users = set(_flask_users(only=True))
    culprits = sorted(
        {
            name
            for item in _registered(app)
            if (name := getattr(item, "__module__", None) or type(item).__module__) in users
        }
    )
    if not culprits:
        return
    _warned = True
    shown = ", ".join(culprits[:3]) + (
        f" and {len(culprits) - 3} more" if len(culprits) > 3 else ""
    )
    warnings.warn(
        MixedFlaskWarning(
            f"{_flask_origin()}, and code from {shown} is registered on the framework app "
            f"{app.name!r} without framework.install_as_flask(): it uses Flask's own "
            "request, session and app context, not framework's, and fails with errors such "
            f"as 'Working outside of application context'. {_FIX}"
        ),
        stacklevel=3,
    )


_warned = False


def _version_attribute() -> str:
    """``framework.__version__``: under the alias it is ``flask.__version__``, deprecated as
    in Flask 3.1 and answering the Flask API version; otherwise this package's version."""
    if not is_installed():
        return PACKAGE_VERSION
    warnings.warn(
        "The '__version__' attribute is deprecated and will be removed in Flask 3.2. Use "
        "feature detection or 'importlib.metadata.version(\"flask\")' instead.",
        DeprecationWarning,
        stacklevel=3,
    )
    return FLASK_API_VERSION


@cache
def _flask_distribution() -> importlib.metadata.Distribution:
    """The ``flask`` distribution as seen under the alias: Flask's API version."""
    import importlib.metadata

    class FlaskDistribution(importlib.metadata.Distribution):
        def read_text(self, filename: str) -> str | None:
            if filename in {"METADATA", "PKG-INFO"}:
                return (
                    "Metadata-Version: 2.1\n"
                    "Name: Flask\n"
                    f"Version: {FLASK_API_VERSION}\n"
                    "Summary: Flask's API, provided by gae-framework (install_as_flask)\n"
                )
            return None

        def locate_file(self, path: str | os.PathLike[str]) -> t.Any:
            return os.path.join(os.path.dirname(os.path.abspath(__file__)), path)

    return FlaskDistribution()


class _AliasFinder:
    """Answers ``flask.<name>`` with the module ``framework.<name>`` itself (a meta path
    finder and loader, duck-typed to keep importlib.abc out of ``import framework``)."""

    def __init__(self) -> None:
        self._own_specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    @staticmethod
    def _target(fullname: str) -> str:
        return _framework().__name__ + fullname[len(_FLASK) :]

    def find_spec(
        self,
        fullname: str,
        path: t.Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX) or not is_installed():
            return None
        try:
            found = importlib.util.find_spec(self._target(fullname))
        except ModuleNotFoundError:
            return None
        if found is None:
            return None
        # The target's origin (its file): runpy makes it sys.argv[0] for ``python -m flask``.
        return importlib.machinery.ModuleSpec(
            fullname,
            t.cast("importlib.abc.Loader", self),
            origin=found.origin,
            is_package=found.submodule_search_locations is not None,
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self._target(spec.name))
        # importlib sets __spec__ on the module it gets (ours): give it back in exec_module.
        self._own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and spec.name in self._own_specs:
            module.__spec__ = self._own_specs.pop(spec.name)

    # ``python -m flask`` (runpy) reads the code of flask.__main__ through these.
    def _target_loader(self, fullname: str) -> t.Any:
        found = importlib.util.find_spec(self._target(fullname))
        return found.loader if found is not None else None

    def get_code(self, fullname: str) -> types.CodeType | None:
        loader = self._target_loader(fullname)
        return loader.get_code(self._target(fullname)) if loader is not None else None

    def get_source(self, fullname: str) -> str | None:
        loader = self._target_loader(fullname)
        return loader.get_source(self._target(fullname)) if loader is not None else None

    def is_package(self, fullname: str) -> bool:
        loader = self._target_loader(fullname)
        return bool(loader is not None and loader.is_package(self._target(fullname)))

    def find_distributions(
        self, context: t.Any = None
    ) -> Iterable[importlib.metadata.Distribution]:
        """``importlib.metadata`` asks every meta path finder: answer for ``flask`` only.

        Only a lookup by name is answered, so listing every distribution (entry points)
        still sees what is really installed.
        """
        name = getattr(context, "name", None)
        if name and is_installed() and name.lower().replace("_", "-") == _FLASK:
            return [_flask_distribution()]
        return []


_FINDER = _AliasFinder()

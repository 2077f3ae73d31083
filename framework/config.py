"""Application configuration: :class:`Config` and the :class:`ConfigAttribute` descriptor.

``Config`` is a plain ``dict`` with loaders for the usual configuration sources (Python
files, objects, environment variables, data files). By convention only UPPERCASE keys are
configuration, so every loader except :meth:`Config.from_prefixed_env` skips other names;
that lets a config module use lowercase helpers and imports freely.
"""

from __future__ import annotations

import errno
import json
import os
import types
import typing as t

from werkzeug.utils import import_string

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import IO

_T = t.TypeVar("_T")

# A missing or non-file path is what ``silent=True`` is meant to tolerate; permission errors
# and the like still surface because they point at a broken deployment.
_SILENT_ERRNOS = frozenset({errno.ENOENT, errno.EISDIR, errno.ENOTDIR})


class _HasConfig(t.Protocol):
    config: Config


class ConfigAttribute(t.Generic[_T]):
    """Expose ``obj.config[name]`` as an attribute of ``obj``.

    ``get_converter`` is applied on read only, so assigning a value stores it unchanged.
    """

    def __init__(self, name: str, get_converter: Callable[[t.Any], _T] | None = None) -> None:
        self.__name__ = name
        self.get_converter = get_converter

    @t.overload
    def __get__(self, obj: None, owner: type[t.Any] | None = None) -> ConfigAttribute[_T]: ...

    @t.overload
    def __get__(self, obj: _HasConfig, owner: type[t.Any] | None = None) -> _T: ...

    def __get__(
        self, obj: _HasConfig | None, owner: type[t.Any] | None = None
    ) -> ConfigAttribute[_T] | _T:
        if obj is None:
            return self
        value = obj.config[self.__name__]
        if self.get_converter is not None:
            return self.get_converter(value)
        return t.cast(_T, value)

    def __set__(self, obj: _HasConfig, value: t.Any) -> None:
        obj.config[self.__name__] = value


def _annotate_load_error(exc: OSError) -> OSError:
    # Keep the original exception type and errno so callers can still branch on them; only
    # the human-readable part gains context ("[Errno 2] Unable to load ...: '/abs/path'").
    exc.strerror = f"Unable to load configuration file ({exc.strerror})"
    return exc


class Config(dict[str, t.Any]):
    """A ``dict`` of configuration values with loaders for files, objects and the environment.

    :param root_path: relative file names given to :meth:`from_pyfile` and
        :meth:`from_file` are resolved against this directory (usually the app's root path).
    :param defaults: initial values.
    """

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        defaults: Mapping[str, t.Any] | None = None,
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python config file named by the environment variable ``variable_name``.

        Returns ``False`` instead of raising when ``silent`` and the variable is unset or the
        file is missing; otherwise the result of :meth:`from_pyfile`.
        """
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set and as such"
                " configuration could not be loaded. Set this variable and make it point"
                f" to a configuration file, e.g. export {variable_name}=/path/to/config.py"
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(
        self, prefix: str = "FLASK", *, loads: Callable[[str], t.Any] = json.loads
    ) -> bool:
        """Load every environment variable that starts with ``prefix`` followed by ``_``.

        The prefix is removed from the key. Values go through ``loads`` (JSON by default) and
        stay strings when that fails. A double underscore in the key descends into nested
        dicts: ``FLASK_DB__HOST`` sets ``config["DB"]["HOST"]``, creating ``config["DB"]``
        when missing. Variables are applied in sorted order so the result is deterministic.
        """
        start = f"{prefix}_"
        for env_key in sorted(os.environ):
            if not env_key.startswith(start):
                continue
            raw = os.environ[env_key]
            value: t.Any
            try:
                value = loads(raw)
            except Exception:
                # Anything the loader rejects is taken literally, as a plain string.
                value = raw
            *parents, leaf = env_key[len(start) :].split("__")
            target: t.MutableMapping[str, t.Any] = self
            for part in parents:
                child = target.setdefault(part, {})
                if not isinstance(child, t.MutableMapping):
                    raise TypeError(
                        f"Environment variable {env_key!r} sets a nested key under {part!r}, "
                        f"but that key already holds {child!r}, not a dict: rename one of "
                        "the variables."
                    )
                target = child
            target[leaf] = value
        return True

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Execute a Python file and load its UPPERCASE globals.

        ``filename`` is relative to :attr:`root_path` unless absolute. Returns ``False`` when
        ``silent`` and the file does not exist.
        """
        path = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, mode="rb") as f:
                source = f.read()
        except OSError as exc:
            if silent and exc.errno in _SILENT_ERRNOS:
                return False
            raise _annotate_load_error(exc) from None
        exec(compile(source, path, "exec"), module.__dict__)
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of ``obj`` (a module, class or instance).

        A string is treated as an import path (``"myapp.settings.Prod"``) and imported first.
        Properties on a class are not evaluated usefully; pass an instance for those.
        """
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[t.Any]], Mapping[str, t.Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file with ``load`` (e.g. ``json.load`` or ``tomllib.load``).

        The file is opened in text mode unless ``text=False`` (``tomllib`` needs binary).
        Only UPPERCASE top-level keys are kept. Returns ``False`` when ``silent`` and the file
        does not exist.
        """
        path = os.path.join(self.root_path, filename)
        try:
            with open(path, mode="r" if text else "rb") as f:
                data = load(f)
        except OSError as exc:
            if silent and exc.errno in _SILENT_ERRNOS:
                return False
            raise _annotate_load_error(exc) from None
        return self.from_mapping(data)

    def from_mapping(self, mapping: Mapping[str, t.Any] | None = None, **kwargs: t.Any) -> bool:
        """Update from a mapping and/or keyword arguments, keeping UPPERCASE keys only."""
        merged: dict[str, t.Any] = dict(mapping) if mapping is not None else {}
        merged.update(kwargs)
        for key, value in merged.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, t.Any]:
        """Return the options whose keys start with ``namespace`` as a new dict.

        ``get_namespace("IMAGE_STORE_")`` turns ``IMAGE_STORE_TYPE`` into ``type``; pass
        ``trim_namespace=False`` to keep the prefix and ``lowercase=False`` to keep case.
        Handy for splatting into a constructor: ``Store(**config.get_namespace(...))``.
        """
        result: dict[str, t.Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            result[name.lower() if lowercase else name] = value
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"

"""App Engine adapters for :mod:`framework` apps.

``app = gae.wrap(create_app())`` is the whole entry point (see :mod:`gae.wsgi`). Importing
this package costs next to nothing: its modules load when a name is first used, and
``google.cloud`` modules only when a feature needs them.

Every exception gae raises of its own derives from :class:`GaeError`.
"""

from __future__ import annotations

import importlib
import typing as t

# The public names and the module each lives in: the one list. ``__all__`` is made from
# it, ``__getattr__`` loads from it, and tests/gae/test_exports.py checks that the
# TYPE_CHECKING imports below (for type checkers, which cannot run code) say the same.
_EXPORTS: dict[str, str] = {
    "AppEngine": "wsgi",
    "wrap": "wsgi",
    "AppEngineHeaders": "headers",
    "cron_only": "headers",
    "task_only": "headers",
    "setup_logging": "logging",
    "Settings": "settings",
    "get_settings": "settings",
    "Storage": "storage",
    "StoredFile": "storage",
    "UploadPolicy": "storage",
    "GaeError": "errors",
    "ConfigurationError": "errors",
}

if t.TYPE_CHECKING:
    from .errors import ConfigurationError as ConfigurationError
    from .errors import GaeError as GaeError
    from .headers import AppEngineHeaders as AppEngineHeaders
    from .headers import cron_only as cron_only
    from .headers import task_only as task_only
    from .logging import setup_logging as setup_logging
    from .settings import Settings as Settings
    from .settings import get_settings as get_settings
    from .storage import Storage as Storage
    from .storage import StoredFile as StoredFile
    from .storage import UploadPolicy as UploadPolicy
    from .wsgi import AppEngine as AppEngine
    from .wsgi import wrap as wrap

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (derived from the table on purpose)


def __getattr__(name: str) -> t.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gae' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

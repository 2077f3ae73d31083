"""App Engine adapters for :mod:`framework` apps.

``app = gae.wrap(create_app())`` is the whole entry point (see :mod:`gae.wsgi`). Importing
this package costs next to nothing: its modules load when a name is first used, and
``google.cloud`` modules only when a feature needs them.
"""

from __future__ import annotations

import importlib
import typing as t

if t.TYPE_CHECKING:
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

_EXPORTS = {
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
}

__all__ = [
    "AppEngine",
    "AppEngineHeaders",
    "Settings",
    "Storage",
    "StoredFile",
    "UploadPolicy",
    "cron_only",
    "get_settings",
    "setup_logging",
    "task_only",
    "wrap",
]


def __getattr__(name: str) -> t.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gae' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

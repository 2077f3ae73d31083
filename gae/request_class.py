"""Adding a mixin to an app's request class: how gae's extensions extend requests.

``app.request_class`` is the framework's extension point for request behaviour. Both the
App Engine wrapper (``request.appengine``) and :class:`~gae.storage.Storage` (streamed
uploads) add a mixin to whatever class the app uses, in either order, exactly once.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from framework import Flask


def add_request_mixin(app: Flask, mixin: type, prefix: str) -> None:
    """Make ``app.request_class`` a subclass of ``mixin`` (a no-op if it already is).

    The new class is named ``prefix`` + the old name and keeps the old class's module
    (what reprs and error pages show).
    """
    base = app.request_class
    if issubclass(base, mixin):
        return
    app.request_class = type(
        f"{prefix}{base.__name__}", (mixin, base), {"__module__": base.__module__}
    )

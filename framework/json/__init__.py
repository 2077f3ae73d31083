"""JSON helpers that follow the current application's JSON provider.

Inside an application context these delegate to ``current_app.json`` (a
:class:`~framework.json.provider.JSONProvider`), so an app's JSON settings apply everywhere.
Outside one they use the standard library's :mod:`json`, still able to serialize dates,
decimals, UUIDs, dataclasses and ``__html__`` objects.
"""

from __future__ import annotations

import json as _json
import typing as t

from framework.globals import _cv_app

from .provider import _default

if t.TYPE_CHECKING:
    from framework.wrappers import Response

__all__ = ["dump", "dumps", "jsonify", "load", "loads"]


def dumps(obj: t.Any, **kwargs: t.Any) -> str:
    """Serialize ``obj`` to a JSON string with ``current_app.json.dumps``, or with
    :func:`json.dumps` when no application context is active.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", _default)
    return _json.dumps(obj, **kwargs)


def dump(obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
    """Serialize ``obj`` as JSON and write it to the text file ``fp``."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.json.dump(obj, fp, **kwargs)
        return
    kwargs.setdefault("default", _default)
    _json.dump(obj, fp, **kwargs)


def loads(s: str | bytes, **kwargs: t.Any) -> t.Any:
    """Deserialize JSON with ``current_app.json.loads``, or :func:`json.loads` outside an
    application context.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def load(fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
    """Deserialize JSON read from the file ``fp``."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.load(fp, **kwargs)
    return _json.load(fp, **kwargs)


def jsonify(*args: t.Any, **kwargs: t.Any) -> Response:
    """Return a response with the JSON form of the arguments and an ``application/json``
    mimetype, made by ``current_app.json.response``.

    ``jsonify()`` gives ``null``, ``jsonify(x)`` serializes ``x``, ``jsonify(1, 2)`` a list
    and ``jsonify(a=1)`` an object; mixing positional and keyword arguments raises
    :exc:`TypeError`. Needs an active application context.
    """
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(
            "jsonify() needs an application context, because the response is built by the"
            " current app's JSON provider. Call it inside a view, or within"
            " 'with app.app_context():'."
        )
    return ctx.app.json.response(*args, **kwargs)

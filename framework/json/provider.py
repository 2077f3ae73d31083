"""JSON providers: how an application turns Python values into JSON and back.

Every application has one provider, ``app.json``. ``jsonify``, ``request.get_json`` and the
session serializer all go through it, so replacing it (for example with a subclass that uses
a faster JSON library) changes JSON handling in one place::

    class MyProvider(DefaultJSONProvider):
        sort_keys = False

    app.json_provider_class = MyProvider
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import typing as t
import uuid
import weakref
from datetime import date

from werkzeug.http import http_date

if t.TYPE_CHECKING:
    from framework.app import Flask
    from framework.wrappers import Response


class JSONProvider:
    """The interface a JSON provider implements; subclasses supply :meth:`dumps` and
    :meth:`loads`, the rest is built on those two.
    """

    def __init__(self, app: Flask) -> None:
        # A weak proxy: the app owns its provider, and a strong reference back would make
        # every app part of a reference cycle that only the cyclic collector can free.
        self._app: Flask = t.cast("Flask", weakref.proxy(app))

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize ``obj`` to a JSON string."""
        raise NotImplementedError

    def dump(self, obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
        """Serialize ``obj`` as JSON and write it to the text file ``fp``."""
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """Deserialize a JSON string or bytes."""
        raise NotImplementedError

    def load(self, fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
        """Deserialize JSON read from the file ``fp``."""
        return self.loads(fp.read(), **kwargs)

    def _prepare_response_obj(self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> t.Any:
        if args and kwargs:
            raise TypeError(
                "app.json.response() takes either args or kwargs, not both: got"
                f" {len(args)} positional and {sorted(kwargs)!r}. Pass a single dict"
                " instead to mix them."
            )
        if not args and not kwargs:
            return None
        if len(args) == 1:
            return args[0]
        # Several positional arguments become a list, keyword arguments a dict.
        return list(args) if args else kwargs

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """Return a response whose body is the JSON form of the arguments.

        No arguments serialize ``null``, one positional argument is serialized as is,
        several become a list and keyword arguments become an object. Mixing positional
        and keyword arguments raises :exc:`TypeError`.
        """
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps(obj), mimetype="application/json")


def _default(o: t.Any) -> t.Any:
    # datetime is a subclass of date, so this handles both.
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, decimal.Decimal | uuid.UUID):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class DefaultJSONProvider(JSONProvider):
    """The standard library's :mod:`json`, extended with the types web apps often return.

    - :class:`datetime.datetime` and :class:`datetime.date`: HTTP date strings (RFC 822).
    - :class:`decimal.Decimal` and :class:`uuid.UUID`: ``str(value)``.
    - dataclass instances: :func:`dataclasses.asdict`.
    - objects with an ``__html__`` method (such as :class:`~markupsafe.Markup`): the
      string it returns.
    """

    #: Called by :func:`json.dumps` for objects it cannot serialize itself. Replace it
    #: (keeping it a staticmethod) to support more types.
    default: t.Callable[[t.Any], t.Any] = staticmethod(_default)

    #: Escape every non-ASCII character, so the output is safe to embed anywhere.
    ensure_ascii = True

    #: Sort object keys: output is deterministic and cacheable. Keys must then be
    #: comparable, i.e. all strings.
    sort_keys = True

    #: For :meth:`response`: ``None`` means pretty output in debug mode and compact
    #: otherwise; ``True`` or ``False`` force one or the other.
    compact: bool | None = None

    #: Mimetype of :meth:`response` bodies.
    mimetype = "application/json"

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize ``obj`` with :func:`json.dumps`, applying the class defaults for
        ``default``, ``ensure_ascii`` and ``sort_keys`` unless given in ``kwargs``.
        """
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """Deserialize with :func:`json.loads`.

        A document nested too deeply for the decoder raises :exc:`ValueError`, like any
        other undecodable input (:func:`json.loads` raises :exc:`RecursionError`, which
        ``request.get_json`` would turn into a 500 instead of a 400).
        """
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(
                "The JSON document is nested too deeply to decode; send fewer levels of "
                "nested arrays and objects."
            ) from None

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """Return a JSON response, as :meth:`JSONProvider.response` describes, with
        :attr:`mimetype` and a trailing newline. It is indented when :attr:`compact` is
        ``False``, or ``None`` while the app is in debug mode.
        """
        obj = self._prepare_response_obj(args, kwargs)
        if self.compact is False or (self.compact is None and self._app.debug):
            body = self.dumps(obj, indent=2)
        else:
            body = self.dumps(obj, separators=(",", ":"))
        return self._app.response_class(f"{body}\n", mimetype=self.mimetype)

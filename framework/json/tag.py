"""Tagged JSON: a compact, lossless JSON encoding for the types a session holds.

Plain JSON cannot tell a tuple from a list, nor carry bytes, :class:`~markupsafe.Markup`,
:class:`~uuid.UUID` or :class:`~datetime.datetime` values. Each such value is wrapped in a
one-key object whose key is a short tag (``{" t": [...]}``) and unwrapped on load. The wire
format is the one Flask uses, so session cookies written by either can be read by the other.

Add a type by subclassing :class:`JSONTag` and passing it to
:meth:`TaggedJSONSerializer.register`::

    class TagFrozenSet(JSONTag):
        key = " fs"

        def check(self, value):
            return isinstance(value, frozenset)

        def to_json(self, value):
            return [self.serializer.tag(item) for item in value]

        def to_python(self, value):
            return frozenset(value)

    app.session_interface.serializer.register(TagFrozenSet, index=0)
"""

from __future__ import annotations

import typing as t
from base64 import b64decode, b64encode
from datetime import datetime
from uuid import UUID

from markupsafe import Markup
from werkzeug.http import http_date, parse_date

from . import dumps as _dumps
from . import loads as _loads


class JSONTag:
    """Base class for a type tag used by :class:`TaggedJSONSerializer`."""

    __slots__ = ("serializer",)

    #: The tag that marks a serialized value. An empty key means the tag only rewrites
    #: the value's contents (as for plain dicts and lists) and is never looked up on load.
    key: str = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        self.serializer = serializer

    def check(self, value: t.Any) -> bool:
        """Return whether this tag handles ``value``."""
        raise NotImplementedError

    def to_json(self, value: t.Any) -> t.Any:
        """Convert ``value`` to something JSON can represent; ``key`` is added by :meth:`tag`."""
        raise NotImplementedError

    def to_python(self, value: t.Any) -> t.Any:
        """Rebuild the Python value from the JSON form :meth:`to_json` produced."""
        raise NotImplementedError

    def tag(self, value: t.Any) -> dict[str, t.Any]:
        """Return ``value`` converted by :meth:`to_json` and wrapped under :attr:`key`."""
        return {self.key: self.to_json(value)}


class TagDict(JSONTag):
    """A one-key dict whose key is itself a registered tag.

    Without this, loading ``{" t": [1]}`` as data would turn it into a tuple. The key gets a
    ``"__"`` suffix so it no longer looks like a tag, and the suffix is removed on load.
    """

    __slots__ = ()
    key = " di"

    def check(self, value: t.Any) -> bool:
        return (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in self.serializer.tags
        )

    def to_json(self, value: t.Any) -> t.Any:
        (name,) = value
        return {f"{name}__": self.serializer.tag(value[name])}

    def to_python(self, value: t.Any) -> t.Any:
        (name,) = value
        return {name[:-2]: value[name]}


class PassDict(JSONTag):
    """Any other dict: kept as a JSON object, with its values tagged."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: t.Any) -> t.Any:
        tag = self.serializer.tag
        return {k: tag(v) for k, v in value.items()}

    # The object needs no wrapper: untagged dicts are the JSON default.
    tag = to_json


class TagTuple(JSONTag):
    __slots__ = ()
    key = " t"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: t.Any) -> t.Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    def to_python(self, value: t.Any) -> t.Any:
        return tuple(value)


class PassList(JSONTag):
    """A list: kept as a JSON array, with its items tagged."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: t.Any) -> t.Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    tag = to_json


class TagBytes(JSONTag):
    __slots__ = ()
    key = " b"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: t.Any) -> t.Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: t.Any) -> t.Any:
        return b64decode(value)


class TagMarkup(JSONTag):
    """Anything with an ``__html__`` method; it loads back as :class:`~markupsafe.Markup`."""

    __slots__ = ()
    key = " m"

    def check(self, value: t.Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: t.Any) -> t.Any:
        return str(value.__html__())

    def to_python(self, value: t.Any) -> t.Any:
        return Markup(value)


class TagUUID(JSONTag):
    __slots__ = ()
    key = " u"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, UUID)

    def to_json(self, value: t.Any) -> t.Any:
        return value.hex

    def to_python(self, value: t.Any) -> t.Any:
        return UUID(value)


class TagDateTime(JSONTag):
    """A datetime, as an HTTP date: whole seconds, loaded back as an aware UTC datetime."""

    __slots__ = ()
    key = " d"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: t.Any) -> t.Any:
        return http_date(value)

    def to_python(self, value: t.Any) -> t.Any:
        return parse_date(value)


_BUILTIN_TAGS: frozenset[type[JSONTag]] = frozenset(
    {TagDict, PassDict, TagTuple, PassList, TagBytes, TagMarkup, TagUUID, TagDateTime}
)

# Exact types (not subclasses: Markup is a str) that no built-in tag claims, so tagging them
# can skip the scan over every registered tag. Sessions are mostly made of these.
_PLAIN_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


class TaggedJSONSerializer:
    """Serialize values to tagged JSON and back, using the registered :class:`JSONTag` s.

    Tags are tried in :attr:`order`; the first whose ``check`` accepts a value wins.
    """

    __slots__ = ("_plain_types", "order", "tags")

    #: Tag classes registered, in this order, when the serializer is created.
    default_tags: t.ClassVar[list[type[JSONTag]]] = [
        TagDict,
        PassDict,
        TagTuple,
        PassList,
        TagBytes,
        TagMarkup,
        TagUUID,
        TagDateTime,
    ]

    def __init__(self) -> None:
        self.tags: dict[str, JSONTag] = {}
        self.order: list[JSONTag] = []
        self._plain_types = _PLAIN_TYPES
        for cls in self.default_tags:
            self.register(cls)

    def register(
        self, tag_class: type[JSONTag], force: bool = False, index: int | None = None
    ) -> None:
        """Create an instance of ``tag_class`` and use it for tagging and untagging.

        :param force: replace a tag already registered under the same key instead of
            raising :exc:`KeyError`.
        :param index: position in :attr:`order` (``0`` to be tried first); appended when
            ``None``.
        """
        tag = tag_class(self)
        key = tag.key
        if key:
            if not force and key in self.tags:
                raise KeyError(
                    f"Tag {key!r} is already registered (by {type(self.tags[key]).__name__})."
                    " Pass force=True to replace it."
                )
            self.tags[key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)
        if tag_class not in _BUILTIN_TAGS:
            # A custom tag may claim plain values (a str subclass check, say), so every
            # value must go through the full scan from now on.
            self._plain_types = frozenset()

    def tag(self, value: t.Any) -> t.Any:
        """Convert ``value`` to its tagged JSON-compatible form."""
        if type(value) in self._plain_types:
            return value
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def untag(self, value: dict[str, t.Any]) -> t.Any:
        """Convert a tagged one-key dict back to its Python value; other dicts pass through."""
        if len(value) != 1:
            return value
        (key,) = value
        tag = self.tags.get(key)
        if tag is None:
            return value
        return tag.to_python(value[key])

    def _untag_tree(self, value: t.Any) -> t.Any:
        # Innermost first, so a tag's to_python receives already rebuilt contents.
        if isinstance(value, dict):
            if value:
                value = {k: self._untag_tree(v) for k, v in value.items()}
                return self.untag(value)
            return value
        if isinstance(value, list):
            return [self._untag_tree(item) for item in value]
        return value

    def dumps(self, value: t.Any) -> str:
        """Tag ``value`` and serialize it to a compact JSON string."""
        return _dumps(self.tag(value), separators=(",", ":"))

    def loads(self, value: str | bytes) -> t.Any:
        """Load a JSON string made by :meth:`dumps`, rebuilding every tagged value."""
        return self._untag_tree(_loads(value))

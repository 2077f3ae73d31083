"""The application's URL map: werkzeug's :class:`~werkzeug.routing.Map` plus two caches.

:class:`CachingMap` is the default ``Flask.url_map_class``. It owns

* the rules that answered a path without URL variables, so the common ``GET /`` skips
  werkzeug's matcher after the first time (used by :class:`CachingMapAdapter`), and
* the URLs already built by ``url_for`` for plain values, so a template that links the same
  page in a loop builds it once.

Both are emptied whenever a rule is added (:meth:`CachingMap.add`, the one way werkzeug's
map changes), and both are built only from werkzeug's public API: the rule text, the map's
``converters`` and ``iter_rules``. An app that sets another ``url_map_class`` (any werkzeug
``Map``) routes the same, just without the caches.
"""

from __future__ import annotations

import re
import typing as t
from uuid import UUID

from werkzeug.routing import Map, MapAdapter, Rule, RuleFactory
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
)

# Value types whose equality implies the same URL text (custom objects may define __eq__
# and __str__ inconsistently, so they are never cached).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), UUID})
# werkzeug's own converters: their ``to_url`` depends on the value alone.
_BUILTIN_CONVERTERS = frozenset(
    {
        UnicodeConverter,
        PathConverter,
        IntegerConverter,
        FloatConverter,
        UUIDConverter,
        AnyConverter,
    }
)
_BUILD_CACHE_SIZE = 4096

# A variable in werkzeug's documented rule syntax: ``<name>`` or ``<converter(args):name>``.
_VARIABLE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\(.*?\))?:)?[a-zA-Z_][a-zA-Z0-9_]*>"
)


class BuildCache:
    """URLs already built for (adapter, endpoint, values).

    Only endpoints whose rules use werkzeug's own converters are cached (their output
    depends on the values alone), and only for plain value types.
    """

    __slots__ = ("cacheable", "url_map", "urls")

    def __init__(self, url_map: Map) -> None:
        self.url_map = url_map
        self.urls: dict[tuple[t.Any, ...], str] = {}
        self.cacheable: dict[str, bool] = {}

    def key(
        self,
        adapter: MapAdapter,
        endpoint: str,
        values: dict[str, t.Any],
        method: str | None,
        scheme: str | None,
        external: bool | None,
    ) -> tuple[t.Any, ...] | None:
        """The cache key of one ``url_for`` call, or ``None`` when it must not be cached."""
        ok = self.cacheable.get(endpoint)
        if ok is None:
            ok = self.cacheable[endpoint] = builds_deterministically(self.url_map, endpoint)
        if not ok:
            return None
        items: list[t.Any] = []
        for name, value in values.items():
            kind = type(value)
            if kind not in _PLAIN_TYPES:
                return None
            items.append((name, kind, value))
        return (
            adapter.server_name,
            adapter.script_name,
            adapter.subdomain,
            adapter.url_scheme,
            endpoint,
            method,
            scheme,
            external,
            *items,
        )

    def store(self, key: tuple[t.Any, ...], url: str) -> None:
        """Remember ``url`` for ``key`` (the cache starts over when full)."""
        if len(self.urls) >= _BUILD_CACHE_SIZE:
            self.urls.clear()
        self.urls[key] = url


def _converter_names(rule: Rule) -> t.Iterator[str]:
    for text in (rule.rule, rule.subdomain or "", rule.host or ""):
        for match in _VARIABLE.finditer(text):
            yield match.group("converter") or "default"


def builds_deterministically(url_map: Map, endpoint: str) -> bool:
    """Whether every rule of ``endpoint`` builds with werkzeug's own converters only.

    Read from the rule text and the map's ``converters``, so a converter registered (or
    replaced) under any name is seen. Converters changed after the rules were added do not
    apply to those rules in werkzeug either; set them first, as Flask's docs say.
    """
    try:
        rules = list(url_map.iter_rules(endpoint))
    except KeyError:
        return False
    converters = url_map.converters
    return bool(rules) and all(
        converters.get(name) in _BUILTIN_CONVERTERS
        for rule in rules
        for name in _converter_names(rule)
    )


class CachingMap(Map):
    """werkzeug's ``Map`` that owns the match and build caches of the application."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Set before werkzeug's __init__, which adds the rules it is given.
        self.clear_caches()
        super().__init__(*args, **kwargs)

    def clear_caches(self) -> None:
        """Forget cached matches and built URLs (done whenever a rule is added)."""
        #: ``(path, method) -> rule`` for rules without variables, defaults or redirects.
        self.static_matches: dict[tuple[str, str], Rule] = {}
        #: URLs built by ``url_for``.
        self.built_urls = BuildCache(self)

    def add(self, rulefactory: RuleFactory) -> None:
        """Add a rule (or the rules of a factory) and empty the caches."""
        super().add(rulefactory)
        self.clear_caches()


class CachingMapAdapter(MapAdapter):
    """A MapAdapter that remembers which rule answered a path without URL variables.

    Only successful matches of rules with no arguments, no defaults, no redirect and no
    WebSocket flag are cached: for those, the rule is a function of (path, method) alone
    once the map stops changing.
    """

    map: CachingMap

    def match(
        self,
        path_info: str | None = None,
        method: str | None = None,
        return_rule: bool = False,
        query_args: t.Mapping[str, t.Any] | str | None = None,
        websocket: bool | None = None,
    ) -> tuple[t.Any, t.Mapping[str, t.Any]]:
        if path_info is not None or method is not None or websocket is not None:
            return super().match(  # type: ignore[call-overload, no-any-return]
                path_info, method, return_rule, query_args, websocket
            )
        cache = self.map.static_matches
        key = (self.path_info, self.default_method)
        rule = cache.get(key)
        if rule is None:
            rule, args = super().match(return_rule=True, query_args=query_args)
            if (
                not args
                and not rule.arguments
                and not rule.defaults
                and rule.redirect_to is None
                and not rule.websocket
            ):
                cache[key] = rule
        else:
            args = {}
        if return_rule:
            return rule, args
        return rule.endpoint, args

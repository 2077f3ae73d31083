"""Public data kept in the instance's memory for a second: the latest posts and posts.

Most of what a page costs an instance is its Datastore calls: 1-3 ms of CPU each in ndb,
gRPC and protobuf, against well under a millisecond for the rest of the page. The pages
everyone reads (the front page, ``GET /api/posts``, a post) show the same data to every
visitor, change rarely, and are read far more often than once a second on a busy site.

What is kept is data, never a page: the first page of the latest posts with its
next-page cursor, and a post with its attachments, all public. Each page is still
rendered per request, with the visitor's own login state and CSRF token. Nothing about
a user (sessions, accounts, login attempts) is ever kept here.

How fresh it is:

* every request that may change something (``POST``, ``PUT``, ``PATCH``, ``DELETE``: a
  post written, edited or deleted, a file attached, a task's result) served by this
  instance empties the cache before its response leaves, so the next page served here
  shows the change;
* its response also sets a short-lived cookie (``fresh``, ``__Host-fresh`` where cookies
  are Secure), which lives :data:`FRESH_MARGIN` seconds longer than anything is kept;
  while a browser sends it, that browser's pages are read fresh from Datastore on every
  instance. So whoever made a change sees it at once wherever App Engine routes their
  next page, and once the cookie is gone every kept value anywhere was read after the
  change. The cookie holds nothing but ``1``: sending it or not only changes whether
  one's own pages come from Datastore or from memory, both public data;
* any other change (made through another instance, by a task such as the attachment scan,
  by a client that keeps no cookies, or in the Datastore console) shows within
  ``PUBLIC_CACHE_SECONDS`` (app config; default 1 second; 0 turns the cache off).

Only first pages are kept: pages reached through a cursor are queried each time. At most
``PUBLIC_CACHE_ENTRIES`` (default 256) posts are kept; the oldest go first.
"""

from __future__ import annotations

import math
import threading
import time
import typing as t
from collections.abc import Callable, Hashable

from framework import Flask, current_app, has_request_context, request

if t.TYPE_CHECKING:
    from framework import Response

#: Requests after which the cache is emptied.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: How much longer than ``PUBLIC_CACHE_SECONDS`` the writer's cookie lives, in seconds:
#: room for the write's response to reach the browser, and for the clocks of two instances.
FRESH_MARGIN = 2
#: Defaults of ``PUBLIC_CACHE_SECONDS`` and ``PUBLIC_CACHE_ENTRIES``.
DEFAULT_SECONDS = 1.0
DEFAULT_ENTRIES = 256
EXTENSION = "sample_app.cache"

V = t.TypeVar("V")


class PublicCache:
    """Values by key, each kept ``seconds`` after it was read; one per app."""

    def __init__(self, seconds: float, entries: int = DEFAULT_ENTRIES) -> None:
        self.seconds = seconds
        self.entries = max(1, entries)
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, t.Any]] = {}
        # Bumped by every invalidation: a read that started before a write must not
        # store what it read once the write has emptied the cache.
        self._generation = 0

    def get(
        self,
        key: Hashable,
        load: Callable[[], V],
        *,
        keep: Callable[[V], bool] | None = None,
    ) -> V:
        """The value of ``key``: kept, or (if nothing is, or this browser wrote something
        moments ago) ``load()``, then kept for ``seconds`` unless ``keep(value)`` is
        false."""
        if self.seconds <= 0:
            return load()
        now = time.monotonic()
        with self._lock:
            kept, generation = self._values.get(key), self._generation
        if kept is not None and now < kept[0] and not wrote_recently():
            return t.cast(V, kept[1])
        value = load()
        if keep is None or keep(value):
            with self._lock:
                if self._generation == generation:
                    self._store(key, value)
        return value

    def _store(self, key: Hashable, value: t.Any) -> None:
        now = time.monotonic()
        self._values.pop(key, None)
        if len(self._values) >= self.entries:
            for old in [k for k, (expires, _) in self._values.items() if expires <= now]:
                del self._values[old]
        while len(self._values) >= self.entries:
            del self._values[next(iter(self._values))]  # the oldest
        self._values[key] = (now + self.seconds, value)

    def invalidate(self) -> None:
        """Forget everything (after a request that may have written something)."""
        with self._lock:
            self._values.clear()
            self._generation += 1


def init_app(app: Flask) -> None:
    """Give ``app`` its cache (one per app: tests build many apps in one process)."""
    app.config.setdefault("PUBLIC_CACHE_SECONDS", DEFAULT_SECONDS)
    app.config.setdefault("PUBLIC_CACHE_ENTRIES", DEFAULT_ENTRIES)
    cache = PublicCache(
        float(app.config["PUBLIC_CACHE_SECONDS"]), int(app.config["PUBLIC_CACHE_ENTRIES"])
    )
    app.extensions[EXTENSION] = cache

    @app.after_request
    def forget_after_write(response: Response) -> Response:
        # Whatever the outcome: a failed request may have stored part of its work.
        if request.method in WRITE_METHODS and cache.seconds > 0:
            cache.invalidate()
            secure = bool(app.config["SESSION_COOKIE_SECURE"])
            response.set_cookie(
                fresh_cookie_name(),
                "1",
                max_age=math.ceil(cache.seconds) + FRESH_MARGIN,
                path="/",
                secure=secure,
                httponly=True,
                samesite="Lax",
            )
        return response


def fresh_cookie_name() -> str:
    """``__Host-fresh`` where cookies are Secure (App Engine), else ``fresh``."""
    return "__Host-fresh" if current_app.config["SESSION_COOKIE_SECURE"] else "fresh"


def wrote_recently() -> bool:
    """Whether this request's browser made a change moments ago (its cookie is here)."""
    return has_request_context() and fresh_cookie_name() in request.cookies


def public_cache() -> PublicCache:
    """The current app's cache."""
    return t.cast(PublicCache, current_app.extensions[EXTENSION])

"""The first page of the latest posts, kept in the instance's memory for a second.

The front page and ``GET /api/posts`` show the same query's first page, and most of what
they cost an instance is that query: 2-3 ms of CPU in ndb, gRPC and protobuf, against
well under a millisecond for the rest of the page. Read by everyone, written rarely, it is
the one thing worth keeping between requests.

What is kept is data, never a page: the posts (public, the same for every visitor) and
the next-page cursor. Each page is still rendered per request, with the visitor's own
login state and CSRF token.

How fresh it is:

* a post created, edited or deleted through this instance empties the cache at once, so
  a writer served by the same instance sees their change on the next page;
* a change made elsewhere (another instance, the Datastore console, a task) shows within
  ``LATEST_POSTS_CACHE_SECONDS`` (app config; default 1 second; 0 turns the cache off).

Only the first page is kept: pages reached through a cursor are queried each time.
"""

from __future__ import annotations

import threading
import time
import typing as t

from framework import Flask, current_app

if t.TYPE_CHECKING:
    from .models import Post

#: The default of ``LATEST_POSTS_CACHE_SECONDS``.
DEFAULT_SECONDS = 1.0
EXTENSION = "sample_app.latest"

Page = tuple[list["Post"], "str | None"]


class LatestPosts:
    """The cached first page (posts and next cursor) of one app."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._page: tuple[tuple[Post, ...], str | None] | None = None
        self._expires = 0.0
        # Bumped by every invalidation: a query that started before a write must not
        # store what it read once the write has emptied the cache.
        self._generation = 0

    def get(self, load: t.Callable[[], Page]) -> Page:
        """The first page: kept, or read with ``load()`` and kept for ``seconds``."""
        if self.seconds <= 0:
            return load()
        with self._lock:
            page, expires, generation = self._page, self._expires, self._generation
        if page is not None and time.monotonic() < expires:
            return list(page[0]), page[1]
        posts, cursor = load()
        with self._lock:
            if self._generation == generation:
                self._page = (tuple(posts), cursor)
                self._expires = time.monotonic() + self.seconds
        return posts, cursor

    def invalidate(self) -> None:
        """Forget the kept page (after this instance writes a post)."""
        with self._lock:
            self._page = None
            self._generation += 1


def init_app(app: Flask) -> None:
    """Give ``app`` its cache (one per app: tests build many apps in one process)."""
    app.config.setdefault("LATEST_POSTS_CACHE_SECONDS", DEFAULT_SECONDS)
    app.extensions[EXTENSION] = LatestPosts(float(app.config["LATEST_POSTS_CACHE_SECONDS"]))


def latest_posts() -> LatestPosts:
    """The current app's cache."""
    return t.cast(LatestPosts, current_app.extensions[EXTENSION])

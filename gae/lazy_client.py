"""A client built once, on first use, by a factory that can be replaced.

What :mod:`gae.ndb` and :mod:`gae.storage.client` keep per process, and a
:class:`~gae.storage.Storage` given its own ``client_factory`` keeps per instance: building
a Google client reads credentials and sets up transports, so it is done once, by whichever
thread needs it first, and only if something needs it (cold starts stay cheap).
"""

from __future__ import annotations

import threading
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable


class LazyClient:
    """:meth:`get` builds the client with the factory once; :meth:`set_factory` drops it."""

    def __init__(
        self, default: Callable[[], t.Any], *, on_reset: Callable[[], None] | None = None
    ) -> None:
        self._default = default
        self._factory: Callable[[], t.Any] | None = None
        self._on_reset = on_reset
        self._client: t.Any = None
        self._lock = threading.Lock()

    def set_factory(self, factory: Callable[[], t.Any] | None) -> None:
        """Build the client with ``factory`` (``None``: the default) from now on."""
        with self._lock:
            self._factory = factory
            self._client = None
            if self._on_reset is not None:
                self._on_reset()

    @property
    def uses_default(self) -> bool:
        """Whether the client is (or will be) built by the default factory."""
        return self._factory is None

    def get(self) -> t.Any:
        """The client, built on first use (thread-safe)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = (self._factory or self._default)()
                client = self._client
        return client

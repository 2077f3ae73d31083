"""One ``ndb.Client`` per process and a Datastore context per request.

``google.cloud.ndb`` is imported only by the functions here that need it, so an app that
never uses Datastore never loads it (a cold-start cost of a few hundred milliseconds on an
F1 instance).
"""

from __future__ import annotations

import contextlib
import sys
import typing as t

from .lazy_client import LazyClient
from .settings import get_settings


def ndb_in_use() -> bool:
    """Whether the app imported ``google.cloud.ndb`` (it defines or uses models)."""
    return "google.cloud.ndb" in sys.modules


def set_client_factory(factory: t.Callable[[], t.Any] | None) -> None:
    """Build the process's client with ``factory`` instead (tests, custom credentials).

    The client already created, if any, is dropped.
    """
    _clients.set_factory(factory)


def uses_default_client() -> bool:
    """Whether the client comes from the environment (no :func:`set_client_factory`)."""
    return _clients.uses_default


def anonymous_client(project: str | None) -> t.Any:
    """An ``ndb.Client`` without credentials: for an emulator, or one that never connects.

    Real credentials would be looked up (and on a laptop, fail or hang) though the
    emulator needs none.
    """
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return ndb.Client(project=project, credentials=credentials)


def _default_client() -> t.Any:
    settings = get_settings()
    if settings.uses_datastore_emulator:
        return anonymous_client(settings.project)
    from .credentials import credentials_problem
    from .errors import ConfigurationError

    problem = credentials_problem(settings)
    if problem is not None:
        # Rather than google.auth's DefaultCredentialsError after a metadata probe.
        raise ConfigurationError(problem)
    from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

    return ndb.Client(project=settings.project)


def get_client() -> t.Any:
    """The process's ``ndb.Client``, created on first use (thread-safe)."""
    return _clients.get()


_NO_CACHE: t.Any = object()
_global_cache: t.Any = _NO_CACHE


def _forget_global_cache() -> None:
    # Decided again for the next client.
    global _global_cache
    _global_cache = _NO_CACHE


_clients = LazyClient(_default_client, on_reset=_forget_global_cache)


def global_cache() -> t.Any:
    """ndb's Redis global cache when ``REDIS_CACHE_URL`` is set, else ``None`` (decided once
    per client)."""
    global _global_cache
    if _global_cache is _NO_CACHE:
        if get_settings().redis_cache_url:
            from google.cloud import ndb  # type: ignore[import-untyped, unused-ignore]

            _global_cache = ndb.RedisCache.from_environment()
        else:
            _global_cache = None
    return _global_cache


def new_context() -> t.Any:
    """A new context of the process's client, with the global cache when one is set."""
    cache = global_cache()
    client = get_client()
    return client.context(global_cache=cache) if cache is not None else client.context()


def current_context() -> t.Any:
    """The ndb context active in this thread, or ``None``."""
    module = sys.modules.get("google.cloud.ndb.context")
    if module is None:
        return None
    return module.get_context(False)


class RequestContext:
    """An ndb context entered for one request and exited when its response is closed.

    When a context is already active (a test's ``ndb_context``, a nested app), nothing is
    entered and that context is used.
    """

    __slots__ = ("_manager",)

    def __init__(self) -> None:
        self._manager: t.Any = None

    def enter(self) -> None:
        """Enter a new context unless one is active in this thread."""
        if current_context() is not None:
            return
        manager = new_context()
        manager.__enter__()
        self._manager = manager

    def exit(self, exc: BaseException | None = None) -> None:
        """Exit the context entered by :meth:`enter`, if any (idempotent)."""
        manager, self._manager = self._manager, None
        if manager is not None:
            if exc is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(exc), exc, exc.__traceback__)


@contextlib.contextmanager
def ensure_context() -> t.Iterator[t.Any]:
    """The active ndb context, or a new one for the duration of the block.

    For library code (sessions) that may run in an app that never imported ndb itself, so
    the entry-point adapter opened no context for the request.
    """
    context = current_context()
    if context is not None:
        yield context
        return
    with new_context() as context:
        yield context

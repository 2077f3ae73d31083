"""Server-side sessions in Datastore: ``app.session_interface = DatastoreSessionInterface()``.

The cookie carries only a signed, random 256-bit session id; the data lives in a Datastore
entity (see :mod:`gae.sessions.store`). Compared with hand-written Datastore sessions:

* nothing is pickled: the payload is tagged JSON, as in cookie sessions;
* nothing is written for requests that never write to the session, and a request without
  a session cookie makes no Datastore call at all;
* a write merges only what the request changed (keys set or deleted, values changed in
  place), inside a transaction, so concurrent requests of one user do not lose each
  other's changes; and it never brings back a session a concurrent logout or login ended;
* the expiry is pushed forward at most once per ``SESSION_DATASTORE_REFRESH_INTERVAL``;
* :func:`regenerate` issues a new id at login (stopping session fixation) and
  :func:`destroy` removes the session at logout;
* expired sessions are deleted by :func:`gae.sessions.cleanup.cleanup`, behind the cron URL
  :func:`register_cleanup_route` adds and the ``framework sessions cleanup`` command.

Settings (app config): ``SESSION_DATASTORE_KIND`` (``"Session"``),
``SESSION_DATASTORE_NAMESPACE`` (``None``), ``SESSION_DATASTORE_REFRESH_INTERVAL``
(1 hour), ``SESSION_DATASTORE_TIMEOUT`` (5 s), plus every ``SESSION_COOKIE_*`` setting and
``PERMANENT_SESSION_LIFETIME`` (server-side lifetime of every session).
"""

from __future__ import annotations

from .cleanup import register_cleanup_route
from .interface import DatastoreSessionInterface
from .session import DatastoreSession, destroy, regenerate
from .store import SessionStoreUnavailable, SessionTooLarge

__all__ = [
    "DatastoreSession",
    "DatastoreSessionInterface",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "destroy",
    "regenerate",
    "register_cleanup_route",
]

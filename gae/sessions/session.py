"""The session object of Datastore sessions: what a request changed, and login/logout.

Part of :mod:`gae.sessions` (import it from there).
"""

from __future__ import annotations

import typing as t

from werkzeug.datastructures import CallbackDict

from framework import session as current_session
from framework.sessions import SessionMixin
from gae.errors import ConfigurationError

from .store import dumps, loads


class DatastoreSession(CallbackDict[str, t.Any], SessionMixin):
    """A session whose data lives in Datastore; knows what a request changed in it.

    ``loaded`` is the session's data as it was read (tagged JSON): what :meth:`changes`
    compares with, so values changed in place (``session["cart"].append(x)``) are saved
    too, not only the keys assigned or deleted.
    """

    def __init__(
        self,
        initial: t.Mapping[str, t.Any] | None = None,
        sid: str | None = None,
        *,
        issued_at: float | None = None,
        loaded: str | None = None,
    ) -> None:
        self.sid = sid
        #: Whether no stored session backs this one (no cookie, or an unknown id).
        self.new = sid is None
        #: When the cookie was last issued (seconds since the epoch), for refreshes.
        self.issued_at = issued_at
        #: The data as loaded, serialized (``None``: nothing was loaded).
        self.loaded = loaded
        self.changed: dict[str, t.Any] = {}
        self.removed: set[str] = set()
        self.regenerate_requested = False
        self.destroy_requested = False
        self.modified = False
        self._tracking = False
        super().__init__(initial, _mark_modified)
        self._tracking = True

    # Which keys changed matters for merging concurrent writes; a CallbackDict only says
    # that something changed, so each writer records the keys it touches.
    def __setitem__(self, key: str, value: t.Any) -> None:
        super().__setitem__(key, value)
        self._note(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._note(key)

    def pop(self, key: str, *default: t.Any) -> t.Any:
        present = key in self
        value = super().pop(key, *default)
        if present:
            self._note(key)
        return value

    def popitem(self) -> tuple[str, t.Any]:
        item = super().popitem()
        self._note(item[0])
        return item

    def setdefault(self, key: str, default: t.Any = None) -> t.Any:
        present = key in self
        value = super().setdefault(key, default)
        if not present:
            self._note(key)
        return value

    def update(self, *args: t.Any, **kwargs: t.Any) -> None:
        keys = set(dict(*args, **kwargs))
        super().update(*args, **kwargs)
        for key in keys:
            self._note(key)

    def clear(self) -> None:
        keys = list(self)
        super().clear()
        for key in keys:
            self._note(key)

    def _note(self, key: str) -> None:
        if not self._tracking:
            return
        if key in self:
            self.changed[key] = self[key]
            self.removed.discard(key)
        else:
            self.changed.pop(key, None)
            self.removed.add(key)

    def changes(self) -> tuple[dict[str, t.Any], set[str]]:
        """``(changed, removed)``: the keys this request set, deleted or changed in place.

        Compared with the data as loaded, by serialized value, so a list appended to or a
        dict updated in place counts as changed even though no key was assigned.
        """
        before = loads(self.loaded)
        changed = {
            key: value
            for key, value in self.items()
            if key in self.changed or key not in before or dumps(value) != dumps(before[key])
        }
        removed = (self.removed | before.keys()) - self.keys()
        return changed, removed

    def regenerate(self) -> None:
        """Move the data to a new session id when the response is saved (at login)."""
        self.regenerate_requested = True
        self.modified = True

    def destroy(self) -> None:
        """Delete the session and its cookie when the response is saved (at logout)."""
        self.clear()
        self.destroy_requested = True
        self.modified = True


def _mark_modified(session: DatastoreSession) -> None:
    session.modified = True


def regenerate() -> None:
    """Give the current session a new id (call at login to stop session fixation)."""
    _current("regenerate").regenerate()


def destroy() -> None:
    """Delete the current session and its cookie (call at logout)."""
    _current("destroy").destroy()


def _current(action: str) -> DatastoreSession:
    # The proxy itself: isinstance sees the session behind it.
    sess: t.Any = current_session
    if not isinstance(sess, DatastoreSession):
        raise ConfigurationError(
            f"gae.sessions.{action}() needs the Datastore session interface: set "
            "app.session_interface = gae.sessions.DatastoreSessionInterface() "
            "(and a SECRET_KEY)."
        )
    return sess

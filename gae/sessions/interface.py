"""The Datastore session interface: the cookie holds a signed id, the data is in Datastore.

Part of :mod:`gae.sessions` (import it from there).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import typing as t
from datetime import datetime, timedelta

from werkzeug.exceptions import ServiceUnavailable

from framework.sessions import SessionInterface, SessionMixin
from gae.ndb import ensure_context

from .session import DatastoreSession
from .store import SessionStoreUnavailable, Store, dumps, now

if t.TYPE_CHECKING:
    from itsdangerous import TimestampSigner

    from framework import Flask, Request, Response

logger = logging.getLogger("gae.sessions")

_SALT = "gae.datastore-session"
#: WSGI environ key set when this request's session could not be read from Datastore.
_LOAD_FAILED = "gae.sessions.load_failed"
_UNAVAILABLE = (
    "Sessions are temporarily unavailable because Datastore could not be reached. "
    "Please try again in a moment."
)


class DatastoreSessionInterface(SessionInterface):
    """Sessions kept in Datastore through google-cloud-ndb (see the module docstring)."""

    session_class = DatastoreSession

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._signers: dict[tuple[t.Any, ...], TimestampSigner] = {}

    # -- configuration -----------------------------------------------------------------

    def store(self, app: Flask) -> Store:
        """The store for ``app``'s kind and namespace."""
        if self._store is not None:
            return self._store
        config = app.config
        store = Store(
            config.get("SESSION_DATASTORE_KIND", "Session"),
            config.get("SESSION_DATASTORE_NAMESPACE"),
            timeout=float(config.get("SESSION_DATASTORE_TIMEOUT", 5.0)),
        )
        self._store = store
        return store

    def refresh_interval(self, app: Flask) -> float:
        """Seconds between pushes of a session's expiry (``SESSION_DATASTORE_REFRESH_INTERVAL``)."""
        value = app.config.get("SESSION_DATASTORE_REFRESH_INTERVAL", timedelta(hours=1))
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        """``SESSION_COOKIE_SAMESITE``, defaulting to ``Lax`` for server-side sessions."""
        return t.cast("str | None", app.config["SESSION_COOKIE_SAMESITE"] or "Lax")

    def signer(self, app: Flask) -> TimestampSigner | None:
        """Signs the session id with ``SECRET_KEY`` (verifies with the fallbacks too)."""
        secret = app.secret_key
        if not secret:
            return None
        fallbacks = tuple(app.config["SECRET_KEY_FALLBACKS"] or ())
        cache_key = (secret, fallbacks)
        signer = self._signers.get(cache_key)
        if signer is None:
            from itsdangerous import TimestampSigner

            signer = TimestampSigner(
                [*fallbacks, secret],
                salt=_SALT,
                key_derivation="hmac",
                digest_method=hashlib.sha256,
            )
            self._signers = {cache_key: signer}
        return signer

    # -- loading -----------------------------------------------------------------------

    def _verified_sid(self, app: Flask, request: Request) -> tuple[str, float] | None:
        value = request.cookies.get(self.get_cookie_name(app))
        signer = self.signer(app)
        if not value or signer is None:
            return None
        from itsdangerous import BadSignature

        try:
            sid, issued = signer.unsign(value, return_timestamp=True)
        except (BadSignature, ValueError):
            return None
        return sid.decode("ascii", "replace"), issued.timestamp()

    def open_session(self, app: Flask, request: Request) -> DatastoreSession | None:
        """The request's session: empty without a valid cookie (no Datastore call),
        else loaded with one lookup. Unknown or expired ids give a new empty session
        (their id is never adopted)."""
        if self.signer(app) is None:
            return None
        verified = self._verified_sid(app, request)
        if verified is None:
            return self.session_class()
        sid, issued_at = verified
        if request.environ.get(_LOAD_FAILED):
            # Failed once in this request (the view, then an error page that shows flashed
            # messages): the same 503 at once, without waiting for Datastore again.
            raise ServiceUnavailable(_UNAVAILABLE)
        try:
            with ensure_context():
                stored = self.store(app).load(sid)
        except SessionStoreUnavailable as error:
            logger.error("%s", error)
            request.environ[_LOAD_FAILED] = True
            raise ServiceUnavailable(_UNAVAILABLE) from error
        if stored is None:
            return self.session_class()
        data, _expires = stored
        # The snapshot a save compares with (in-place changes are only visible that way).
        return self.session_class(data, sid, issued_at=issued_at, loaded=dumps(data))

    def refresh_needed(self, app: Flask, request: Request) -> bool:
        """Whether an untouched session's expiry is due a push (cookie older than the
        refresh interval); decided from the cookie alone.

        The issue time is read without checking the signature first: a forged recent time
        only skips a refresh nobody needed, and an old one leads to the full check.
        """
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or request.environ.get(_LOAD_FAILED):
            return False  # (a session that could not be read cannot be refreshed either)
        issued = _issued_at(value)
        if issued is not None and time.time() - issued < self.refresh_interval(app):
            return False
        verified = self._verified_sid(app, request)
        if verified is None:
            return False
        return time.time() - verified[1] >= self.refresh_interval(app)

    # -- saving ------------------------------------------------------------------------

    def expires_at(self, app: Flask) -> datetime:
        """When a session written now expires on the server."""
        return now() + app.permanent_session_lifetime

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Write what the request changed (if anything), then set or delete the cookie.

        A Datastore failure turns the response into a 503 (nothing half-saved is
        reported as success); a session too large for an entity raises
        :class:`SessionTooLarge` before anything is written.
        """
        sess = t.cast(DatastoreSession, session)
        if sess.accessed:
            response.vary.add("Cookie")
        try:
            with ensure_context():
                self._save(app, sess, response)
        except SessionStoreUnavailable as error:
            logger.error("%s", error)
            _become_unavailable(response)

    def _save(self, app: Flask, sess: DatastoreSession, response: Response) -> None:
        store = self.store(app)
        emptied_at_login = sess.regenerate_requested and not sess and sess.sid is not None
        if sess.destroy_requested or emptied_at_login:
            if sess.sid is not None:
                store.delete(sess.sid)
            if sess.sid is not None or sess.destroy_requested:
                self._delete_cookie(app, response)
            return
        expires = self.expires_at(app)
        if sess.regenerate_requested:
            self._save_regenerated(app, store, sess, response, expires)
            return
        if sess.modified:
            self._save_modified(app, store, sess, response, expires)
            return
        # A session that vanished meanwhile keeps its cookie untouched: deleting it could
        # delete the new cookie a concurrent login has just set (cookies go by name).
        sid = sess.sid
        if sid is not None and self._refresh_due(app, sess) and store.touch(sid, expires):
            self._set_cookie(app, sess, sid, response)

    def _save_modified(
        self,
        app: Flask,
        store: Store,
        sess: DatastoreSession,
        response: Response,
        expires: datetime,
    ) -> None:
        """Create a new session, or merge this request's changes into the stored one."""
        if sess.sid is None:
            if not sess:
                return  # a new session that stayed empty: nothing to store
            sid = _new_sid()  # minted here: nobody else can know it yet
            store.create(sid, dict(sess), expires)
        else:
            sid = sess.sid
            changed, removed = sess.changes()
            stored = store.merge(sid, changed, removed, None, expires)
            if stored is None:
                _vanished("saving")
                return
            if not stored:
                # Emptied (the keys a concurrent request added meanwhile would have kept
                # it): the entity is deleted, and so is the cookie.
                self._delete_cookie(app, response)
                return
        self._set_cookie(app, sess, sid, response)
        sess.sid = sid

    def _save_regenerated(
        self,
        app: Flask,
        store: Store,
        sess: DatastoreSession,
        response: Response,
        expires: datetime,
    ) -> None:
        """Move the session to a new id; if a concurrent request already deleted or moved
        the old one, only what this request itself changed goes to the new id."""
        new_sid = _new_sid()
        if not store.replace_id(sess.sid, new_sid, dict(sess), expires):
            _vanished("regenerating")
            changed, _removed = sess.changes()
            if not changed:
                return
            store.create(new_sid, changed, expires)
        self._set_cookie(app, sess, new_sid, response)
        sess.sid = new_sid

    def _refresh_due(self, app: Flask, sess: DatastoreSession) -> bool:
        if sess.issued_at is None:
            return True
        return time.time() - sess.issued_at >= self.refresh_interval(app)

    def cookie_options(self, app: Flask) -> dict[str, t.Any]:
        """The attributes the session cookie is set and deleted with (the same for both:
        a deleted cookie must match the one it replaces, or the browser keeps that one)."""
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }

    def _set_cookie(self, app: Flask, sess: DatastoreSession, sid: str, response: Response) -> None:
        signer = self.signer(app)
        if signer is None:
            return
        response.set_cookie(
            self.get_cookie_name(app),
            signer.sign(sid).decode("ascii"),
            expires=self.get_expiration_time(app, sess),
            **self.cookie_options(app),
        )
        response.vary.add("Cookie")

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(self.get_cookie_name(app), **self.cookie_options(app))
        response.vary.add("Cookie")


def _issued_at(cookie: str) -> float | None:
    """The timestamp part of ``sid.timestamp.signature`` (itsdangerous' base64 integer)."""
    parts = cookie.rsplit(".", 2)
    if len(parts) != 3:
        return None
    from itsdangerous.encoding import base64_decode, bytes_to_int

    try:
        return float(bytes_to_int(base64_decode(parts[1])))
    except Exception:  # malformed: let the signature check decide
        return None


def _vanished(action: str) -> None:
    # No session id in the message: it is a credential.
    logger.warning(
        "The session was deleted or given a new id by a concurrent request (logout or "
        "login) while this one was running; %s it would bring it back, so this request's "
        "session changes were dropped and no session cookie was set.",
        action,
    )


def _new_sid() -> str:
    # 32 random bytes = 256 bits, URL-safe, no padding.
    return secrets.token_urlsafe(32)


def _become_unavailable(response: Response) -> None:
    """Replace the response with a 503: the session change it reports was not saved."""
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    response.headers.pop("Set-Cookie", None)
    response.headers.pop("Location", None)
    response.mimetype = "text/plain"
    response.set_data(_UNAVAILABLE)

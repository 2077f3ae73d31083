"""Sessions: per-user data kept across requests.

The default :class:`SecureCookieSessionInterface` stores the whole session in a cookie, as
tagged JSON signed with the app's ``SECRET_KEY`` (the user can read it but not change it).
Keys listed in ``SECRET_KEY_FALLBACKS`` still verify old cookies, so keys can be rotated
without logging everyone out. Other stores plug in by setting ``app.session_interface`` to
a :class:`SessionInterface` subclass.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import typing as t
import weakref
import zlib
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime

from werkzeug.datastructures import CallbackDict

from .json.tag import TaggedJSONSerializer

if t.TYPE_CHECKING:
    from itsdangerous import URLSafeTimedSerializer

    from .app import Flask
    from .wrappers import Request, Response


class SessionMixin(MutableMapping[str, t.Any]):
    """The attributes every session object has, on top of the mapping interface."""

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser session, expiring after
        ``app.permanent_session_lifetime``. Stored in the session under ``"_permanent"``.
        """
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)

    #: Whether the session was just created rather than loaded. Session implementations
    #: set it; the cookie session always reports ``False``.
    new = False

    #: Whether the session changed. Mutating a mutable value in place (appending to a
    #: list stored in the session) is not detected: set this to ``True`` yourself then.
    modified = True

    #: Whether the request used the session, which makes the response vary by cookie.
    #: The request context sets it each time it hands out the session (which is how the
    #: ``session`` proxy reaches it), so every read counts, ``"key" in session`` included.
    accessed = False


class SecureCookieSession(CallbackDict[str, t.Any], SessionMixin):
    """The session loaded from a signed cookie. Writes through the mapping interface set
    :attr:`modified`, so the cookie is only sent when needed; :attr:`new` stays ``False``
    because an empty cookie session cannot be told apart from a new one.
    """

    modified = False

    def __init__(
        self, initial: Mapping[str, t.Any] | Iterable[tuple[str, t.Any]] | None = None
    ) -> None:
        def on_update(self: SecureCookieSession) -> None:
            self.modified = True

        super().__init__(initial, on_update)


class NullSession(SecureCookieSession):
    """The session of an app without a secret key: readable (it is empty) but every write
    raises :exc:`RuntimeError` explaining how to enable sessions.
    """

    def _fail(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise RuntimeError(
            "The session is unavailable because no secret key was set, so the session"
            " cookie could not be signed. Set one on the application, for example"
            " app.secret_key = secrets.token_hex() or app.config['SECRET_KEY'] = ...,"
            " loading the value from the environment or a file kept out of source control."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    del _fail


class SessionInterface:
    """How sessions are loaded from a request and saved to a response.

    Subclass it, implement :meth:`open_session` and :meth:`save_session`, and set an
    instance as ``app.session_interface``. The ``get_cookie_*`` methods read the app's
    ``SESSION_COOKIE_*`` configuration and can be overridden one by one.
    """

    #: What :meth:`make_null_session` returns: the session used when loading fails.
    null_session_class: type[SessionMixin] = NullSession

    #: Whether sessions are pickled. Always ``False`` here; kept for extensions that check.
    pickle_based = False

    def make_null_session(self, app: Flask) -> SessionMixin:
        """Return a session that can be read but refuses writes, used when
        :meth:`open_session` returns ``None``.
        """
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Return whether ``obj`` is a null session (and so must not be saved)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: Flask) -> str:
        """The cookie's name: ``SESSION_COOKIE_NAME``."""
        return t.cast(str, app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: Flask) -> str | None:
        """The cookie's ``Domain``: ``SESSION_COOKIE_DOMAIN``; ``None`` keeps the cookie
        to the exact host that set it.
        """
        return t.cast("str | None", app.config["SESSION_COOKIE_DOMAIN"])

    def get_cookie_path(self, app: Flask) -> str:
        """The cookie's ``Path``: ``SESSION_COOKIE_PATH``, else ``APPLICATION_ROOT``."""
        return t.cast(str, app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: Flask) -> bool:
        """Whether scripts are denied the cookie: ``SESSION_COOKIE_HTTPONLY``."""
        return t.cast(bool, app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: Flask) -> bool:
        """Whether the cookie is sent over HTTPS only: ``SESSION_COOKIE_SECURE``."""
        return t.cast(bool, app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: Flask) -> str | None:
        """The cookie's ``SameSite``: ``SESSION_COOKIE_SAMESITE``."""
        return t.cast("str | None", app.config["SESSION_COOKIE_SAMESITE"])

    def get_cookie_partitioned(self, app: Flask) -> bool:
        """Whether the cookie is ``Partitioned`` (CHIPS): ``SESSION_COOKIE_PARTITIONED``."""
        return t.cast(bool, app.config["SESSION_COOKIE_PARTITIONED"])

    def _cookie_options(self, app: Flask) -> dict[str, t.Any]:
        # The attributes set_cookie and delete_cookie both take: a deleted cookie must
        # match the one it replaces, or the browser keeps that one.
        return {
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "partitioned": self.get_cookie_partitioned(app),
            "samesite": self.get_cookie_samesite(app),
            "httponly": self.get_cookie_httponly(app),
        }

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        """When the cookie expires: now plus ``app.permanent_session_lifetime`` for a
        permanent session, ``None`` (end of the browser session) otherwise.
        """
        if session.permanent:
            return datetime.now(UTC) + app.permanent_session_lifetime
        return None

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """Whether :meth:`save_session` sends the cookie: when the session was modified,
        or when it is permanent and ``SESSION_REFRESH_EACH_REQUEST`` is on (which pushes
        the expiry forward on every request).
        """
        return session.modified or (
            session.permanent and bool(app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        """Load the session for ``request``; ``None`` means sessions are unavailable and a
        null session is used instead. Called the first time the request uses the session.
        """
        raise NotImplementedError

    def refresh_needed(self, app: Flask, request: Request) -> bool:
        """Whether a request that never used its session must still open and save it.

        Sessions open lazily, so a request that does not touch ``session`` normally costs
        nothing. Flask refreshes a permanent session's cookie on every request when
        ``SESSION_REFRESH_EACH_REQUEST`` is on; to keep that, this returns true when that
        setting is on and the request carries the session cookie. Override it to decide
        more cheaply (the cookie interface peeks at the payload).
        """
        if not app.config["SESSION_REFRESH_EACH_REQUEST"]:
            return False
        if "HTTP_COOKIE" not in request.environ:
            return False
        return self.get_cookie_name(app) in request.cookies

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Persist ``session`` and set whatever cookie ``response`` needs. Not called for
        null sessions.
        """
        raise NotImplementedError


def _lazy_sha1(string: bytes = b"") -> t.Any:
    return hashlib.sha1(string)


# hashlib's own constructor lets hmac take OpenSSL's fast path (a Python wrapper forces the
# pure-Python HMAC, several times slower per signature). Where a FIPS build lacks the
# attribute, the lazy wrapper keeps the import working for apps that never sign anything.
_sha1: t.Callable[..., t.Any] = getattr(hashlib, "sha1", None) or _lazy_sha1


_CacheKey = tuple[t.Any, ...]
_SignerCache: t.TypeAlias = (
    'weakref.WeakKeyDictionary["Flask", tuple[_CacheKey, URLSafeTimedSerializer]]'
)


class SecureCookieSessionInterface(SessionInterface):
    """Sessions stored in a cookie signed with itsdangerous, the default interface."""

    #: Salt mixed into the signing key, so session signatures are not valid elsewhere.
    salt = "cookie-session"

    #: Hash used by the HMAC signature.
    digest_method = staticmethod(_sha1)

    #: How the signing key is derived from the secret key.
    key_derivation = "hmac"

    #: Serializer of the session payload: tagged JSON, never pickle.
    serializer: t.Any = TaggedJSONSerializer()

    session_class: type[SecureCookieSession] = SecureCookieSession

    def __init__(self) -> None:
        # Building the serializer derives keys and allocates signers; reuse it until the
        # app's keys or this interface's signing settings change.
        self._signers: _SignerCache = weakref.WeakKeyDictionary()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Return the serializer that signs and verifies the cookie for ``app``, or
        ``None`` when the app has no secret key.

        It signs with ``SECRET_KEY`` and accepts signatures by any key in
        ``SECRET_KEY_FALLBACKS``.
        """
        secret_key = app.secret_key
        if not secret_key:
            return None
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        cache_key: _CacheKey = (
            secret_key,
            tuple(fallbacks) if fallbacks else (),
            self.salt,
            self.key_derivation,
            self.digest_method,
            self.serializer,
        )
        signers: _SignerCache | None = getattr(self, "_signers", None)
        if signers is None:
            # A subclass whose __init__ does not call ours still works, just uncached.
            return self._make_signing_serializer(cache_key)
        try:
            cached = signers.get(app)
        except TypeError:  # app cannot be weakly referenced
            return self._make_signing_serializer(cache_key)
        if cached is not None and cached[0] == cache_key:
            return cached[1]
        signer = self._make_signing_serializer(cache_key)
        signers[app] = (cache_key, signer)
        return signer

    def _make_signing_serializer(self, cache_key: _CacheKey) -> URLSafeTimedSerializer:
        # Imported on first use: apps that never touch the session never load itsdangerous.
        from .signing import CachingSerializer

        secret_key, fallbacks = cache_key[0], cache_key[1]
        # itsdangerous signs with the last key of the list and verifies with all of them.
        return CachingSerializer(
            [*fallbacks, secret_key],
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Load the session from its cookie. A missing, tampered, unreadable or expired
        cookie gives a new empty session; no secret key gives ``None``.
        """
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        from itsdangerous import BadSignature

        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data = signer.loads(value, max_age=max_age)
        except BadSignature:
            return self.session_class()
        if not isinstance(data, dict):
            # Validly signed but not a session (another use of the same key and salt).
            return self.session_class()
        return self.session_class(data)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Set, refresh or delete the session cookie on ``response`` as needed, and add
        ``Vary: Cookie`` whenever the response depended on the session.
        """
        vary = session.accessed
        try:
            if not session:
                # An emptied session is removed from the browser rather than stored empty.
                if session.modified:
                    response.delete_cookie(self.get_cookie_name(app), **self._cookie_options(app))
                    vary = True
                return
            if not self.should_set_cookie(app, session):
                return
            signer = self.get_signing_serializer(app)
            if signer is None:
                return
            response.set_cookie(
                self.get_cookie_name(app),
                signer.dumps(dict(session)),
                expires=self.get_expiration_time(app, session),
                **self._cookie_options(app),
            )
            vary = True
        finally:
            if vary:
                # Once: every add re-parses and re-serialises the header.
                response.vary.add("Cookie")

    def refresh_needed(self, app: Flask, request: Request) -> bool:
        """Whether an untouched session may be permanent and so need its expiry pushed
        forward; decided from the cookie's payload without verifying its signature.

        A forged cookie that claims to be permanent only costs the verification that
        rejects it in :meth:`open_session`.
        """
        if not super().refresh_needed(app, request):
            return False
        value = request.cookies.get(self.get_cookie_name(app), "")
        payload = value.rsplit(".", 2)[0] if value.count(".") >= 2 else value
        try:
            if payload.startswith("."):
                data = zlib.decompressobj().decompress(_b64decode(payload[1:]), 65536)
            else:
                data = _b64decode(payload)
        except (ValueError, binascii.Error, zlib.error):
            return True
        return b"_permanent" in data


def _b64decode(value: str) -> bytes:
    raw = value.encode("ascii", "strict")
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))

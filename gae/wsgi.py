"""The App Engine entry point: ``app = gae.wrap(create_app())``.

:class:`AppEngine` is a framework extension (``AppEngine(app)`` or ``ext.init_app(app)``)
that makes an app ready for App Engine:

* every request of an app that uses ndb runs in an ndb context, kept open until the
  response has been sent (streamed responses can read Datastore);
* App Engine's own headers are exposed as ``request.appengine`` where they can be trusted,
  the front end's ``X-Forwarded-Proto`` is honoured, and logs carry the request's trace;
* ``/_ah/warmup`` runs the warmup hooks once;
* on App Engine it refuses to start without a real ``SECRET_KEY``, forces debug mode off
  and makes session cookies Secure, HttpOnly and SameSite=Lax;
* off App Engine, an app that needs Datastore (ndb models, Datastore sessions) where
  there is neither an emulator nor Google credentials logs the fix at start-up and
  answers 503 with it, instead of a 500 on every URL;
* anywhere else, an app without a real ``SECRET_KEY`` (unset, a placeholder such as
  ``"dev"``, or shorter than 16 characters) answers only this machine: see
  :func:`is_local_request`. Cloud Run, App Engine flexible or a VM running the same
  command line cannot be told from a laptop by the environment, but their requests can.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import typing as t
from contextvars import ContextVar

from framework import Flask
from framework.alias import warn_if_mixed

from .errors import ConfigurationError
from .headers import TRUSTED_KEY, AppEngineRequestMixin, parse_trace
from .logging import current_trace
from .ndb import RequestContext, get_client, ndb_in_use, uses_default_client
from .request_class import add_request_mixin
from .settings import Settings, get_settings

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("gae")

F = t.TypeVar("F", bound=t.Callable[[], t.Any])

#: Values that are not secrets: refusing them on App Engine stops a demo key going live.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "dev",
        "development",
        "secret",
        "secret-key",
        "secret_key",
        "changeme",
        "change-me",
        "change_me",
        "replace-me",
        "your-secret-key",
        "your_secret_key",
        "insecure",
        "test",
        "testing",
    }
)
MIN_SECRET_LENGTH = 16

#: Headers a proxy adds: a request carrying one did not come straight from this machine.
PROXY_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_REAL_IP",
)

WEAK_SECRET_REFUSAL = (
    "This app has no real SECRET_KEY (it is unset, a development placeholder or too "
    "short), so it only answers requests made on its own machine: with a known key anyone "
    "could forge its sessions. Set SECRET_KEY to a long random value, e.g. python -c "
    "'import secrets; print(secrets.token_hex(32))', kept in Secret Manager (or your "
    "platform's secret store), and restart the app.\n"
)


def secret_problem(secret: str | bytes | None) -> str | None:
    """Why ``secret`` cannot protect sessions in production, or ``None`` if it can.

    Never includes the secret itself (it ends up in logs).
    """
    text = secret.decode(errors="replace") if isinstance(secret, bytes) else secret
    if not isinstance(text, str) or text.strip().lower() in PLACEHOLDER_SECRETS:
        return (
            "SECRET_KEY is not set (or is a placeholder), and App Engine serves real "
            "users: sessions could be forged. Set it from the environment, e.g. "
            "app.config['SECRET_KEY'] = os.environ['SECRET_KEY'] with the value kept in "
            "Secret Manager (or an env_variables entry of a non-committed app.yaml), "
            "before calling gae.wrap(app)."
        )
    if len(text) < MIN_SECRET_LENGTH:
        return (
            f"SECRET_KEY is only {len(text)} characters long; use at least "
            f"{MIN_SECRET_LENGTH} random characters, e.g. python -c 'import secrets; "
            "print(secrets.token_hex(32))', stored in Secret Manager."
        )
    return None


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]").partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_loopback_host(host: str) -> bool:
    if host.startswith("["):  # "[::1]:8080"
        name = host[1 : host.find("]")] if "]" in host else host
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost") or _is_loopback(name)


def is_local_request(environ: WSGIEnvironment) -> bool:
    """Whether a request was made on this machine, to this machine, with no proxy between.

    The peer (``REMOTE_ADDR``, before any header is believed) is a loopback address (or
    absent: an in-process call such as a test or a benchmark; every server sets it, to
    ``""`` for a Unix socket, which a proxy is always in front of), the
    ``Host`` names a loopback host (``localhost``, ``*.localhost``, ``127.x.x.x``,
    ``[::1]``; another name means a page of another site reached the server through DNS
    rebinding) and no proxy header (``Forwarded``, ``X-Forwarded-For``,
    ``X-Forwarded-Host``, ``X-Real-IP``) is present. A reverse proxy on the same machine
    that adds none of those headers and rewrites ``Host`` to a loopback name is the one
    setup this cannot see through: such a deployment needs a real ``SECRET_KEY``.
    """
    peer = environ.get("REMOTE_ADDR")
    if peer is not None and not _is_loopback(str(peer)):
        return False
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
    if not _is_loopback_host(str(host)):
        return False
    return not any(environ.get(name) for name in PROXY_HEADERS)


class _ClosingBody:
    """The response body, with work to do once it has been sent.

    The work (leaving the ndb context, forgetting the trace) runs when the body is
    exhausted or closed, whichever comes first, and only once. A body that is neither
    (a test client response nobody read) is finished when the next request starts in the
    same thread, so nothing leaks from one request into the next.
    """

    __slots__ = ("_body", "_callbacks")

    def __init__(self, body: Iterable[bytes], callbacks: list[t.Callable[[], None]]) -> None:
        self._body = body
        self._callbacks: list[t.Callable[[], None]] | None = callbacks
        _unfinished.set(self)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._body
        self.finish()

    def finish(self) -> None:
        """Run the pending work now (idempotent)."""
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is None:
            return
        if _unfinished.get() is self:
            _unfinished.set(None)
        for callback in callbacks:
            callback()

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self.finish()


#: Marks a secret not judged yet (``None`` is a value to judge).
_UNJUDGED = object()

#: The body of this thread's previous request while its work is still pending.
_unfinished: ContextVar[_ClosingBody | None] = ContextVar("gae.unfinished", default=None)


class AppEngineMiddleware:
    """WSGI middleware around ``app.wsgi_app`` doing the per-request work."""

    def __init__(self, wsgi_app: WSGIApplication, extension: AppEngine) -> None:
        self.wsgi_app = wsgi_app
        self.extension = extension

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        ext = self.extension
        previous = _unfinished.get()
        if previous is not None:
            previous.finish()
        if ext.secret_is_weak() and not is_local_request(environ):
            return ext.refuse_remote(environ, start_response)
        if not ext._datastore_ok and ext.needs_datastore():
            problem = ext.datastore_problem()
            if problem is not None:
                return ext.refuse_without_datastore(problem, start_response)
        callbacks: list[t.Callable[[], None]] = []
        if ext.trust_headers:
            environ[TRUSTED_KEY] = True
            proto = environ.get("HTTP_X_FORWARDED_PROTO")
            if proto in {"http", "https"}:
                environ["wsgi.url_scheme"] = proto
            user_ip = environ.get("HTTP_X_APPENGINE_USER_IP")
            if user_ip:
                environ["gae.front_end_addr"] = environ.get("REMOTE_ADDR")
                environ["REMOTE_ADDR"] = user_ip
            trace = parse_trace(environ)
            if trace is not None:
                current_trace.set(trace)
                callbacks.append(_clear_trace)
        if ext.force_production and ext.app.config["DEBUG"]:
            ext.app.config["DEBUG"] = False
        ndb_context: RequestContext | None = None
        if ndb_in_use() and not environ.get("PATH_INFO", "").startswith(ext.ndb_skip_prefixes):
            ndb_context = RequestContext()
            ndb_context.enter()
            callbacks.append(ndb_context.exit)
        if not callbacks:
            return self.wsgi_app(environ, start_response)
        try:
            body = self.wsgi_app(environ, start_response)
        except BaseException:
            for callback in callbacks:
                callback()
            raise
        if type(body) is list or type(body) is tuple:
            # A buffered body is complete already: nothing left that could need the
            # context, so leave it now rather than when the server gets round to close().
            for callback in callbacks:
                callback()
            return body
        return _ClosingBody(body, callbacks)


def _clear_trace() -> None:
    current_trace.set(None)


class AppEngine:
    """The App Engine extension: ``AppEngine(app)``, or ``ext = AppEngine()`` then
    ``ext.init_app(app)`` in an app factory.

    ``app.config["GAE_TRUST_HEADERS"]`` (default: whether on App Engine) decides whether
    ``X-Appengine-*`` and ``X-Forwarded-Proto`` are believed; ``sessions=True`` stores
    sessions in Datastore (:mod:`gae.sessions`) and adds the cron cleanup URL;
    ``tasks=True`` adds the Cloud Tasks route of :mod:`gae.tasks` (``defer()``);
    ``settings`` replaces the environment's (for tests). ``GAE_NDB_SKIP_PREFIXES`` (default
    none) lists path prefixes served without an ndb context.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        settings: Settings | None = None,
        sessions: bool = False,
        tasks: bool = False,
    ) -> None:
        self._settings = settings
        self.use_datastore_sessions = sessions
        self.use_tasks = tasks
        self._warmup_hooks: list[t.Callable[[], t.Any]] = [
            self._warm_ndb,
            self._warm_templates,
        ]
        self._warmed = threading.Event()
        self._warm_lock = threading.Lock()
        self.app: Flask
        self.trust_headers = False
        self.force_production = False
        self.ndb_skip_prefixes: tuple[str, ...] = ()
        # SECRET_KEY as last judged (an app may set it after gae.wrap) and the verdict.
        self._judged_secret: object = _UNJUDGED
        self._weak_secret = True
        self._refusal_logged = False
        self._datastore_ok = False
        self._unavailable_logged = False
        if app is not None:
            self.init_app(app)

    @property
    def settings(self) -> Settings:
        """The runtime facts this extension acts on."""
        return self._settings if self._settings is not None else get_settings()

    def init_app(self, app: Flask) -> None:
        """Make ``app`` ready for App Engine (see the module documentation)."""
        if "appengine" in app.extensions:
            raise ConfigurationError(
                "This app already has the App Engine extension: call gae.wrap(app) or "
                "AppEngine(app) once (gae.wrap on a wrapped app returns it unchanged)."
            )
        # At start-up, not at the first request: an extension set up on the real Flask
        # (install_as_flask() missing from main.py) is reported in the instance's log.
        warn_if_mixed(app)
        settings = self.settings
        self.app = app
        app.extensions["appengine"] = self
        app.config.setdefault("GAE_TRUST_HEADERS", settings.on_app_engine)
        self.trust_headers = bool(app.config["GAE_TRUST_HEADERS"])
        # Paths served without an ndb context (it costs ~15 µs). None by default: even a
        # static file runs the app's before_request hooks and may save the session (a
        # Datastore session refreshes its expiry), which need one; list prefixes here only
        # for routes known to touch neither.
        app.config.setdefault("GAE_NDB_SKIP_PREFIXES", ())
        self.ndb_skip_prefixes = tuple(app.config["GAE_NDB_SKIP_PREFIXES"])
        self.force_production = settings.on_app_engine
        if settings.on_app_engine:
            self._enforce_production(app)
        elif self.needs_datastore():
            problem = self.datastore_problem()
            if problem is not None:
                # Said at start-up, where `framework run` shows it; every request that
                # would need Datastore is answered 503 with the same sentence. Not an
                # exception: tools that only import the app (`framework routes`,
                # `framework gae check`, a shell) must keep working without credentials.
                logger.warning("%s", problem)
        add_request_mixin(app, AppEngineRequestMixin, "AppEngine")
        app.add_url_rule("/_ah/warmup", "_ah_warmup", self._warmup_view)
        if self.use_datastore_sessions:
            from .sessions import DatastoreSessionInterface, register_cleanup_route

            app.session_interface = DatastoreSessionInterface()
            register_cleanup_route(app)
        if self.use_tasks:
            from .tasks import Tasks

            Tasks(app)
        app.wsgi_app = AppEngineMiddleware(app.wsgi_app, self)  # type: ignore[method-assign]

    # -- production safety -----------------------------------------------------------------

    def needs_datastore(self) -> bool:
        """Whether requests use Datastore: Datastore sessions, or ndb imported."""
        return self.use_datastore_sessions or ndb_in_use()

    def datastore_problem(self) -> str | None:
        """Why Datastore cannot be reached here (one sentence naming the fix), or ``None``.

        Off App Engine, with no emulator variables and no credentials, every request
        would end in a 500 (google.auth finds no credentials). Judged from the
        environment and two local files, without network; a client factory set by the
        app or its tests (:func:`gae.ndb.set_client_factory`) is trusted as is. Once
        Datastore is judged reachable the verdict is kept.
        """
        if self._datastore_ok:
            return None
        problem: str | None = None
        if not self.settings.on_app_engine and uses_default_client():
            from .credentials import credentials_problem

            problem = credentials_problem(get_settings())
        self._datastore_ok = problem is None
        return problem

    def refuse_without_datastore(
        self, problem: str, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer 503 with ``problem`` (what to start or set), logged once per process."""
        if not self._unavailable_logged:
            self._unavailable_logged = True
            logger.error("Answering 503: %s", problem)
        body = f"503 Service Unavailable: {problem}\n".encode()
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    def secret_is_weak(self) -> bool:
        """Whether ``SECRET_KEY`` is unset, a placeholder or too short (see
        :func:`secret_problem`); judged again whenever the configured value changes."""
        secret = self.app.config.get("SECRET_KEY")
        if secret is not self._judged_secret:
            self._weak_secret = secret_problem(secret) is not None
            self._judged_secret = secret
        return self._weak_secret

    def refuse_remote(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer a request from another machine while the secret is weak: a 403 saying
        why, logged once per process (without the secret)."""
        if not self._refusal_logged:
            self._refusal_logged = True
            logger.warning(
                "Refused a request from %s (Host %r): SECRET_KEY is unset, a placeholder or "
                "too short, so only requests made on this machine are served. Set a real "
                "SECRET_KEY to serve other clients.",
                environ.get("REMOTE_ADDR"),
                environ.get("HTTP_HOST"),
            )
        body = WEAK_SECRET_REFUSAL.encode()
        start_response(
            "403 Forbidden",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    def _enforce_production(self, app: Flask) -> None:
        problem = secret_problem(app.config.get("SECRET_KEY"))
        if problem is not None:
            raise ConfigurationError(problem)
        if app.config.get("DEBUG"):
            logger.warning("Debug mode is not allowed on App Engine; it has been turned off.")
        app.config["DEBUG"] = False
        # Unwrap an interactive debugger someone put around the app.
        from werkzeug.debug import DebuggedApplication

        while isinstance(app.wsgi_app, DebuggedApplication):
            logger.warning(
                "Removed werkzeug's interactive debugger: never expose it on App Engine."
            )
            app.wsgi_app = app.wsgi_app.app  # type: ignore[method-assign, assignment]
        defaults = {
            "SESSION_COOKIE_SECURE": (False, True),
            "SESSION_COOKIE_HTTPONLY": (False, True),
            "SESSION_COOKIE_SAMESITE": (None, "Lax"),
        }
        for key, (unset, value) in defaults.items():
            if app.config.get(key, unset) == unset:
                app.config[key] = value

    # -- warmup ----------------------------------------------------------------------------

    def warmup(self, f: F) -> F:
        """Register ``f()`` to run on the first ``/_ah/warmup`` request (or :meth:`warm`)."""
        self._warmup_hooks.append(f)
        return f

    def warm(self) -> bool:
        """Run the warmup hooks unless they already ran; whether this call ran them."""
        if self._warmed.is_set():
            return False
        with self._warm_lock:
            if self._warmed.is_set():
                return False
            for hook in self._warmup_hooks:
                hook()
            self._warmed.set()
            return True

    def _warmup_view(self) -> tuple[str, int, dict[str, str]]:
        ran = self.warm()
        return ("warmed up" if ran else "already warm"), 200, {"Content-Type": "text/plain"}

    def _warm_ndb(self) -> None:
        if ndb_in_use():
            get_client()

    def _warm_templates(self) -> None:
        app = self.app
        loader = app.jinja_env.loader
        if loader is None:
            return
        for name in loader.list_templates():
            if app.select_jinja_autoescape(name) or name.endswith((".txt", ".j2", ".jinja")):
                app.jinja_env.get_template(name)


def wrap(app: Flask, **options: t.Any) -> Flask:
    """Make ``app`` ready for App Engine and return it: ``app = gae.wrap(create_app())``.

    Wrapping an app that is already wrapped returns it unchanged (a factory may wrap and
    ``main.py`` wrap again); pass options on the first call.
    """
    if isinstance(app.extensions.get("appengine"), AppEngine):
        return app
    AppEngine(app, **options)
    return app

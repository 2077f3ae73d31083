"""Application and request contexts, and the helpers that work with them.

A request context holds the request, its URL adapter and, opened only on first use, its
session. Pushing it also pushes an application context when the right one is not already
active. Contexts are stacks of context-variable tokens, so a context may be pushed more than
once (``stream_with_context`` does) and the teardown runs when the last push is popped.
"""

from __future__ import annotations

import sys
import typing as t
from functools import update_wrapper

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as _BaseRequest

from . import signals
from .alias import is_installed, warn_if_mixed
from .globals import _cv_app, _cv_request

if t.TYPE_CHECKING:
    from contextvars import Token
    from types import TracebackType

    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.routing import MapAdapter

    from .app import Flask
    from .sessions import SessionMixin
    from .wrappers import Request

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

_sentinel: t.Any = object()
_base_close = _BaseRequest.close


def _check_mix(app: Flask) -> None:
    # Once per app, before its first context changes anything (so a warning turned into an
    # error leaves no context half pushed), when its extensions are set up: is any of them
    # on the real Flask? See framework.alias.
    app._mix_checked = True
    warn_if_mixed(app)


class _AppCtxGlobals:
    """The ``g`` namespace: a plain object for data that lives as long as the app context."""

    def get(self, name: str, default: t.Any | None = None) -> t.Any:
        """Return attribute ``name``, or ``default`` when it is not set."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: t.Any = _sentinel) -> t.Any:
        """Remove and return ``name``; without a default, a missing name raises KeyError."""
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: t.Any = None) -> t.Any:
        """Return ``name``, first setting it to ``default`` when it is not set."""
        return self.__dict__.setdefault(name, default)

    def __getattr__(self, name: str) -> t.Any:
        # Only called for missing names: report them as the attribute error they are.
        raise AttributeError(name) from None

    def __setattr__(self, name: str, value: t.Any) -> None:
        self.__dict__[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_app.get(None)
        if ctx is not None:
            # Named as imported: ``flask.g`` under install_as_flask().
            return f"<{'flask' if is_installed() else 'framework'}.g of '{ctx.app.name}'>"
        return object.__repr__(self)


class AppContext:
    """Binds an application to the current thread or task: ``current_app`` and ``g``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.url_adapter: MapAdapter | None = app.create_url_adapter(None)
        self.g: _AppCtxGlobals = app.app_ctx_globals_class()
        self._cv_tokens: list[Token[AppContext]] = []

    def push(self) -> None:
        """Make this the current application context."""
        app = self.app
        if not app._mix_checked:
            _check_mix(app)
        self._cv_tokens.append(_cv_app.set(self))
        if signals.appcontext_pushed.receivers:
            signals.appcontext_pushed.send(self.app, _async_wrapper=self.app.ensure_sync)

    def pop(self, exc: BaseException | None = _sentinel) -> None:
        """Pop this context; the last pop runs the app-context teardown functions."""
        try:
            if len(self._cv_tokens) == 1:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                self.app.do_teardown_appcontext(exc)
        finally:
            ctx = _cv_app.get()
            _cv_app.reset(self._cv_tokens.pop())
        if ctx is not self:
            raise AssertionError(
                f"Popped the wrong application context ({ctx!r} instead of {self!r}): "
                "push and pop contexts in matching pairs, or use 'with app.app_context():'."
            )
        if signals.appcontext_popped.receivers:
            signals.appcontext_popped.send(self.app, _async_wrapper=self.app.ensure_sync)

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of '{self.app.name}'>"


class RequestContext:
    """Everything about one request: the request, its URL adapter, flashes and session.

    The session is opened the first time something reads :attr:`session`, so requests that
    never use it do not pay for cookie parsing or signature checks.
    """

    def __init__(
        self,
        app: Flask,
        environ: WSGIEnvironment,
        request: Request | None = None,
        session: SessionMixin | None = None,
    ) -> None:
        self.app = app
        if not app._mix_checked:
            _check_mix(app)
        if request is None:
            request = app.request_class(environ)
            request.json_module = app.json
        self.request: Request = request
        self.url_adapter: MapAdapter | None = None
        try:
            self.url_adapter = app.create_url_adapter(request)
        except HTTPException as e:
            request.routing_exception = e
        self.flashes: list[tuple[str, str]] | None = None
        self._session: SessionMixin | None = session
        self._after_request_functions: list[t.Callable[[t.Any], t.Any]] = []
        self._cv_tokens: list[tuple[Token[RequestContext], AppContext | None]] = []

    @property
    def session(self) -> SessionMixin:
        """The session, opened through ``app.session_interface`` on first access.

        Every access marks the session as accessed, so the response gets ``Vary: Cookie``
        (as in Flask 3.1.3): even ``"key" in session`` makes the response depend on it.
        """
        sess = self._session
        if sess is None:
            sess = self.open_session()
        sess.accessed = True
        return sess

    @session.setter
    def session(self, value: SessionMixin) -> None:
        self._session = value

    def open_session(self) -> SessionMixin:
        """Open the session now (without marking it accessed) and keep it for the request."""
        sess = self._session
        if sess is None:
            interface = self.app.session_interface
            sess = interface.open_session(self.app, self.request)
            if sess is None:
                sess = interface.make_null_session(self.app)
            self._session = sess
        return sess

    @property
    def session_opened(self) -> bool:
        """Whether anything has opened (or assigned) the session for this request yet."""
        return self._session is not None

    def copy(self) -> RequestContext:
        """A new context for the same request and the same session object.

        Used by :func:`copy_current_request_context` to hand the request to a greenlet or
        thread; the session is opened now so both contexts share one object.
        """
        return type(self)(self.app, self.request.environ, self.request, self.session)

    def match_request(self) -> None:
        """Route the request, recording the rule and arguments or the routing error."""
        try:
            rule, args = self.url_adapter.match(return_rule=True)  # type: ignore[union-attr]
        except HTTPException as e:
            self.request.routing_exception = e
        else:
            self.request.url_rule = rule
            self.request.view_args = args  # type: ignore[assignment]

    def push(self) -> None:
        """Make this the current request (pushing an app context if needed) and route it."""
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not self.app:
            app_ctx = self.app.app_context()
            app_ctx.push()
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        if self.url_adapter is not None:
            self.match_request()

    def pop(self, exc: BaseException | None = _sentinel) -> None:
        """Pop this context; the last pop runs teardown functions and closes the request."""
        clear_request = len(self._cv_tokens) == 1
        try:
            if clear_request:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                self.app.do_teardown_request(exc)
                request = self.request
                # Closing only matters once uploaded files were parsed (or a subclass
                # closes something of its own).
                if "files" in request.__dict__ or type(request).close is not _base_close:
                    request.close()
        finally:
            ctx = _cv_request.get()
            token, app_ctx = self._cv_tokens.pop()
            _cv_request.reset(token)
            if clear_request:
                # Break the reference cycle werkzeug keeps for debugging.
                ctx.request.environ["werkzeug.request"] = None
            if app_ctx is not None:
                app_ctx.pop(exc)
        if ctx is not self:
            raise AssertionError(
                f"Popped the wrong request context ({ctx!r} instead of {self!r}): "
                "push and pop contexts in matching pairs, or use 'with' blocks."
            )

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.request.url!r}"
            f" [{self.request.method}] of {self.app.name}>"
        )


def has_request_context() -> bool:
    """Whether a request context is active (``request`` and ``session`` are usable)."""
    return _cv_request.get(None) is not None


def has_app_context() -> bool:
    """Whether an application context is active (``current_app`` and ``g`` are usable)."""
    return _cv_app.get(None) is not None


def after_this_request(f: F) -> F:
    """Run ``f(response)`` after the current request; it must return a response object."""
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'after_this_request' needs an active request context: call it from a view "
            "function, a before_request hook or inside 'app.test_request_context()'."
        )
    ctx._after_request_functions.append(f)
    return f


def copy_current_request_context(f: F) -> F:
    """Decorate ``f`` so that it runs inside a copy of the current request context.

    Use it for work handed to a thread or greenlet that needs ``request`` or ``session``.
    """
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'copy_current_request_context' needs an active request context: use it inside "
            "a view function or 'app.test_request_context()'."
        )
    copied = ctx.copy()

    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        with copied:
            return copied.app.ensure_sync(f)(*args, **kwargs)

    return update_wrapper(wrapper, f)  # type: ignore[return-value]

"""Request handling for :class:`~framework.Flask`: the path from WSGI call to response.

``wsgi_app`` pushes a request context, runs the hooks and the view, turns the return value
into a response, handles errors through the registered handlers and tears down. Hot paths
avoid work nobody asked for: signals are sent only when they have receivers, hook tables
are only walked for scopes that registered something, and the session is saved only when
something opened it.
"""

from __future__ import annotations

import collections.abc as cabc
import sys
import typing as t
from inspect import iscoroutinefunction

from werkzeug.datastructures import Headers
from werkzeug.exceptions import (
    BadRequest,
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
)
from werkzeug.routing import RequestRedirect, RoutingException
from werkzeug.wrappers import Response as BaseResponse

from . import signals
from .ctx import _sentinel
from .globals import _cv_request
from .scaffold import Scaffold

if t.TYPE_CHECKING:
    import logging

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from . import typing as ft
    from .app import Flask
    from .config import Config
    from .ctx import RequestContext
    from .json.provider import JSONProvider
    from .sessions import SessionInterface
    from .wrappers import Response


class FormDataRoutingRedirect(AssertionError):
    """Raised in debug mode when a redirect for a missing trailing slash would drop a body."""

    def __init__(self, request: t.Any) -> None:
        exc = request.routing_exception
        super().__init__(
            f"A request was sent to {request.url!r}, but routing issued a redirect to the "
            f"canonical URL {exc.new_url!r}, and browsers do not resend form data on a "
            f"{exc.code} redirect. Send the {request.method} request to the canonical URL "
            "directly (with or without the trailing slash as the route defines it). This "
            "check only runs in debug mode."
        )


class DispatchMixin(Scaffold):
    """The request-handling half of the application class."""

    if t.TYPE_CHECKING:
        # Provided by the application class.
        config: Config
        json: JSONProvider
        response_class: type[Response]
        session_interface: SessionInterface
        teardown_appcontext_funcs: list[ft.TeardownCallable]
        _got_first_request: bool

        @property
        def debug(self) -> bool: ...

        @property
        def testing(self) -> bool: ...

        @property
        def logger(self) -> logging.Logger: ...

        def request_context(self, environ: WSGIEnvironment) -> RequestContext: ...

        def log_exception(
            self,
            exc_info: tuple[type, BaseException, t.Any] | tuple[None, None, None],
        ) -> None: ...

    # -- sync/async bridging ---------------------------------------------------------------

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """Return a synchronous callable for ``func`` (coroutine functions get wrapped)."""
        if iscoroutinefunction(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(
        self, func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]
    ) -> t.Callable[..., t.Any]:
        """Wrap a coroutine function to run to completion in the current thread."""
        try:
            from asgiref.sync import async_to_sync as asgiref_async_to_sync
        except ImportError:
            raise RuntimeError(
                f"{getattr(func, '__qualname__', func)!r} is an async function, which needs "
                "asgiref: pip install 'gae-framework[async]' (or pip install asgiref)."
            ) from None
        return asgiref_async_to_sync(func)

    # -- the request path ------------------------------------------------------------------

    def wsgi_app(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> cabc.Iterable[bytes]:
        """Handle one WSGI request. Wrap this (not the app) with WSGI middleware."""
        ctx = self.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                response = self.full_dispatch_request()
            except Exception as e:
                error = e
                response = self.handle_exception(e)
            except BaseException:
                error = sys.exc_info()[1]
                raise
            return response(environ, start_response)
        finally:
            if "werkzeug.debug.preserve_context" in environ:
                from .globals import _cv_app

                environ["werkzeug.debug.preserve_context"](_cv_app.get())
                environ["werkzeug.debug.preserve_context"](_cv_request.get())
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)

    def full_dispatch_request(self) -> Response:
        """Run before-request hooks and the view, then finalize the response."""
        self._got_first_request = True
        try:
            if signals.request_started.receivers:
                signals.request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def preprocess_request(self) -> ft.ResponseReturnValue | None:
        """Run URL value preprocessors and ``before_request`` hooks (app, then blueprints).

        The first hook to return a value ends the request with that value.
        """
        preprocessors = self.url_value_preprocessors
        befores = self.before_request_funcs
        if not preprocessors and not befores:
            return None
        request = _cv_request.get().request
        names = (None, *reversed(request.blueprints))
        for name in names:
            if name in preprocessors:
                for url_func in preprocessors[name]:
                    url_func(request.endpoint, request.view_args)
        for name in names:
            if name in befores:
                for before_func in befores[name]:
                    rv = self.ensure_sync(before_func)()
                    if rv is not None:
                        return rv  # type: ignore[no-any-return]
        return None

    def dispatch_request(self) -> ft.ResponseReturnValue:
        """Call the view for the matched rule (or raise the routing error)."""
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = t.cast("t.Any", req.url_rule)
        if req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response()
        view = self.view_functions[rule.endpoint]
        return self.ensure_sync(view)(**req.view_args)  # type: ignore[arg-type, no-any-return]

    def raise_routing_exception(self, request: t.Any) -> t.NoReturn:
        """Raise the routing error; in debug, explain redirects that would lose a body."""
        exc = request.routing_exception
        if (
            not self.debug
            or not isinstance(exc, RequestRedirect)
            or exc.code in {307, 308}
            or request.method in {"GET", "HEAD", "OPTIONS"}
        ):
            raise exc
        raise FormDataRoutingRedirect(request)

    def make_default_options_response(self) -> Response:
        """The automatic ``OPTIONS`` answer: an empty response with ``Allow``."""
        adapter = _cv_request.get().url_adapter
        methods = adapter.allowed_methods()  # type: ignore[union-attr]
        rv = self.response_class()
        rv.allow.update(methods)
        return rv

    def finalize_request(
        self, rv: ft.ResponseReturnValue | HTTPException, from_error_handler: bool = False
    ) -> Response:
        """Make the response, run after-request processing and ``request_finished``."""
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            if signals.request_finished.receivers:
                signals.request_finished.send(
                    self, _async_wrapper=self.ensure_sync, response=response
                )
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def process_response(self, response: Response) -> Response:
        """Run ``after_this_request`` and ``after_request`` functions; save the session."""
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        afters = self.after_request_funcs
        if afters:
            for name in (*ctx.request.blueprints, None):
                if name in afters:
                    for func in reversed(afters[name]):
                        response = self.ensure_sync(func)(response)
        self._save_session(ctx, response)
        return response

    def _save_session(self, ctx: RequestContext, response: Response) -> None:
        app = t.cast("Flask", self)
        interface = self.session_interface
        if not ctx.session_opened:
            # An untouched session needs saving only to refresh a permanent cookie.
            refresh_needed = getattr(interface, "refresh_needed", None)
            if refresh_needed is not None and not refresh_needed(app, ctx.request):
                return
        session = ctx.open_session()
        if not interface.is_null_session(session):
            interface.save_session(app, session, response)

    def do_teardown_request(self, exc: BaseException | None = _sentinel) -> None:
        """Run ``teardown_request`` functions (blueprints first, in reverse order)."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        teardowns = self.teardown_request_funcs
        if teardowns:
            for name in (*_cv_request.get().request.blueprints, None):
                if name in teardowns:
                    for func in reversed(teardowns[name]):
                        self.ensure_sync(func)(exc)
        if signals.request_tearing_down.receivers:
            signals.request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _sentinel) -> None:
        """Run ``teardown_appcontext`` functions in reverse order of registration."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        if signals.appcontext_tearing_down.receivers:
            signals.appcontext_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    # -- return values to responses --------------------------------------------------------

    def make_response(self, rv: ft.ResponseReturnValue | HTTPException) -> Response:
        """Convert a view's return value into :attr:`response_class`.

        Accepted: ``str``/``bytes``/``bytearray`` (the body), ``dict``/``list`` (JSON), an
        iterator or generator (streamed body), a response object, any WSGI callable, or a
        tuple ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``.
        """
        status: t.Any = None
        headers: t.Any = None
        if isinstance(rv, tuple):
            if len(rv) == 3:
                rv, status, headers = rv
            elif len(rv) == 2:
                if isinstance(rv[1], Headers | dict | tuple | list):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    "The tuple must have the form (body, status, headers), (body, status) "
                    f"or (body, headers): the view for {self._current_endpoint()!r} returned "
                    f"a tuple of {len(rv)} items."
                )
        if rv is None:
            raise TypeError(
                f"The view for {self._current_endpoint()!r} returned None (or ended without "
                "a return statement); return a string, dict, list, tuple or response object."
            )
        response_class = self.response_class
        if not isinstance(rv, response_class):
            if isinstance(rv, str | bytes | bytearray | cabc.Iterator):
                response = response_class(rv, status=status, headers=headers)
                status = headers = None
            elif isinstance(rv, dict | list):
                response = self.json.response(rv)
            elif isinstance(rv, HTTPException):
                # The error's own response, re-classed: the same status, headers and body
                # as running it as a WSGI app, without buffering it through one.
                response = response_class.force_type(  # type: ignore[assignment]
                    rv.get_response(_cv_request.get().request.environ)
                )
            elif isinstance(rv, BaseResponse) or callable(rv):
                try:
                    response = response_class.force_type(  # type: ignore[assignment]
                        rv,  # type: ignore[arg-type]
                        _cv_request.get().request.environ,
                    )
                except TypeError as e:
                    raise TypeError(
                        f"The view for {self._current_endpoint()!r} returned a "
                        f"{type(rv).__name__} that is not a valid response ({e}); return a "
                        "string, dict, list, tuple, response object or WSGI callable."
                    ).with_traceback(sys.exc_info()[2]) from None
            else:
                raise TypeError(
                    f"The view for {self._current_endpoint()!r} returned a "
                    f"{type(rv).__name__}, which cannot be turned into a response; return a "
                    "string, dict, list, tuple, response object or WSGI callable."
                )
        else:
            response = rv
        if status is not None:
            if isinstance(status, str | bytes | bytearray):
                response.status = status  # type: ignore[assignment]
            else:
                response.status_code = status
        if headers:
            response.headers.update(headers)
        return response

    def _current_endpoint(self) -> str | None:
        ctx = _cv_request.get(None)
        return ctx.request.endpoint if ctx is not None else None

    # -- errors ----------------------------------------------------------------------------

    def _find_error_handler(
        self, e: BaseException, blueprints: list[str]
    ) -> ft.ErrorHandlerCallable | None:
        """The most specific handler for ``e``: by code, then class; blueprints before app."""
        spec = self.error_handler_spec
        if not spec:
            return None
        exc_class, code = self._get_exc_class_and_code(type(e))  # type: ignore[arg-type]
        names = (*blueprints, None)
        for c in (code, None) if code is not None else (None,):
            for name in names:
                if name not in spec:
                    continue
                handler_map = spec[name].get(c)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def trap_http_exception(self, e: Exception) -> bool:
        """Whether an HTTP error should propagate like an unhandled error (debugging aid)."""
        config = self.config
        if config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None and self.debug and isinstance(e, BadRequestKeyError):
            return True
        if trap_bad_request:
            return isinstance(e, BadRequest)
        return False

    def handle_http_exception(self, e: HTTPException) -> HTTPException | ft.ResponseReturnValue:
        """Pass an HTTP error to its handler, or return it as the response."""
        if e.code is None or isinstance(e, RoutingException):
            return e
        ctx = _cv_request.get(None)
        blueprints = ctx.request.blueprints if ctx is not None else []
        handler = self._find_error_handler(e, blueprints)
        if handler is None:
            return e
        return self.ensure_sync(handler)(e)  # type: ignore[no-any-return]

    def handle_user_exception(self, e: Exception) -> HTTPException | ft.ResponseReturnValue:
        """Handle an error raised by a hook or view; re-raise when no handler wants it."""
        if isinstance(e, BadRequestKeyError) and (
            self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]
        ):
            e.show_exception = True
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            return self.handle_http_exception(e)
        ctx = _cv_request.get(None)
        blueprints = ctx.request.blueprints if ctx is not None else []
        handler = self._find_error_handler(e, blueprints)
        if handler is None:
            raise  # noqa: PLE0704
        return self.ensure_sync(handler)(e)  # type: ignore[no-any-return]

    def handle_exception(self, e: Exception) -> Response:
        """Turn an unhandled error into a 500 (propagating it in debug and testing)."""
        exc_info = sys.exc_info()
        if signals.got_request_exception.receivers:
            signals.got_request_exception.send(self, _async_wrapper=self.ensure_sync, exception=e)
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
        if propagate:
            if exc_info[1] is e:
                raise  # noqa: PLE0704
            raise e
        self.log_exception(exc_info)
        server_error: InternalServerError | ft.ResponseReturnValue = InternalServerError(
            original_exception=e
        )
        ctx = _cv_request.get(None)
        blueprints = ctx.request.blueprints if ctx is not None else []
        handler = self._find_error_handler(t.cast(Exception, server_error), blueprints)
        if handler is not None:
            server_error = self.ensure_sync(handler)(server_error)
        return self.finalize_request(server_error, from_error_handler=True)

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Whether teardown functions should not see ``error`` (never, by default)."""
        return False

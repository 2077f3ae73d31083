"""Testing helpers: the test client, its environment builder and the CLI runner.

``app.test_client()`` sends requests straight to the WSGI app, keeps cookies between
requests, can follow redirects, and lets a test edit the session with
``session_transaction()``. ``with client:`` keeps the last request's context pushed after
each request so ``request``, ``session`` and ``g`` can be inspected.
"""

from __future__ import annotations

import io
import typing as t
import weakref
from contextlib import ExitStack, contextmanager
from copy import copy
from functools import cache
from types import TracebackType
from urllib.parse import urlsplit

import werkzeug.test
from click.testing import CliRunner, Result
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request as BaseRequest

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .app import Flask
    from .sessions import SessionMixin


@cache
def _werkzeug_version() -> str:
    from importlib.metadata import version

    return version("werkzeug")


class EnvironBuilder(werkzeug.test.EnvironBuilder):
    """werkzeug's ``EnvironBuilder`` with defaults taken from the application.

    The host defaults to ``SERVER_NAME`` (else ``localhost``), the path is placed under
    ``APPLICATION_ROOT`` and the scheme is ``PREFERRED_URL_SCHEME``. JSON bodies are encoded
    with the app's JSON provider.
    """

    def __init__(
        self,
        app: Flask,
        path: str = "/",
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        *args: t.Any,
        **kwargs: t.Any,
    ) -> None:
        if base_url is not None and (subdomain or url_scheme):
            # AssertionError, as in Flask, so code catching it there keeps working.
            raise AssertionError(
                "Pass either 'base_url' or 'subdomain'/'url_scheme', not both: base_url "
                "already contains the host and scheme."
            )
        if base_url is None:
            parts = urlsplit(path)
            host = parts.netloc or app.config.get("SERVER_NAME") or "localhost"
            if subdomain and not parts.netloc:
                host = f"{subdomain}.{host}"
            scheme = parts.scheme or url_scheme or app.config["PREFERRED_URL_SCHEME"]
            root = app.config["APPLICATION_ROOT"].lstrip("/")
            base_url = f"{scheme}://{host}/{root}"
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.app = app
        super().__init__(path, base_url, *args, **kwargs)

    def json_dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Encode a ``json=`` body with the app's JSON provider."""
        return self.app.json.dumps(obj, **kwargs)


def _capture_environ(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("204 No Content", [])
    return []


class FlaskClient(werkzeug.test.Client):
    """The test client returned by :meth:`Flask.test_client`."""

    application: Flask

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.preserve_context = False
        self._new_contexts: list[t.ContextManager[t.Any]] = []
        self._context_stack = ExitStack()
        #: Defaults for every request's WSGI environment; tests may change them.
        self.environ_base: dict[str, t.Any] = {
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": f"Werkzeug/{_werkzeug_version()}",
        }

    @contextmanager
    def session_transaction(self, *args: t.Any, **kwargs: t.Any) -> t.Iterator[SessionMixin]:
        """Open the client's session for editing; changes are stored when the block ends.

        Arguments are those of :meth:`Flask.test_request_context` (for a session tied to a
        particular path or host).
        """
        try:
            self.get_cookie("")
        except TypeError:
            raise TypeError(
                "Cookies are disabled. session_transaction() needs them: create the client "
                "with app.test_client(use_cookies=True)."
            ) from None
        app = self.application
        # Two trips through werkzeug's own cookie handling (Client.open) with a stand-in
        # WSGI app: the first hands over the cookies the client would send to this URL,
        # the second stores the cookies the saved session sets, as a response would.
        environ = self._through_cookie_jar(_capture_environ, args, kwargs).request.environ
        ctx = app.request_context(environ)
        interface = app.session_interface
        with ctx:
            sess = interface.open_session(app, ctx.request)
        if sess is None:
            raise RuntimeError(
                "Session backend did not open a session. Check the configuration: set "
                "app.secret_key (or a session interface that opens sessions) before using "
                "session_transaction()."
            )
        yield sess
        if interface.is_null_session(sess):
            return
        resp = app.response_class()
        with ctx:
            interface.save_session(app, sess, resp)
        self._through_cookie_jar(resp, args, kwargs)

    def _through_cookie_jar(
        self, wsgi: WSGIApplication, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
    ) -> TestResponse:
        builder = EnvironBuilder(self.application, *args, **kwargs)
        try:
            request = builder.get_request()
        finally:
            builder.close()
        app = self.application
        self.application = wsgi  # type: ignore[assignment]
        try:
            return super().open(request)
        finally:
            self.application = app

    def _copy_environ(self, other: WSGIEnvironment) -> WSGIEnvironment:
        out = {**self.environ_base, **other}
        if self.preserve_context:
            out["werkzeug.debug.preserve_context"] = self._new_contexts.append
        return out

    def _request_from_builder_args(
        self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
    ) -> BaseRequest:
        kwargs["environ_base"] = self._copy_environ(kwargs.get("environ_base", {}))
        builder = EnvironBuilder(self.application, *args, **kwargs)
        try:
            return builder.get_request()
        finally:
            builder.close()

    def open(
        self,
        *args: t.Any,
        buffered: bool = False,
        follow_redirects: bool = False,
        **kwargs: t.Any,
    ) -> TestResponse:
        """Send a request; takes :class:`EnvironBuilder` arguments, a builder, an environ
        dict or a request object."""
        first = args[0] if args else None
        if isinstance(first, werkzeug.test.EnvironBuilder):
            builder = copy(first)
            builder.environ_base = self._copy_environ(dict(builder.environ_base or {}))
            request = builder.get_request()
        elif isinstance(first, dict):
            request = EnvironBuilder.from_environ(
                first, app=self.application, environ_base=self._copy_environ({})
            ).get_request()
        elif isinstance(first, BaseRequest):
            request = copy(first)
            request.environ = self._copy_environ(request.environ)
        else:
            request = self._request_from_builder_args(args, kwargs)

        # Contexts preserved by the previous request end when the next one starts.
        self._context_stack.close()
        response = super().open(request, buffered=buffered, follow_redirects=follow_redirects)
        response.json_module = self.application.json  # type: ignore[assignment]
        self._close_input(request, response)
        # In the order preserved (app context, then request context), so the request context
        # reuses the app context instead of pushing, and later tearing down, another one.
        for context in self._new_contexts:
            self._context_stack.enter_context(context)
        self._new_contexts.clear()
        return response

    @staticmethod
    def _close_input(request: BaseRequest, response: TestResponse) -> None:
        # werkzeug spools large request bodies (file uploads) to a temporary file that is
        # closed only by response.close(), which tests rarely call, so it warns when
        # collected. A streamed body may still read the request, so the file stays open as
        # long as the response object lives, and is closed with it.
        stream = request.environ.get("wsgi.input")
        close = getattr(stream, "close", None)
        if close is None or isinstance(stream, io.BytesIO):
            return
        weakref.finalize(response, close)

    def __enter__(self) -> FlaskClient:
        if self.preserve_context:
            raise RuntimeError("This test client is already in a 'with' block; do not nest them.")
        self.preserve_context = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.preserve_context = False
        self._context_stack.close()


class FlaskCliRunner(CliRunner):
    """Invokes an app's CLI commands in tests (see :meth:`Flask.test_cli_runner`)."""

    def __init__(self, app: Flask, **kwargs: t.Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(  # type: ignore[override]
        self, cli: t.Any = None, args: t.Any = None, **kwargs: t.Any
    ) -> Result:
        """Run ``cli`` (default: the app's command group) with ``args``."""
        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            from .cli import ScriptInfo

            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)

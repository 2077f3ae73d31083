"""Helpers used from views: ``url_for``, ``redirect``, ``abort``, ``flash``, file sending.

Each one works through the current application when there is one, so an app's
``response_class``, ``aborter`` and URL rules are honoured.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import typing as t
from datetime import datetime
from functools import update_wrapper

import werkzeug.utils
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.utils import redirect as _werkzeug_redirect

from . import signals
from .globals import _cv_app, _cv_request, current_app, request, request_ctx, session

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

    from .wrappers import Response

_TRUE_VALUES = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_VALUES = frozenset({"0", "false", "f", "no", "n", "off", ""})


def get_debug_flag() -> bool:
    """Whether ``FLASK_DEBUG`` asks for debug mode."""
    value = os.environ.get("FLASK_DEBUG")
    if not value:
        return False
    return value.lower() not in _FALSE_VALUES


def get_load_dotenv(default: bool = True) -> bool:
    """Whether to load ``.env`` files: ``default`` unless ``FLASK_SKIP_DOTENV`` says not."""
    value = os.environ.get("FLASK_SKIP_DOTENV")
    if not value:
        return default
    return value.lower() in _FALSE_VALUES


def get_root_path(import_name: str) -> str:
    """The folder of a module or package, used as an app or blueprint's root path."""
    module = sys.modules.get(import_name)
    if module is not None and getattr(module, "__file__", None) is not None:
        return os.path.dirname(os.path.abspath(t.cast(str, module.__file__)))
    try:
        spec = importlib.util.find_spec(import_name)
        if spec is None:
            raise ValueError
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None or spec.origin in {"namespace", "built-in"}:
        if spec is not None and spec.submodule_search_locations:
            return os.path.abspath(next(iter(spec.submodule_search_locations)))
        if import_name == "__main__" or spec is None:
            return os.getcwd()
        raise RuntimeError(
            f"No root path can be found for {import_name!r}: it is a namespace package or "
            "an interactive session. Pass 'root_path=...' explicitly."
        )
    return os.path.dirname(os.path.abspath(spec.origin))


def _endpoint_from_view_func(view_func: t.Callable[..., t.Any] | None) -> str:
    """The default endpoint of a view: its function name (Flask's helper, which extensions
    such as Flask-RESTX import from ``flask.helpers`` or ``flask.sansio.scaffold``)."""
    if view_func is None:
        raise TypeError(
            "add_url_rule() needs a view function when no endpoint is given: pass "
            "'view_func=...' or 'endpoint=...'."
        )
    return view_func.__name__


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: t.Any,
) -> str:
    """Build the URL of ``endpoint`` with ``values``; see :meth:`Flask.url_for`."""
    return current_app.url_for(
        endpoint,
        _anchor=_anchor,
        _method=_method,
        _scheme=_scheme,
        _external=_external,
        **values,
    )


def redirect(
    location: str, code: int = 302, Response: type[BaseResponse] | None = None
) -> BaseResponse:
    """A redirect response to ``location``, made by the current app when there is one."""
    ctx = _cv_app.get(None)
    if ctx is not None and Response is None:
        return ctx.app.redirect(location, code=code)
    return _werkzeug_redirect(location, code=code, Response=Response)


def abort(code: int | BaseResponse, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    """Raise the HTTP error for ``code`` (through the app's ``aborter`` when active)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.aborter(code, *args, **kwargs)
    _werkzeug_abort(code, *args, **kwargs)


def make_response(*args: t.Any) -> Response:
    """Turn a view's return value into a response object, to add headers in a view.

    No argument gives an empty response; one argument or several (a tuple) are passed to
    :meth:`Flask.make_response`.
    """
    if not args:
        return current_app.response_class()
    if len(args) == 1:
        return current_app.make_response(args[0])
    return current_app.make_response(args)


def flash(message: str, category: str = "message") -> None:
    """Store a message in the session for the next request (see get_flashed_messages)."""
    flashes = session.get("_flashes", [])
    flashes.append((category, message))
    session["_flashes"] = flashes
    if signals.message_flashed.receivers:
        app = _cv_app.get().app
        signals.message_flashed.send(
            app, _async_wrapper=app.ensure_sync, message=message, category=category
        )


def get_flashed_messages(
    with_categories: bool = False, category_filter: t.Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """Pull the flashed messages out of the session (once per request; later calls repeat).

    With ``with_categories`` the items are ``(category, message)`` pairs;
    ``category_filter`` keeps only the listed categories.
    """
    flashes = request_ctx.flashes
    if flashes is None:
        flashes = session.pop("_flashes") if "_flashes" in session else []
        request_ctx.flashes = flashes
    if category_filter:
        wanted = set(category_filter)
        flashes = [item for item in flashes if item[0] in wanted]
    if with_categories:
        return [(category, message) for category, message in flashes]
    return [message for _, message in flashes]


def stream_with_context(
    generator_or_function: t.Iterator[t.AnyStr] | t.Callable[..., t.Iterator[t.AnyStr]],
) -> t.Iterator[t.AnyStr]:
    """Keep the request context alive while a streamed response's generator runs.

    Wrap a generator (or decorate a generator function) returned from a view; inside it,
    ``request``, ``session`` and ``g`` stay usable until the last chunk has been sent.
    """
    try:
        gen = iter(generator_or_function)  # type: ignore[arg-type]
    except TypeError:
        func = t.cast(t.Callable[..., t.Iterator[t.AnyStr]], generator_or_function)

        def decorator(*args: t.Any, **kwargs: t.Any) -> t.Any:
            return stream_with_context(func(*args, **kwargs))

        return update_wrapper(decorator, func)  # type: ignore[return-value]

    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'stream_with_context' needs an active request context: call it inside the "
            "view function that returns the stream."
        )
    app_ctx = _cv_app.get()

    def generator() -> t.Iterator[t.AnyStr | None]:
        # As in Flask 3.1.3: the contexts are pushed again only once the server iterates the
        # body, so the pop after the view still runs the teardown functions, and the pop at
        # the end of the stream runs them a second time. The app context goes first, so the
        # request context reuses it instead of pushing a new one.
        yield None
        with app_ctx, req_ctx:
            try:
                yield from gen
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

    wrapped = generator()
    next(wrapped)
    return wrapped  # type: ignore[return-value]


def send_file(
    path_or_file: os.PathLike[t.AnyStr] | str | t.BinaryIO,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | t.Callable[[str | None], int | None] | None = None,
) -> Response:
    """Send a file (path or binary file object) with caching and range support.

    Relative paths are relative to the application's root path. ``max_age`` defaults to
    the app's :meth:`~Flask.get_send_file_max_age`.
    """
    app = current_app
    return werkzeug.utils.send_file(  # type: ignore[return-value]
        path_or_file,  # type: ignore[arg-type]
        request.environ,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=conditional,
        etag=etag,
        last_modified=last_modified,
        max_age=app.get_send_file_max_age if max_age is None else max_age,
        use_x_sendfile=app.config["USE_X_SENDFILE"],
        response_class=app.response_class,
        _root_path=app.root_path,
    )


def send_from_directory(
    directory: os.PathLike[str] | str,
    path: os.PathLike[str] | str,
    **kwargs: t.Any,
) -> Response:
    """Send ``path`` from inside ``directory``; anything resolving outside it is a 404.

    Use this, never :func:`send_file`, for paths that come from the user.
    """
    app = current_app
    kwargs.setdefault("max_age", app.get_send_file_max_age)
    kwargs.setdefault("use_x_sendfile", app.config["USE_X_SENDFILE"])
    kwargs.setdefault("response_class", app.response_class)
    return werkzeug.utils.send_from_directory(  # type: ignore[return-value]
        directory, path, request.environ, _root_path=app.root_path, **kwargs
    )


def get_template_attribute(template_name: str, attribute: str) -> t.Any:
    """A macro or variable a template exports, e.g. to call a macro from Python.

    ``get_template_attribute("_macros.html", "hello")("World")``; needs an app context.
    """
    return getattr(current_app.jinja_env.get_template(template_name).module, attribute)

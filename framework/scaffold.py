"""Registration shared by the application and blueprints.

Routes, request hooks, URL processors, template context processors and error handlers are
stored per *scope*: ``None`` for the application, a blueprint's dotted name for that
blueprint. A :class:`Scaffold` records into its own scope; the application consults the
scopes of the current request's blueprints, innermost first, then its own.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import typing as t
from collections import defaultdict
from functools import cached_property, update_wrapper

from werkzeug.exceptions import HTTPException, default_exceptions

from . import typing as ft

# Flask 2 kept this helper here; extensions (Flask-RESTX) still import it as flask.scaffold.
from .helpers import (
    _endpoint_from_view_func,  # noqa: F401
    get_root_path,
    send_from_directory,
)

if t.TYPE_CHECKING:
    from jinja2 import FileSystemLoader

    from .wrappers import Response

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
T_after_request = t.TypeVar("T_after_request", bound=ft.AfterRequestCallable[t.Any])
T_before_request = t.TypeVar("T_before_request", bound=ft.BeforeRequestCallable)
T_error_handler = t.TypeVar("T_error_handler", bound=ft.ErrorHandlerCallable)
T_teardown = t.TypeVar("T_teardown", bound=ft.TeardownCallable)
T_template_context_processor = t.TypeVar(
    "T_template_context_processor", bound=ft.TemplateContextProcessorCallable
)
T_url_defaults = t.TypeVar("T_url_defaults", bound=ft.URLDefaultCallable)
T_url_value_preprocessor = t.TypeVar(
    "T_url_value_preprocessor", bound=ft.URLValuePreprocessorCallable
)
T_route = t.TypeVar("T_route", bound=ft.RouteCallable)

_sentinel: t.Any = object()

Scope = str | None
ErrorHandlerSpec = dict[Scope, dict[int | None, dict[type[BaseException], ft.ErrorHandlerCallable]]]


def setupmethod(f: F) -> F:
    """Mark a registration method: calling it after the first request is an error."""
    name = f.__name__

    def wrapper_func(self: Scaffold, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._check_setup_finished(name)
        return f(self, *args, **kwargs)

    return update_wrapper(wrapper_func, f)  # type: ignore[return-value]


def _error_handler_spec() -> ErrorHandlerSpec:
    return defaultdict(lambda: defaultdict(dict))


class Scaffold:
    """Common behaviour of :class:`~framework.Flask` and :class:`~framework.Blueprint`."""

    name: str
    _static_folder: str | None = None
    _static_url_path: str | None = None

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        #: The name of the package or module this object belongs to.
        self.import_name = import_name
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        #: Templates folder, relative to :attr:`root_path`.
        self.template_folder = template_folder
        if root_path is None:
            root_path = get_root_path(self.import_name)
        #: Absolute path of the package folder, used for relative resources.
        self.root_path = root_path

        self.view_functions: dict[str, ft.RouteCallable] = {}
        self.error_handler_spec: ErrorHandlerSpec = _error_handler_spec()
        self.before_request_funcs: dict[Scope, list[ft.BeforeRequestCallable]] = defaultdict(list)
        self.after_request_funcs: dict[Scope, list[ft.AfterRequestCallable[t.Any]]] = defaultdict(
            list
        )
        self.teardown_request_funcs: dict[Scope, list[ft.TeardownCallable]] = defaultdict(list)
        self.template_context_processors: dict[Scope, list[ft.TemplateContextProcessorCallable]] = (
            defaultdict(list)
        )
        self.url_value_preprocessors: dict[Scope, list[ft.URLValuePreprocessorCallable]] = (
            defaultdict(list)
        )
        self.url_default_functions: dict[Scope, list[ft.URLDefaultCallable]] = defaultdict(list)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        raise NotImplementedError

    # -- static files and resources -------------------------------------------------------

    @property
    def static_folder(self) -> str | None:
        """Absolute path of the static folder, or ``None``."""
        if self._static_folder is not None:
            return os.path.join(self.root_path, self._static_folder)
        return None

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        """Whether a static folder is configured."""
        return self.static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """URL prefix of the static route; defaults to the static folder's name."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            basename = os.path.basename(self.static_folder)
            return f"/{basename}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    @cached_property
    def jinja_loader(self) -> FileSystemLoader | None:
        """A loader for :attr:`template_folder`, or ``None`` without one."""
        if self.template_folder is not None:
            # Imported here: apps that never render templates never load jinja2.
            from jinja2 import FileSystemLoader

            return FileSystemLoader(os.path.join(self.root_path, self.template_folder))
        return None

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Cache lifetime for static files: ``SEND_FILE_MAX_AGE_DEFAULT`` (None = conditional)."""
        from .globals import current_app

        value = current_app.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if hasattr(value, "total_seconds"):
            return int(value.total_seconds())
        return int(value)

    def send_static_file(self, filename: str) -> Response:
        """The view behind the ``static`` route: serve ``filename`` from the static folder."""
        if not self.has_static_folder:
            raise RuntimeError(
                f"{self!r} has no static folder: pass 'static_folder=...' to serve static files."
            )
        max_age = self.get_send_file_max_age(filename)
        return send_from_directory(t.cast(str, self.static_folder), filename, max_age=max_age)

    def open_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = None
    ) -> t.IO[t.Any]:
        """Open a file relative to :attr:`root_path` for reading."""
        if mode not in {"r", "rt", "rb"}:
            raise ValueError(f"Resources can only be opened for reading, not with mode {mode!r}.")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # -- routes ----------------------------------------------------------------------------

    def _method_route(
        self, method: str, rule: str, options: dict[str, t.Any]
    ) -> t.Callable[[T_route], T_route]:
        if "methods" in options:
            raise TypeError(
                f"'{method.lower()}()' sets the method itself: use 'route(..., methods=[...])' "
                "to give a list of methods."
            )
        return self.route(rule, methods=[method], **options)

    @setupmethod
    def get(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """``route(rule, methods=["GET"])``."""
        return self._method_route("GET", rule, options)

    @setupmethod
    def post(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """``route(rule, methods=["POST"])``."""
        return self._method_route("POST", rule, options)

    @setupmethod
    def put(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """``route(rule, methods=["PUT"])``."""
        return self._method_route("PUT", rule, options)

    @setupmethod
    def delete(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """``route(rule, methods=["DELETE"])``."""
        return self._method_route("DELETE", rule, options)

    @setupmethod
    def patch(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """``route(rule, methods=["PATCH"])``."""
        return self._method_route("PATCH", rule, options)

    @setupmethod
    def route(self, rule: str, **options: t.Any) -> t.Callable[[T_route], T_route]:
        """Decorate a view function to register it for ``rule`` (see :meth:`add_url_rule`)."""

        def decorator(f: T_route) -> T_route:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **options)
            return f

        return decorator

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register a URL rule; implemented by the application and blueprints."""
        raise NotImplementedError

    @setupmethod
    def endpoint(self, endpoint: str) -> t.Callable[[F], F]:
        """Decorate a function to be the view for ``endpoint`` (rules added separately)."""

        def decorator(f: F) -> F:
            self.view_functions[endpoint] = f
            return f

        return decorator

    # -- request hooks ---------------------------------------------------------------------

    @setupmethod
    def before_request(self, f: T_before_request) -> T_before_request:
        """Run ``f()`` before each request; a non-None return value becomes the response."""
        self.before_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def after_request(self, f: T_after_request) -> T_after_request:
        """Run ``f(response)`` after each request; it must return a response."""
        self.after_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def teardown_request(self, f: T_teardown) -> T_teardown:
        """Run ``f(error_or_None)`` when the request context is popped, even after errors."""
        self.teardown_request_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def context_processor(self, f: T_template_context_processor) -> T_template_context_processor:
        """Register a function returning a dict of extra template variables."""
        self.template_context_processors[None].append(f)
        return f

    @setupmethod
    def url_value_preprocessor(self, f: T_url_value_preprocessor) -> T_url_value_preprocessor:
        """Run ``f(endpoint, view_args)`` before request hooks; it may modify ``view_args``."""
        self.url_value_preprocessors[None].append(f)
        return f

    @setupmethod
    def url_defaults(self, f: T_url_defaults) -> T_url_defaults:
        """Run ``f(endpoint, values)`` when building URLs; it may add values in place."""
        self.url_default_functions[None].append(f)
        return f

    # -- error handlers --------------------------------------------------------------------

    @setupmethod
    def errorhandler(
        self, code_or_exception: type[Exception] | int
    ) -> t.Callable[[T_error_handler], T_error_handler]:
        """Decorate a function to handle an HTTP status code or an exception class."""

        def decorator(f: T_error_handler) -> T_error_handler:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    @setupmethod
    def register_error_handler(
        self, code_or_exception: type[Exception] | int, f: ft.ErrorHandlerCallable
    ) -> None:
        """Register ``f`` for an HTTP status code or an exception class."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: type[Exception] | int,
    ) -> tuple[type[Exception], int | None]:
        """The exception class and HTTP code (``None`` for non-HTTP errors) to register."""
        if isinstance(exc_class_or_code, int):
            try:
                exc_class: t.Any = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"{exc_class_or_code} is not an HTTP error code werkzeug knows: register "
                    "a handler for an HTTPException subclass with that code instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, BaseException):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class: register the handler for its "
                f"class ({type(exc_class).__name__}) or for an HTTP status code."
            )
        if not isinstance(exc_class, type):
            raise TypeError(
                f"{exc_class!r} is neither an exception class nor an HTTP status code: "
                "register error handlers for an Exception subclass or an int code."
            )
        if not issubclass(exc_class, Exception):
            raise ValueError(
                f"{exc_class!r} is not a subclass of Exception: error handlers are registered "
                "for Exception subclasses or HTTP status codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None


def _is_within(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), folder]) == folder
    except ValueError:  # different drives on Windows
        return False


def find_package(import_name: str) -> tuple[str | None, str]:
    """``(installation prefix or None, package folder)`` of a module, for the instance path.

    The prefix is returned when the package is installed in a ``site-packages`` under
    ``sys.prefix`` (instance folder then goes to ``<prefix>/var/<name>-instance``).
    """
    root_mod_name = import_name.partition(".")[0]
    try:
        spec = importlib.util.find_spec(root_mod_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin in {None, "namespace", "built-in", "frozen"}:
        package_path = os.getcwd()
        if spec is not None and spec.submodule_search_locations:
            package_path = os.path.dirname(next(iter(spec.submodule_search_locations)))
    elif spec.submodule_search_locations:
        package_path = os.path.dirname(os.path.dirname(spec.origin))
    else:
        package_path = os.path.dirname(spec.origin)

    py_prefix = os.path.abspath(sys.prefix)
    if _is_within(package_path, py_prefix):
        return py_prefix, package_path
    site_parent, site_folder = os.path.split(package_path)
    if site_folder.lower() == "site-packages":
        parent, folder = os.path.split(site_parent)
        if folder.lower() == "lib":
            return parent, package_path
        if os.path.basename(parent).lower() == "lib":
            return os.path.dirname(parent), package_path
        return site_parent, package_path
    return None, package_path

"""The application object: configuration, URL map, registration and request handling.

Request handling itself (dispatch, error handlers, turning return values into responses)
lives in :mod:`framework.dispatch`; this module holds what an application *is*.
"""

from __future__ import annotations

import os
import sys
import typing as t
import weakref
from datetime import timedelta
from functools import cached_property
from itertools import chain

from werkzeug.exceptions import Aborter
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect as _werkzeug_redirect

from . import typing as ft
from .config import Config, ConfigAttribute
from .ctx import AppContext, RequestContext, _AppCtxGlobals
from .dispatch import DispatchMixin
from .globals import _cv_request
from .helpers import get_debug_flag, get_load_dotenv
from .json.provider import DefaultJSONProvider, JSONProvider
from .routing import RoutingMixin
from .scaffold import find_package, setupmethod
from .sessions import SecureCookieSessionInterface, SessionInterface
from .templating import _default_template_ctx_processor
from .url_map import CachingMap
from .wrappers import Request, Response

if t.TYPE_CHECKING:
    import logging

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from click.testing import CliRunner
    from jinja2 import BaseLoader
    from werkzeug.wrappers import Response as BaseResponse

    from .blueprints import Blueprint
    from .cli import AppGroup
    from .jinja_env import Environment
    from .testing import FlaskClient

T_shell_context_processor = t.TypeVar(
    "T_shell_context_processor", bound=ft.ShellContextProcessorCallable
)
T_teardown = t.TypeVar("T_teardown", bound=ft.TeardownCallable)
T_template_filter = t.TypeVar("T_template_filter", bound=ft.TemplateFilterCallable)
T_template_global = t.TypeVar("T_template_global", bound=ft.TemplateGlobalCallable)
T_template_test = t.TypeVar("T_template_test", bound=ft.TemplateTestCallable)


class _DefaultJinjaEnvironment:
    """Default of ``Flask.jinja_environment``: our Environment, imported on first access."""

    def __get__(self, obj: object, owner: type | None = None) -> type[Environment]:
        from .jinja_env import Environment

        return Environment


def _make_timedelta(value: timedelta | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class Flask(RoutingMixin, DispatchMixin):
    """The WSGI application: create one per app, register views on it, serve it.

    ``Flask(__name__)`` in a module (or the package's ``__init__``) is the usual form; the
    import name locates templates, static files and the instance folder.
    """

    #: Class used for :attr:`request` objects.
    request_class: type[Request] = Request
    #: Class used for response objects built by :meth:`make_response`.
    response_class: type[Response] = Response
    #: Class of :attr:`aborter`, used by :func:`abort`.
    aborter_class = Aborter
    #: Class of the ``g`` object.
    app_ctx_globals_class = _AppCtxGlobals
    #: Class of :attr:`config`.
    config_class = Config
    #: Class of :attr:`json`, the JSON provider.
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    #: Rule and map classes for the URL map.
    url_rule_class = Rule
    url_map_class: type[Map] = CachingMap
    #: Client class for :meth:`test_client` (``None`` = :class:`framework.testing.FlaskClient`).
    test_client_class: type[FlaskClient] | None = None
    #: Runner class for :meth:`test_cli_runner`.
    test_cli_runner_class: type[CliRunner] | None = None
    #: The session backend; replace it to store sessions elsewhere.
    session_interface: SessionInterface = SecureCookieSessionInterface()
    #: Options passed to the Jinja environment.
    jinja_options: dict[str, t.Any] = {}
    #: Class of :attr:`jinja_env` (a subclass of :class:`framework.templating.Environment`).
    jinja_environment: type[Environment] = _DefaultJinjaEnvironment()  # type: ignore[assignment]

    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute[str | bytes | None]("SECRET_KEY")
    permanent_session_lifetime = ConfigAttribute[timedelta](
        "PERMANENT_SESSION_LIFETIME",
        get_converter=_make_timedelta,  # type: ignore[arg-type]
    )

    default_config: dict[str, t.Any] = {
        "DEBUG": None,
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": None,
        "SECRET_KEY": None,
        "SECRET_KEY_FALLBACKS": None,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
        "USE_X_SENDFILE": False,
        "TRUSTED_HOSTS": None,
        "SERVER_NAME": None,
        "APPLICATION_ROOT": "/",
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_PARTITIONED": False,
        "SESSION_COOKIE_SAMESITE": None,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "MAX_CONTENT_LENGTH": None,
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1_000,
        "SEND_FILE_MAX_AGE_DEFAULT": None,
        "TRAP_BAD_REQUEST_ERRORS": None,
        "TRAP_HTTP_EXCEPTIONS": False,
        "EXPLAIN_TEMPLATE_LOADING": False,
        "PREFERRED_URL_SCHEME": "http",
        "TEMPLATES_AUTO_RELOAD": None,
        "MAX_COOKIE_SIZE": 4093,
        "PROVIDE_AUTOMATIC_OPTIONS": True,
    }

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        super().__init__(
            import_name=import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if instance_path is None:
            instance_path = self.auto_find_instance_path()
        elif not os.path.isabs(instance_path):
            raise ValueError(
                f"instance_path must be absolute, got {instance_path!r}: pass "
                "os.path.abspath(...) or leave it out to use the default."
            )
        #: Folder for files that are not in version control (config, databases).
        self.instance_path = instance_path
        #: The configuration dict, filled from :attr:`default_config`.
        self.config = self.make_config(instance_relative_config)
        #: Raises HTTP errors for :func:`abort`.
        self.aborter = self.make_aborter()
        #: The JSON provider used by ``jsonify``, ``request.get_json`` and the test client.
        self.json: JSONProvider = self.json_provider_class(self)
        #: Called with ``(error, endpoint, values)`` when ``url_for`` cannot build a URL.
        self.url_build_error_handlers: list[
            t.Callable[[Exception, str, dict[str, t.Any]], str]
        ] = []
        #: Called with the error (or None) when the application context is popped.
        self.teardown_appcontext_funcs: list[ft.TeardownCallable] = []
        #: Functions returning dicts of names for the ``shell`` command.
        self.shell_context_processors: list[ft.ShellContextProcessorCallable] = []
        #: Registered blueprints by name.
        self.blueprints: dict[str, Blueprint] = {}
        #: Storage for extensions' per-app state.
        self.extensions: dict[str, t.Any] = {}
        #: The :class:`~werkzeug.routing.Map` of URL rules.
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self._got_first_request = False
        # Whether the first app context looked for the real Flask (framework.alias).
        self._mix_checked = False
        # As in Flask, templates' contexts get ``g`` and ``request`` (seen by signal receivers).
        self.template_context_processors[None] = [_default_template_ctx_processor]

        if self.has_static_folder:
            if bool(static_host) != host_matching:
                raise ValueError(
                    "static_host and host_matching go together: pass static_host='...' when "
                    "host_matching=True, and neither otherwise."
                )
            # A weak reference keeps the app collectable: the rule lives in its own map.
            self_ref = weakref.ref(self)
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=lambda **kw: self_ref().send_static_file(**kw),  # type: ignore[union-attr]
            )

    # -- identity and configuration --------------------------------------------------------

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application: it "
                "has already handled its first request, so the change would apply to some "
                "requests and not others. Do all set-up (routes, hooks, blueprints, error "
                "handlers) before serving or testing the app, for example in an app factory."
            )

    @cached_property
    def name(self) -> str:  # type: ignore[override]
        """The application's name: the import name, or the script name for ``__main__``."""
        if self.import_name == "__main__":
            filename = getattr(sys.modules["__main__"], "__file__", None)
            if filename is None:
                return "__main__"
            return str(os.path.splitext(os.path.basename(filename))[0])
        return self.import_name

    @cached_property
    def logger(self) -> logging.Logger:
        """The ``logging`` logger named after :attr:`name`, set up on first use."""
        from .logging import create_logger

        return create_logger(self)

    @cached_property
    def cli(self) -> AppGroup:
        """The click group for this app's custom commands (``@app.cli.command()``)."""
        from .cli import AppGroup

        return AppGroup(self.name)

    @property
    def debug(self) -> bool:
        """Debug mode (``DEBUG``): the debugger, reloader and template reloading."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if self.config["TEMPLATES_AUTO_RELOAD"] is None and "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = value

    def make_config(self, instance_relative: bool = False) -> Config:
        """Build :attr:`config` from :attr:`default_config` and ``FLASK_DEBUG``."""
        root_path = self.instance_path if instance_relative else self.root_path
        defaults = dict(self.default_config)
        defaults["DEBUG"] = get_debug_flag()
        return self.config_class(root_path, defaults)

    def make_aborter(self) -> Aborter:
        """Build :attr:`aborter`; override to add custom HTTP errors."""
        return self.aborter_class()

    def auto_find_instance_path(self) -> str:
        """``instance/`` next to the package, or ``<prefix>/var/<name>-instance`` installed."""
        prefix, package_path = find_package(self.import_name)
        if prefix is None:
            return os.path.join(package_path, "instance")
        return os.path.join(prefix, "var", f"{self.name}-instance")

    def open_instance_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> t.IO[t.Any]:
        """Open a file in the instance folder (writing allowed, unlike open_resource)."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # -- templates -------------------------------------------------------------------------

    @cached_property
    def jinja_env(self) -> Environment:
        """The Jinja environment, created on first use."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> Environment:
        """Build the Jinja environment from :attr:`jinja_options` and the app's globals."""
        from .jinja_env import create_environment

        return create_environment(self)

    def create_global_jinja_loader(self) -> BaseLoader:
        """The loader that searches the app's templates, then the blueprints'."""
        from .jinja_env import DispatchingJinjaLoader

        return DispatchingJinjaLoader(self)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Autoescape string templates and ``.html/.htm/.xml/.xhtml/.svg`` files."""
        if filename is None:
            return True
        return filename.endswith((".html", ".htm", ".xml", ".xhtml", ".svg"))

    def update_template_context(self, context: dict[str, t.Any]) -> None:
        """Add context-processor values to ``context``; explicit values win."""
        names: t.Iterable[str | None] = (None,)
        ctx = _cv_request.get(None)
        if ctx is not None:
            names = chain(names, reversed(ctx.request.blueprints))
        original = context.copy()
        processors = self.template_context_processors
        for name in names:
            if name in processors:
                for func in processors[name]:
                    context.update(self.ensure_sync(func)())
        context.update(original)

    @setupmethod
    def template_filter(
        self, name: str | None = None
    ) -> t.Callable[[T_template_filter], T_template_filter]:
        """Decorate a function to register it as a Jinja filter."""

        def decorator(f: T_template_filter) -> T_template_filter:
            self.add_template_filter(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_filter(self, f: ft.TemplateFilterCallable, name: str | None = None) -> None:
        """Register a Jinja filter (named after the function by default)."""
        self.jinja_env.filters[name or f.__name__] = f

    @setupmethod
    def template_test(
        self, name: str | None = None
    ) -> t.Callable[[T_template_test], T_template_test]:
        """Decorate a function to register it as a Jinja test."""

        def decorator(f: T_template_test) -> T_template_test:
            self.add_template_test(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_test(self, f: ft.TemplateTestCallable, name: str | None = None) -> None:
        """Register a Jinja test (named after the function by default)."""
        self.jinja_env.tests[name or f.__name__] = f

    @setupmethod
    def template_global(
        self, name: str | None = None
    ) -> t.Callable[[T_template_global], T_template_global]:
        """Decorate a function to make it a global in every template."""

        def decorator(f: T_template_global) -> T_template_global:
            self.add_template_global(f, name=name)
            return f

        return decorator

    @setupmethod
    def add_template_global(self, f: ft.TemplateGlobalCallable, name: str | None = None) -> None:
        """Make ``f`` a global in every template (named after the function by default)."""
        self.jinja_env.globals[name or f.__name__] = f

    # -- registration ----------------------------------------------------------------------

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register ``view_func`` for the URL ``rule`` under ``endpoint``.

        ``methods`` defaults to the view's ``methods`` attribute or ``["GET"]``; ``HEAD`` is
        added for ``GET`` and ``OPTIONS`` is answered automatically unless disabled.
        """
        if endpoint is None:
            if view_func is None:
                raise TypeError(
                    f"add_url_rule({rule!r}) needs a view function or an endpoint name: pass "
                    "'view_func=...' or 'endpoint=...'."
                )
            endpoint = view_func.__name__
        options["endpoint"] = endpoint
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError(
                f"methods for {rule!r} must be a list of strings, not the string {methods!r}: "
                f"write methods=[{methods!r}]."
            )
        method_set = {m.upper() for m in methods}
        method_set |= set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            provide_automatic_options = (
                "OPTIONS" not in method_set and self.config["PROVIDE_AUTOMATIC_OPTIONS"]
            )
        if provide_automatic_options:
            method_set.add("OPTIONS")

        rule_obj = self.url_rule_class(rule, methods=method_set, **options)
        rule_obj.provide_automatic_options = provide_automatic_options  # type: ignore[attr-defined]
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            if existing is not None and existing != view_func:
                raise AssertionError(
                    f"The endpoint {endpoint!r} already has the view function "
                    f"{getattr(existing, '__qualname__', existing)!r}: give the new view "
                    f"({getattr(view_func, '__qualname__', view_func)!r}) another function "
                    "name, or pass 'endpoint=...'."
                )
        self.url_map.add(rule_obj)
        if view_func is not None:
            self.view_functions[endpoint] = view_func

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: t.Any) -> None:
        """Register a blueprint's routes, hooks and handlers (see Blueprint.register)."""
        blueprint.register(self, options)

    def iter_blueprints(self) -> t.ValuesView[Blueprint]:
        """The registered blueprints, in registration order."""
        return self.blueprints.values()

    @setupmethod
    def teardown_appcontext(self, f: T_teardown) -> T_teardown:
        """Run ``f(error_or_None)`` when the application context is popped."""
        self.teardown_appcontext_funcs.append(f)
        return f

    @setupmethod
    def shell_context_processor(self, f: T_shell_context_processor) -> T_shell_context_processor:
        """Register a function returning names for the interactive ``shell`` command."""
        self.shell_context_processors.append(f)
        return f

    def make_shell_context(self) -> dict[str, t.Any]:
        """The namespace of the ``shell`` command: ``app``, ``g`` and processors' names."""
        from .globals import g

        rv: dict[str, t.Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            rv.update(processor())
        return rv

    # -- URLs ------------------------------------------------------------------------------

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, t.Any] | tuple[None, None, None],
    ) -> None:
        """Log an unhandled error at ERROR level with the request's path and method.

        Defined here, not with the rest of request handling, because the default log
        format names the module that logged: "ERROR in app", as in Flask.
        """
        ctx = _cv_request.get(None)
        where = f" on {ctx.request.path} [{ctx.request.method}]" if ctx is not None else ""
        self.logger.error(f"Exception{where}", exc_info=exc_info)

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """A redirect response built with :attr:`response_class`."""
        return _werkzeug_redirect(location, code=code, Response=self.response_class)

    # -- contexts, WSGI, serving and testing -----------------------------------------------

    def app_context(self) -> AppContext:
        """A new application context: ``with app.app_context(): ...``."""
        return AppContext(self)

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        """A request context for a WSGI environment (used by :meth:`wsgi_app`)."""
        return RequestContext(self, environ)

    def test_request_context(self, *args: t.Any, **kwargs: t.Any) -> RequestContext:
        """A request context for a made-up request; takes EnvironBuilder's arguments."""
        from .testing import EnvironBuilder

        builder = EnvironBuilder(self, *args, **kwargs)
        try:
            return self.request_context(builder.get_environ())
        finally:
            builder.close()

    def test_client(self, use_cookies: bool = True, **kwargs: t.Any) -> FlaskClient:
        """A client that sends requests to the app without a server (keeps cookies)."""
        from .testing import FlaskClient

        cls = self.test_client_class or FlaskClient
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: t.Any) -> CliRunner:
        """A runner that invokes this app's CLI commands in tests."""
        from .testing import FlaskCliRunner

        cls = self.test_cli_runner_class or FlaskCliRunner
        return cls(self, **kwargs)  # type: ignore[arg-type]

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        """The WSGI entry point; calls :meth:`wsgi_app` so middleware can wrap that."""
        return self.wsgi_app(environ, start_response)

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        load_dotenv: bool = True,
        **options: t.Any,
    ) -> None:
        """Serve the app with werkzeug's development server (not for production).

        Defaults: host ``127.0.0.1``, port ``5000`` (or from ``SERVER_NAME``), threaded;
        the reloader and the interactive debugger are on when debug is on.
        """
        from .serving import run_app

        run_app(self, host, port, debug, load_dotenv=get_load_dotenv(load_dotenv), **options)

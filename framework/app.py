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
from werkzeug.routing import BuildError, Map, Rule
from werkzeug.urls import quote as _url_quote
from werkzeug.utils import redirect as _werkzeug_redirect

from . import typing as ft
from .config import Config, ConfigAttribute
from .ctx import AppContext, RequestContext, _AppCtxGlobals
from .dispatch import DispatchMixin
from .globals import _cv_app, _cv_request
from .helpers import get_debug_flag, get_load_dotenv
from .json.provider import DefaultJSONProvider, JSONProvider
from .scaffold import Scaffold, find_package, setupmethod
from .sessions import SecureCookieSessionInterface, SessionInterface
from .wrappers import Request, Response, _split_blueprint_path

if t.TYPE_CHECKING:
    import logging

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from click.testing import CliRunner
    from jinja2 import BaseLoader
    from werkzeug.routing import MapAdapter
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


# Characters left unquoted in a URL fragment built by url_for(_anchor=...).
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


def _make_timedelta(value: timedelta | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class Flask(DispatchMixin, Scaffold):
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
    url_map_class = Map
    #: Client class for :meth:`test_client` (``None`` = :class:`framework.testing.FlaskClient`).
    test_client_class: type[FlaskClient] | None = None
    #: Runner class for :meth:`test_cli_runner`.
    test_cli_runner_class: type[CliRunner] | None = None
    #: The session backend; replace it to store sessions elsewhere.
    session_interface: SessionInterface = SecureCookieSessionInterface()
    #: Options passed to the Jinja environment.
    jinja_options: dict[str, t.Any] = {}

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
                f"'{f_name}' was called after the application handled its first request, so "
                "it would apply to some requests and not others. Do all set-up (routes, "
                "hooks, blueprints, error handlers) before serving or testing the app, for "
                "example in an app factory."
            )

    @cached_property
    def name(self) -> str:
        """The application's name: the import name, or the script name for ``__main__``."""
        if self.import_name == "__main__":
            filename = getattr(sys.modules["__main__"], "__file__", None)
            if filename is None:
                return "__main__"
            return os.path.splitext(os.path.basename(filename))[0]
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
            return open(path, mode)  # noqa: SIM115
        return open(path, mode, encoding=encoding)  # noqa: SIM115

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
    def add_template_filter(
        self, f: ft.TemplateFilterCallable, name: str | None = None
    ) -> None:
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
    def add_template_global(
        self, f: ft.TemplateGlobalCallable, name: str | None = None
    ) -> None:
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
    def shell_context_processor(
        self, f: T_shell_context_processor
    ) -> T_shell_context_processor:
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

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Bind the URL map to a request, or to ``SERVER_NAME`` outside requests."""
        config = self.config
        if request is not None:
            trusted_hosts = config["TRUSTED_HOSTS"]
            if trusted_hosts is not None:
                request.trusted_hosts = trusted_hosts
                # Validate now, so an untrusted host becomes this request's 400.
                request.host  # noqa: B018
            subdomain = None
            server_name = config["SERVER_NAME"]
            if self.url_map.host_matching:
                server_name = None
            elif not self.subdomain_matching:
                # SERVER_NAME only drives subdomain matching; without it, requests to any
                # host are routed (Flask 3.1 behaviour).
                subdomain = self.url_map.default_subdomain or ""
                server_name = None
            return self.url_map.bind_to_environ(
                request.environ, server_name=server_name, subdomain=subdomain
            )
        server_name = config["SERVER_NAME"]
        if server_name is not None:
            return self.url_map.bind(
                server_name,
                script_name=config["APPLICATION_ROOT"],
                url_scheme=config["PREFERRED_URL_SCHEME"],
            )
        return None

    def inject_url_defaults(self, endpoint: str, values: dict[str, t.Any]) -> None:
        """Let ``url_defaults`` functions of the app and the endpoint's blueprints add values."""
        names: t.Iterable[str | None] = (None,)
        if "." in endpoint:
            names = chain(names, reversed(_split_blueprint_path(endpoint.rpartition(".")[0])))
        defaults = self.url_default_functions
        for name in names:
            if name in defaults:
                for func in defaults[name]:
                    func(endpoint, values)

    def handle_url_build_error(
        self, error: BuildError, endpoint: str, values: dict[str, t.Any]
    ) -> str:
        """Give :attr:`url_build_error_handlers` a chance to return a URL, else re-raise."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
            else:
                if rv is not None:
                    return rv
        if error is sys.exc_info()[1]:
            raise  # noqa: PLE0704
        raise error

    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: t.Any,
    ) -> str:
        """Build a URL for ``endpoint``; extra values fill the rule or go in the query.

        Inside a request the URL is relative unless ``_external`` (or ``_scheme``) is
        given; outside one it needs ``SERVER_NAME`` and is external. ``.name`` is relative
        to the current blueprint.
        """
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            url_adapter = req_ctx.url_adapter
            if endpoint[:1] == ".":
                blueprint = req_ctx.request.blueprint
                endpoint = f"{blueprint}{endpoint}" if blueprint is not None else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get(None)
            if app_ctx is not None and app_ctx.app is self:
                url_adapter = app_ctx.url_adapter
            else:
                url_adapter = self.create_url_adapter(None)
            if _external is None:
                _external = True
        if url_adapter is None:
            raise RuntimeError(
                f"Cannot build a URL for {endpoint!r} outside a request without SERVER_NAME: "
                "set app.config['SERVER_NAME'] (and APPLICATION_ROOT and "
                "PREFERRED_URL_SCHEME as needed), or use app.test_request_context()."
            )
        if _scheme is not None and not _external:
            raise ValueError(
                f"url_for({endpoint!r}, _scheme={_scheme!r}) builds an external URL: also "
                "pass '_external=True' (or leave _external out)."
            )
        self.inject_url_defaults(endpoint, values)
        try:
            rv = url_adapter.build(
                endpoint,
                values,
                method=_method,
                url_scheme=_scheme,
                force_external=_external,
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{_url_quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

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
        cls = self.test_client_class
        if cls is None:
            from .testing import FlaskClient as cls
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: t.Any) -> CliRunner:
        """A runner that invokes this app's CLI commands in tests."""
        cls = self.test_cli_runner_class
        if cls is None:
            from .testing import FlaskCliRunner as cls
        return cls(self, **kwargs)  # type: ignore[call-arg]

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

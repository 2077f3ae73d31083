"""URL handling for :class:`~framework.Flask`: binding the URL map, matching, building.

Matching a request is werkzeug's work; what this module adds is cheaper binding (reusing
what the request object already decoded) and, through the caches the URL map owns
(:mod:`framework.url_map`), matches and URLs remembered once the map stops changing.
"""

from __future__ import annotations

import sys
import typing as t
from itertools import chain
from urllib.parse import quote as _url_quote

from werkzeug.routing import BuildError, Map, MapAdapter

from .globals import _cv_app, _cv_request
from .scaffold import Scaffold
from .url_map import CachingMap, CachingMapAdapter
from .wrappers import _split_blueprint_path

if t.TYPE_CHECKING:
    from .config import Config
    from .wrappers import Request

# Characters left unquoted in a URL fragment built by url_for(_anchor=...).
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


def _bind_request(
    url_map: Map, request: Request, trusted_hosts: list[str] | None, configured: str | None
) -> MapAdapter:
    """Bind ``url_map`` to a request when neither host nor subdomain matching is on.

    Equivalent to ``url_map.bind_to_environ(environ, server_name=SERVER_NAME,
    subdomain=default)``, as in Flask 3.1: every host is served (SERVER_NAME restricts
    nothing), and external URLs and redirects use SERVER_NAME when it is set. It reuses
    what the request has already decoded instead of decoding the environ again.
    """
    environ = request.environ
    default_subdomain = url_map.default_subdomain or ""
    if "HTTP_UPGRADE" in environ:
        # WebSocket upgrades change the scheme werkzeug matches with: take its path.
        return url_map.bind_to_environ(environ, server_name=configured, subdomain=default_subdomain)
    if trusted_hosts is not None:
        request.trusted_hosts = trusted_hosts
    # Reading the host validates it against TRUSTED_HOSTS (a 400 for others).
    server_name, port_sep, port = request.host.lower().partition(":")
    if (
        len(server_name) > 63
        or not server_name.isascii()
        or server_name.startswith(".")
        or ".." in server_name
    ):
        # Let werkzeug apply its IDNA checks (and its 400 for invalid names), even when
        # SERVER_NAME is set and the Host is not used (Flask serves such hosts then).
        adapter = url_map.bind_to_environ(environ, subdomain=default_subdomain)
        if configured is None:
            return adapter
        return url_map.bind_to_environ(environ, server_name=configured, subdomain=default_subdomain)
    host = f"{server_name}{port_sep}{port}"
    scheme = environ["wsgi.url_scheme"]
    if configured is not None:
        # werkzeug's rule: lower case, the scheme's default port dropped.
        host = configured.lower()
        default_port = {"http": ":80", "https": ":443"}.get(scheme)
        if default_port is not None and host.endswith(default_port):
            host = host[: -len(default_port)]
    query = environ.get("QUERY_STRING")
    raw_path = environ.get("PATH_INFO")
    # werkzeug treats a missing PATH_INFO as "/" and an empty one as the empty path.
    path = request.path if raw_path else ("/" if raw_path is None else "")
    adapter_class = CachingMapAdapter if isinstance(url_map, CachingMap) else MapAdapter
    return adapter_class(
        url_map,
        host,
        request.script_root or "/",
        default_subdomain,
        scheme,
        path,
        request.method,
        query.encode("latin1").decode(errors="replace") if query else query,
    )


class RoutingMixin(Scaffold):
    """The URL half of the application class: adapters, ``url_for`` and its hooks."""

    if t.TYPE_CHECKING:
        # Provided by the application class.
        config: Config
        url_map: Map
        subdomain_matching: bool
        url_build_error_handlers: list[t.Callable[[Exception, str, dict[str, t.Any]], str]]

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Bind the URL map to a request, or to ``SERVER_NAME`` outside requests."""
        config = self.config
        if request is not None:
            url_map = self.url_map
            trusted_hosts = config["TRUSTED_HOSTS"]
            if not (url_map.host_matching or self.subdomain_matching):
                return _bind_request(url_map, request, trusted_hosts, config["SERVER_NAME"])
            if trusted_hosts is not None:
                request.trusted_hosts = trusted_hosts
                # Validate now, so an untrusted host becomes this request's 400.
                request.host  # noqa: B018
            server_name = None if url_map.host_matching else config["SERVER_NAME"]
            return url_map.bind_to_environ(request.environ, server_name=server_name, subdomain=None)
        server_name = config["SERVER_NAME"]
        if server_name is not None:
            return self.url_map.bind(
                server_name,
                script_name=config["APPLICATION_ROOT"],
                url_scheme=config["PREFERRED_URL_SCHEME"],
            )
        return None

    def _refused_host_url_adapter(self, request: Request, external: bool) -> MapAdapter | None:
        """An adapter for a request whose ``Host`` was refused (a 400 on its way).

        The request has no adapter of its own, but its error page still builds links: with
        ``SERVER_NAME`` as usual, else relative ones only (the refused host is never used).
        """
        if request.routing_exception is None:
            return None
        url_adapter = self.create_url_adapter(None)
        if url_adapter is None and not external:
            url_adapter = self.url_map.bind(
                "host.invalid", script_name=request.script_root or "/", url_scheme=request.scheme
            )
        return url_adapter

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
        /,
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
            if url_adapter is None:
                url_adapter = self._refused_host_url_adapter(req_ctx.request, _external)
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
        url_map = url_adapter.map
        cache = url_map.built_urls if isinstance(url_map, CachingMap) else None
        key = (
            cache.key(url_adapter, endpoint, values, _method, _scheme, _external)
            if cache is not None
            else None
        )
        rv = cache.urls.get(key) if cache is not None and key is not None else None
        if rv is None:
            try:
                rv = url_adapter.build(
                    endpoint,
                    values,
                    method=_method,
                    url_scheme=_scheme,
                    force_external=_external,
                )
            except BuildError as error:
                values.update(
                    _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external
                )
                return self.handle_url_build_error(error, endpoint, values)
            if cache is not None and key is not None:
                cache.store(key, rv)
        if _anchor is not None:
            rv = f"{rv}#{_url_quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

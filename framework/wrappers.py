"""``Request`` and ``Response``: werkzeug's wrappers with the application's limits and JSON.

The request reads its size limits (``MAX_CONTENT_LENGTH``, ``MAX_FORM_MEMORY_SIZE``,
``MAX_FORM_PARTS``) from the current application unless they were set on the request itself,
and knows the URL rule, endpoint and blueprint it was routed to.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.formparser import FormDataParser as _WerkzeugFormDataParser
from werkzeug.formparser import default_stream_factory
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wrappers import Response as _WerkzeugResponse

from . import json
from .globals import _cv_app

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.datastructures import Headers, MultiDict
    from werkzeug.routing import Rule

_REWRITTEN_HEADERS = frozenset({"location", "content-location"})


def _split_blueprint_path(name: str) -> list[str]:
    """``"a.b.c"`` -> ``["a.b.c", "a.b", "a"]``: a nested blueprint and its parents."""
    out = [name]
    while "." in name:
        name = name.rpartition(".")[0]
        out.append(name)
    return out


class FormDataParser(_WerkzeugFormDataParser):
    """werkzeug's form parser, stricter about what it keeps.

    A multipart part without a name (no ``name`` in its Content-Disposition) is kept by
    werkzeug under the key ``None``, which breaks views that iterate over the form or
    serialize it; no HTML form can address such a part, so it is dropped. Temporary files
    opened for uploads that do not end up in ``request.files`` (a body that fails to parse
    part-way, or a dropped part) are closed at once instead of at garbage collection.
    """

    def __init__(self, stream_factory: t.Any = None, *args: t.Any, **kwargs: t.Any) -> None:
        factory = stream_factory or default_stream_factory
        opened: list[t.IO[bytes]] = []

        def tracking_factory(*a: t.Any, **kw: t.Any) -> t.IO[bytes]:
            stream: t.IO[bytes] = factory(*a, **kw)
            opened.append(stream)
            return stream

        self.opened_streams = opened
        super().__init__(tracking_factory, *args, **kwargs)

    def parse(
        self,
        stream: t.IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[t.IO[bytes], MultiDict[str, t.Any], MultiDict[str, t.Any]]:
        files: MultiDict[str, t.Any] | None = None
        try:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
            if None in form:
                form = type(form)((k, v) for k, v in form.items(multi=True) if k is not None)
            if None in files:
                files = type(files)((k, v) for k, v in files.items(multi=True) if k is not None)
            return stream, form, files
        finally:
            kept = {id(f.stream) for _, f in files.items(multi=True)} if files else set()
            for opened in self.opened_streams:
                if id(opened) not in kept:
                    opened.close()


class Request(_WerkzeugRequest):
    """The request object used by default; ``request`` points at one of these.

    Adds the routing results (:attr:`url_rule`, :attr:`view_args`, :attr:`endpoint`,
    :attr:`blueprint`) and takes its body limits from the application's config.
    """

    json_module: t.Any = json

    #: Parses form bodies; drops nameless parts and closes unused upload files.
    form_data_parser_class = FormDataParser

    #: The :class:`~werkzeug.routing.Rule` that matched, or ``None`` before matching or
    #: when matching failed.
    url_rule: Rule | None = None

    #: The values the rule extracted from the URL, or ``None`` if matching failed.
    view_args: dict[str, t.Any] | None = None

    #: The routing error (404, 405, redirect) to raise when dispatching, if any.
    routing_exception: HTTPException | None = None

    _max_content_length: int | None = None
    _max_form_memory_size: int | None = None
    _max_form_parts: int | None = None

    @property
    def max_content_length(self) -> int | None:
        """The largest body, in bytes, this request accepts (``MAX_CONTENT_LENGTH``).

        Set it on the request (for example in a ``before_request`` hook for one upload
        route) to override the application's config for this request only.
        """
        if self._max_content_length is not None:
            return self._max_content_length
        ctx = _cv_app.get(None)
        if ctx is None:
            return super().max_content_length
        return ctx.app.config["MAX_CONTENT_LENGTH"]  # type: ignore[no-any-return]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        """The largest non-file form field, in bytes (``MAX_FORM_MEMORY_SIZE``)."""
        if self._max_form_memory_size is not None:
            return self._max_form_memory_size
        ctx = _cv_app.get(None)
        if ctx is None:
            return super().max_form_memory_size
        return ctx.app.config["MAX_FORM_MEMORY_SIZE"]  # type: ignore[no-any-return]

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property  # type: ignore[override]
    def max_form_parts(self) -> int | None:
        """The largest number of multipart parts (``MAX_FORM_PARTS``)."""
        if self._max_form_parts is not None:
            return self._max_form_parts
        ctx = _cv_app.get(None)
        if ctx is None:
            return super().max_form_parts
        return ctx.app.config["MAX_FORM_PARTS"]  # type: ignore[no-any-return]

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value

    # Clients should percent-encode bytes outside ASCII in the query string, but a server
    # passes raw ones through (as latin-1, PEP 3333); werkzeug decodes them as strict
    # UTF-8 and fails with a 500. Here they are read as UTF-8 where valid and otherwise
    # kept percent-encoded, as werkzeug already does for invalid percent-escapes.

    def _query_text(self) -> str:
        return self.query_string.decode("utf-8", "werkzeug.url_quote")

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """The parsed query string arguments (raw non-UTF-8 bytes stay percent-encoded)."""
        return self.parameter_storage_class(
            parse_qsl(self._query_text(), keep_blank_values=True, errors="werkzeug.url_quote")
        )

    @cached_property
    def full_path(self) -> str:
        """The path and query string (raw non-UTF-8 bytes stay percent-encoded)."""
        return f"{self.path}?{self._query_text()}"

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule, or ``None``."""
        rule = self.url_rule
        return rule.endpoint if rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The dotted name of the blueprint that handles this request, or ``None``."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first; empty for app routes."""
        name = self.blueprint
        if name is None:
            return []
        return _split_blueprint_path(name)

    def on_json_loading_failed(self, e: ValueError | None) -> t.Any:
        # The decoder's message can echo the body back; show it only when debugging.
        try:
            return super().on_json_loading_failed(e)
        except BadRequest as error:
            ctx = _cv_app.get(None)
            if ctx is not None and ctx.app.debug:
                raise
            raise BadRequest() from error


class Response(_WerkzeugResponse):
    """The response object used by default: HTML unless told otherwise.

    ``Location`` headers are left as given (relative URLs allowed), and cookies larger than
    ``MAX_COOKIE_SIZE`` produce a warning, as in Flask.
    """

    default_mimetype: str | None = "text/html"
    json_module = json
    autocorrect_location_header = False
    #: Whether :meth:`call_on_close` registered anything (the body then needs closing).
    has_close_callbacks = False

    def call_on_close(self, func: t.Callable[[], t.Any]) -> t.Callable[[], t.Any]:
        """Run ``func`` when the response body is closed (werkzeug's, recorded here)."""
        self.has_close_callbacks = True
        return super().call_on_close(func)

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        """The headers to send; werkzeug's rules, without copying in the common case.

        werkzeug copies the headers to rewrite ``Location``/``Content-Location``, strip
        entity headers from 1xx/204/304 responses and add a missing ``Content-Length``.
        When none of that applies (most responses) the headers are sent as they are.
        """
        status = self.status_code
        if 200 <= status < 600 and status not in {204, 304}:
            has_length = False
            for key, _ in self.headers:
                lowered = key.lower()
                if lowered in _REWRITTEN_HEADERS:
                    return super().get_wsgi_headers(environ)
                if lowered == "content-length":
                    has_length = True
            if has_length or not (self.automatically_set_content_length and self.is_sequence):
                return self.headers
        return super().get_wsgi_headers(environ)

    def get_app_iter(self, environ: WSGIEnvironment) -> t.Iterable[bytes]:
        """The body iterable; a buffered body is returned as is, with nothing to close.

        werkzeug wraps every body in a closing iterator; a list of bytes with no
        ``call_on_close`` callbacks has nothing to close, so it is sent directly.
        """
        body = self.response
        if (
            type(body) is list
            and not self.has_close_callbacks
            and not self.direct_passthrough
            and environ["REQUEST_METHOD"] != "HEAD"
        ):
            status = self.status_code
            if status >= 200 and status not in {204, 304}:
                for chunk in body:
                    if type(chunk) is not bytes:
                        break
                else:
                    return body
        return super().get_app_iter(environ)

    @property
    def max_cookie_size(self) -> int:  # type: ignore[override]
        """The ``MAX_COOKIE_SIZE`` of the current application, else werkzeug's default."""
        ctx = _cv_app.get(None)
        if ctx is not None:
            return ctx.app.config["MAX_COOKIE_SIZE"]  # type: ignore[no-any-return]
        return super().max_cookie_size

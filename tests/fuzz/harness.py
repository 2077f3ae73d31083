"""Drive a WSGI callable with a raw environ and check what a well-behaved server would need.

The test client builds clean environs (it percent-encodes, sets a correct Content-Length,
joins headers politely). These helpers build the environ a real server hands over for
malformed traffic: PATH_INFO as the latin-1 decoding of the raw bytes (invalid UTF-8
included), lying or unparseable Content-Length, CR/LF in header values, duplicated headers
joined the way gunicorn joins them.
"""

from __future__ import annotations

import io
import os
import sys
import typing as t
from collections import Counter
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Requests sent by the fuzz tests in this process, by target ("framework", "sample_app").
REQUESTS: Counter[str] = Counter()
#: Response status codes seen, by target: shows which requests got past validation.
STATUSES: dict[str, Counter[int]] = {}


def examples(default: int) -> int:
    """Hypothesis examples per test: ``default`` for `make test`, ``$FUZZ_EXAMPLES`` for
    `make fuzz` (the long run)."""
    value = os.environ.get("FUZZ_EXAMPLES")
    return int(value) if value else default


@dataclass
class RawRequest:
    """One request as bytes on the wire, before a server turns it into an environ."""

    method: str = "GET"
    path: bytes = b"/"
    query: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: ``None``: the true length; ``""``: no CONTENT_LENGTH; anything else is sent as is.
    content_length: str | None = None
    #: A chunked body: no CONTENT_LENGTH and ``wsgi.input_terminated`` set, as gunicorn does.
    chunked: bool = False

    def __repr__(self) -> str:
        return f"RawRequest(\n{self.describe()})"

    def _repr_pretty_(self, printer: t.Any, cycle: bool) -> None:
        # Hypothesis prints drawn values with this; the default shows megabyte bodies.
        printer.text(repr(self))

    def describe(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        headers = [(k, v if len(v) <= 200 else v[:200] + "...") for k, v in self.headers]
        return (
            f"{self.method} {self.path[:300]!r} ?{self.query[:300]!r}\n"
            f"headers={headers!r}\ncontent_length={self.content_length!r} "
            f"chunked={self.chunked} body({len(self.body)})={body!r}"
        )


def latin1(data: bytes) -> str:
    """What PEP 3333 servers put in the environ for raw bytes."""
    return data.decode("latin-1")


def build_environ(raw: RawRequest) -> dict[str, t.Any]:
    """The environ gunicorn would build for ``raw`` (duplicate headers joined with ',')."""
    environ: dict[str, t.Any] = {
        "REQUEST_METHOD": raw.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": latin1(raw.path),
        "QUERY_STRING": latin1(raw.query),
        "RAW_URI": latin1(raw.path + (b"?" + raw.query if raw.query else b"")),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in raw.headers:
        key = name.upper().replace("-", "_")
        if key in {"CONTENT_TYPE", "CONTENT_LENGTH"}:
            pass
        else:
            key = f"HTTP_{key}"
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{separator}{value}"
        else:
            environ[key] = value
    environ.setdefault("HTTP_HOST", "127.0.0.1:8080")
    if raw.chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    elif raw.content_length is None:
        if raw.body or raw.method in {"POST", "PUT", "PATCH"}:
            environ.setdefault("CONTENT_LENGTH", str(len(raw.body)))
    elif raw.content_length == "":
        environ.pop("CONTENT_LENGTH", None)
    else:
        environ["CONTENT_LENGTH"] = raw.content_length
    return environ


@dataclass
class Result:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


def call(app: WSGIApplication, environ: dict[str, t.Any], target: str) -> Result:
    """Run one request through ``app`` and check the response is one a server can send."""
    REQUESTS[target] += 1
    captured: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Any:
        if exc_info is not None and captured:
            raise exc_info[1].with_traceback(exc_info[2])
        captured[:] = [(status, list(headers))]
        return lambda data: None

    body_iter = app(environ, start_response)  # type: ignore[arg-type]
    try:
        chunks = list(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    assert captured, "the app never called start_response"
    status_line, headers = captured[0]
    assert isinstance(status_line, str)
    code_text, _, _reason = status_line.partition(" ")
    assert code_text.isdigit() and len(code_text) == 3, status_line
    status_line.encode("latin-1")
    for chunk in chunks:
        assert isinstance(chunk, bytes), f"body chunk is {type(chunk).__name__}, not bytes"
    for name, value in headers:
        assert isinstance(name, str) and isinstance(value, str), (name, value)
        # What a server writes on the wire: latin-1, one line per header.
        name.encode("latin-1")
        value.encode("latin-1")
        for bad in ("\r", "\n", "\0"):
            assert bad not in name and bad not in value, f"header injection: {name}: {value!r}"
    result = Result(int(code_text), headers, b"".join(chunks))
    STATUSES.setdefault(target, Counter())[result.status] += 1
    trace = os.environ.get("FUZZ_TRACE")
    if trace:
        # One line per request, to see what got through: FUZZ_TRACE=/tmp/fuzz.log
        with open(trace, "a", encoding="utf-8") as f:
            f.write(
                f"{target} {result.status} {environ['REQUEST_METHOD'][:10]!r} "
                f"{environ['PATH_INFO'][:60]!r} {environ.get('CONTENT_TYPE', '')[:40]!r} "
                f"{_gist(result.body)!r}\n"
            )
    length = result.header("Content-Length")
    if (
        length is not None
        and environ["REQUEST_METHOD"] != "HEAD"
        and result.status not in {204, 304}
        and result.status >= 200
    ):
        assert int(length) == len(result.body), (length, len(result.body))
    return result


def _gist(body: bytes) -> bytes:
    """The interesting part of a response body: its error message if it has one."""
    for marker in (b'class="error-message">', b'"message":', b'class="error">', b"<p>"):
        at = body.find(marker)
        if at >= 0:
            return body[at : at + 120]
    return body[:120]


def check_not_server_error(result: Result, raw: RawRequest) -> None:
    """No request may produce a 5xx."""
    assert result.status < 500, (
        f"{result.status} for\n{raw.describe()}\nresponse body: {result.body[:2000]!r}"
    )

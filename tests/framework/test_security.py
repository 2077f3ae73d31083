"""Security checks of the framework: no path traversal in ``send_from_directory`` or static
files, no header injection through redirects, and no secrets in error pages or logs.

Requests are built as raw WSGI environs (PATH_INFO holding the bytes a server decoded), so
nothing is normalised on the way in the way the test client would.
"""

from __future__ import annotations

import io
import logging
import os
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import NotFound

from framework import (
    Flask,
    make_response,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from framework.testing import EnvironBuilder

SECRET_FILE = b"TOP SECRET: outside the served folder"
SECRET_KEY = "s3cr3t-key-for-the-security-tests-0123456789"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "files" / "sub").mkdir(parents=True)
    (root / "files" / "hello.txt").write_bytes(b"hello")
    (root / "files" / "sub" / "page.html").write_bytes(b"<p>page</p>")
    (root / "static").mkdir()
    (root / "static" / "style.css").write_bytes(b"body{}")
    (root / "secret.txt").write_bytes(SECRET_FILE)
    # A sibling whose name starts with the served folder's: a naive prefix check passes it.
    (root / "files_private").mkdir()
    (root / "files_private" / "key.txt").write_bytes(SECRET_FILE)
    (root / "app.py").write_bytes(SECRET_FILE)
    return root


SERVED = {b"hello", b"<p>page</p>", b"body{}"}


def _file_app(root: Path) -> Flask:
    app = Flask(__name__, root_path=str(root), static_folder="static")
    app.config.update(TESTING=True, SECRET_KEY=SECRET_KEY)

    @app.route("/download/<path:name>")
    def download(name: str) -> t.Any:
        return send_from_directory(root / "files", name)

    @app.route("/relative/<path:name>")
    def relative(name: str) -> t.Any:
        # A directory relative to the app's root path, as most apps write it.
        return send_from_directory("files", name)

    @app.route("/query")
    def query() -> t.Any:
        return send_from_directory("files", request.args.get("name", ""))

    return app


def _get(app: Flask, path: bytes, query: bytes = b"") -> tuple[int, bytes, list[tuple[str, str]]]:
    environ = EnvironBuilder(app, path="/").get_environ()
    environ["PATH_INFO"] = path.decode("latin-1")
    environ["QUERY_STRING"] = query.decode("latin-1")
    status: list[str] = []
    headers: list[list[tuple[str, str]]] = []

    def start_response(s: str, h: list[tuple[str, str]], e: t.Any = None) -> t.Any:
        status.append(s)
        headers.append(h)

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return int(status[0].split()[0]), data, headers[0]


TRAVERSAL_PIECES = [
    "..",
    ".",
    "",
    "%2e%2e",
    "..%2f",
    "%2e%2e%2f",
    "..\\",
    "..\\..",
    "\\",
    "/",
    "//",
    "secret.txt",
    "app.py",
    "files_private",
    "key.txt",
    "files",
    "hello.txt",
    "sub",
    "C:",
    "c:\\",
    "\x00",
    "%00",
    "hello.txt\x00.png",
    "~",
    "\u2215",  # DIVISION SLASH
    "\uff0e\uff0e",  # FULLWIDTH FULL STOPs
    "..\u2215",
]


def _traversal(root: Path) -> st.SearchStrategy[bytes]:
    pieces = st.one_of(
        st.sampled_from(TRAVERSAL_PIECES),
        st.just(str(root / "secret.txt")),
        st.just(str(root / "files_private" / "key.txt")),
    )
    return st.lists(pieces, min_size=1, max_size=8).flatmap(
        lambda parts: st.sampled_from(["/", "\\", ""]).map(
            lambda sep: sep.join(parts).encode("utf-8", "surrogatepass")
        )
    )


def _assert_only_served(status: int, body: bytes) -> None:
    assert SECRET_FILE not in body
    if status == 200:
        assert body in SERVED


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_no_path_traversal_through_urls(root: Path, data: st.DataObject) -> None:
    app = _file_app(root)
    prefix = data.draw(st.sampled_from([b"/download/", b"/relative/", b"/static/"]))
    path = data.draw(_traversal(root))
    status, body, _ = _get(app, prefix + path)
    _assert_only_served(status, body)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_no_path_traversal_through_arguments(root: Path, data: st.DataObject) -> None:
    # A filename from the query string is never routed or percent-decoded by routing.
    app = _file_app(root)
    name = data.draw(_traversal(root))
    from urllib.parse import quote_from_bytes

    status, body, _ = _get(app, b"/query", b"name=" + quote_from_bytes(name).encode())
    _assert_only_served(status, body)
    with app.test_request_context():
        text = name.decode("utf-8", "replace")
        try:
            response = send_from_directory(root / "files", text)
        except NotFound:
            return
        except ValueError:
            return  # e.g. an embedded NUL byte: os.stat refuses it
        with response:
            response.direct_passthrough = False
            assert response.get_data() in SERVED


def test_known_traversals_are_404(root: Path) -> None:
    app = _file_app(root)
    secret = str(root / "secret.txt").encode()
    for path in [
        b"/download/../secret.txt",
        b"/download/sub/../../secret.txt",
        b"/download/..\\secret.txt",
        b"/download/" + secret,
        b"/download/" + secret.lstrip(b"/"),
        b"/download/../files_private/key.txt",
        b"/relative/../app.py",
        b"/static/../app.py",
        b"/static/..%2fapp.py",
        b"/download/hello.txt\x00.png",
    ]:
        status, body, _ = _get(app, path)
        assert status in {404, 308}, path
        assert SECRET_FILE not in body
    assert _get(app, b"/download/sub/../hello.txt")[:2] == (200, b"hello")


# -- redirects and headers -----------------------------------------------------------------

CRLF_LOCATIONS = [
    "/next\r\nSet-Cookie: injected=1",
    "/next\nSet-Cookie: injected=1",
    "/next\rSet-Cookie: injected=1",
    "http://example.com/\r\n\r\n<script>alert(1)</script>",
]


@pytest.mark.parametrize("location", CRLF_LOCATIONS)
def test_redirect_rejects_crlf(location: str) -> None:
    app = Flask(__name__)
    with app.test_request_context(), pytest.raises(ValueError, match="newline"):
        redirect(location)
    with app.test_request_context(), pytest.raises(ValueError, match="newline"):
        make_response("body", 302, {"Location": location})


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb"])
def test_header_values_with_newlines_are_refused(value: str) -> None:
    app = Flask(__name__)

    @app.route("/")
    def index() -> t.Any:
        response = make_response("ok")
        response.headers["X-Echo"] = value
        return response

    app.config["TESTING"] = True
    with pytest.raises(ValueError, match="newline"):
        app.test_client().get("/")


def test_automatic_redirects_do_not_carry_crlf_from_the_path() -> None:
    app = Flask(__name__)
    app.config["TESTING"] = True

    @app.route("/<name>/")
    def named(name: str) -> str:
        return name

    locations = {}
    for raw in [
        b"/a\r\nSet-Cookie: x=1",
        b"/a\nLocation: evil.example",
        b"//a",
        b"///evil.example",
    ]:
        status, _, headers = _get(app, raw)
        for name, value in headers:
            assert "\r" not in value and "\n" not in value, (name, value)
        assert "Set-Cookie" not in [name for name, _ in headers]
        assert status == 308, raw
        locations[raw] = dict(headers)["Location"]
    assert locations == {
        b"/a\r\nSet-Cookie: x=1": "http://localhost/a%0D%0ASet-Cookie:%20x=1/",
        b"/a\nLocation: evil.example": "http://localhost/a%0ALocation:%20evil.example/",
        b"//a": "http://localhost/a/",
        b"///evil.example": "http://localhost/evil.example/",
    }


def test_url_for_percent_encodes_crlf() -> None:
    app = Flask(__name__)

    @app.route("/u/<name>")
    def user(name: str) -> str:
        return name

    with app.test_request_context():
        url = url_for("user", name="a\r\nb", next="x\r\ny")
    assert url == "/u/a%0D%0Ab?next=x%0D%0Ay"


def test_cookie_values_cannot_inject_attributes_or_headers() -> None:
    app = Flask(__name__)
    app.config["TESTING"] = True

    @app.route("/")
    def index() -> t.Any:
        response = make_response("ok")
        response.set_cookie("pref", request.args["v"])
        return response

    client = app.test_client()
    response = client.get("/", query_string={"v": "x; Domain=evil.example\r\nSet-Cookie: y=1"})
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    assert "\r" not in cookies[0] and "\n" not in cookies[0]
    assert "; Domain=" not in cookies[0]


# -- secrets in error pages and logs -------------------------------------------------------


def test_secrets_never_appear_in_error_pages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, PROPAGATE_EXCEPTIONS=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    app.logger.addHandler(handler)

    @app.route("/login", methods=["POST"])
    def login() -> str:
        session["user"] = "alice"
        return "ok"

    @app.route("/boom", methods=["GET", "POST"])
    def boom() -> str:
        session.get("user")
        _ = request.form.get("password")
        raise RuntimeError("the database is down")

    @app.route("/missing-field", methods=["POST"])
    def missing_field() -> str:
        return request.form["nope"]

    client = app.test_client()
    client.post("/login")
    cookie = client.get_cookie("session")
    assert cookie is not None
    secrets = [SECRET_KEY, cookie.value, "hunter2-password", "Bearer tok-123"]
    pages = []
    with caplog.at_level(logging.DEBUG):
        for method, path in [("GET", "/boom"), ("POST", "/boom"), ("POST", "/missing-field")]:
            response = client.open(
                path,
                method=method,
                data={"password": "hunter2-password"},
                headers={"Authorization": "Bearer tok-123"},
                query_string={"token": "hunter2-password"},
            )
            assert response.status_code in {400, 500}
            pages.append(response.text)
    app.logger.removeHandler(handler)
    logged = caplog.text + stream.getvalue()
    assert "Exception on /boom [GET]" in logged  # the failure itself is logged
    for secret in secrets:
        assert secret not in logged
        for page in pages:
            assert secret not in page
    assert "the database is down" not in "".join(pages)


def test_debug_mode_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = Flask(__name__)
    assert app.debug is False

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError(f"internal detail {os.getpid()}")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert "internal detail" not in response.text
    assert "__debugger__" not in response.text

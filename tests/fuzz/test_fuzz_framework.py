"""Fuzz a framework app (and the same app behind gae.wrap) with raw, malformed requests.

The app reads every part of the request the way views do: form fields, uploaded files,
JSON, query arguments, cookies and the session, URL converters, ``send_from_directory``
and static files. Whatever arrives, the answer is a well-formed response below 500, and
no file outside the served folders is ever sent.
"""

from __future__ import annotations

import typing as t
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework import (
    Flask,
    jsonify,
    redirect,
    request,
    send_from_directory,
    session,
    stream_with_context,
    url_for,
)
from gae import AppEngine, Settings

from .harness import build_environ, call, check_not_server_error, examples
from .strategies import Cookies, Target, form_bodies, json_bodies, requests

SECRET = "fuzz-secret-key-0123456789abcdef"
SECRET_MARK = b"TOP-SECRET-FILE-CONTENT"
FUZZ = settings(
    max_examples=examples(200),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def make_app(root: Path) -> Flask:
    files = root / "files"
    static = root / "static"
    (files / "sub").mkdir(parents=True)
    static.mkdir()
    (files / "hello.txt").write_text("hello\n")
    (files / "sub" / "page.html").write_text("<p>page</p>")
    (static / "style.css").write_text("body{}")
    (root / "secret.txt").write_bytes(SECRET_MARK)

    app = Flask(__name__, static_folder=str(static), root_path=str(root))
    app.config.update(
        SECRET_KEY=SECRET,
        TESTING=True,  # exceptions propagate: a crash fails the example
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=256 * 1024,
        MAX_FORM_PARTS=200,
    )

    @app.route("/form", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def form() -> t.Any:
        return jsonify(
            form={k: request.form.getlist(k) for k in request.form},
            values=len(request.values),
        )

    @app.route("/files", methods=["POST", "PUT"])
    def files_view() -> t.Any:
        out = []
        for name, storage in request.files.items(multi=True):
            data = storage.read()
            out.append([name, storage.filename, storage.mimetype, len(data)])
        return jsonify(files=out, form=request.form.to_dict())

    @app.route("/json", methods=["GET", "POST", "PUT", "PATCH"])
    def json_view() -> t.Any:
        return jsonify(got=request.get_json())

    @app.post("/json/silent")
    def json_silent() -> t.Any:
        data = request.get_json(silent=True, force=True)
        return jsonify(kind=type(data).__name__)

    @app.get("/args")
    def args() -> t.Any:
        return jsonify(
            args={k: request.args.getlist(k) for k in request.args},
            n=request.args.get("n", type=int),
            f=request.args.get("f", type=float),
            path=request.path,
            full_path=request.full_path,
            url=request.url,
        )

    @app.get("/headers")
    def headers() -> t.Any:
        return jsonify(
            host=request.host,
            remote=request.remote_addr,
            route=request.access_route,
            accept=str(request.accept_mimetypes),
            languages=str(request.accept_languages),
            range=str(request.range),
            if_modified=str(request.if_modified_since),
            etags=str(request.if_none_match),
            auth=str(request.authorization),
            user_agent=request.user_agent.string,
            external=url_for("headers", _external=True),
            is_secure=request.is_secure,
        )

    @app.get("/cookies")
    def cookies() -> t.Any:
        return jsonify(cookies=request.cookies.to_dict())

    @app.route("/session", methods=["GET", "POST"])
    def session_view() -> t.Any:
        if request.method == "POST":
            # At most 10 short entries: a bigger cookie only earns werkzeug's size warning.
            for key, value in list(request.form.items())[:10]:
                session[key[:20]] = value[:100]
        return jsonify(session=dict(session))

    @app.get("/int/<int:n>")
    def int_view(n: int) -> t.Any:
        return jsonify(n=n)

    @app.get("/signed/<int(signed=True):n>")
    def signed_view(n: int) -> t.Any:
        return jsonify(n=n)

    @app.get("/float/<float:x>")
    def float_view(x: float) -> t.Any:
        return jsonify(x=x)

    @app.get("/uuid/<uuid:u>")
    def uuid_view(u: t.Any) -> t.Any:
        return jsonify(u=str(u))

    @app.get("/any/<any(red, green):colour>")
    def any_view(colour: str) -> t.Any:
        return jsonify(colour=colour)

    @app.get("/string/<string(minlength=2, maxlength=8):s>")
    def string_view(s: str) -> t.Any:
        return jsonify(s=s, back=url_for("string_view", s=s))

    @app.get("/path/<path:p>")
    def path_view(p: str) -> t.Any:
        return jsonify(p=p, back=url_for("path_view", p=p))

    @app.get("/download/<path:filename>")
    def download(filename: str) -> t.Any:
        return send_from_directory(files, filename)

    @app.get("/attachment/<path:filename>")
    def attachment(filename: str) -> t.Any:
        return send_from_directory(files, filename, as_attachment=True, download_name=filename)

    @app.get("/go")
    def go() -> t.Any:
        # The URL is built by the app, the user only picks a value in it.
        return redirect(url_for("args", next=request.args.get("next", "")))

    @app.get("/stream")
    def stream() -> t.Any:
        def generate() -> t.Iterator[str]:
            yield request.args.get("a", "")
            yield str(dict(session))

        return stream_with_context(generate())

    return app


PATHS = [
    b"/form",
    b"/files",
    b"/json",
    b"/json/silent",
    b"/args",
    b"/headers",
    b"/cookies",
    b"/session",
    b"/int/1",
    b"/signed/-1",
    b"/float/1.5",
    b"/uuid/00000000-0000-0000-0000-000000000000",
    b"/any/red",
    b"/string/abc",
    b"/path/a/b",
    b"/download/hello.txt",
    b"/download/sub/page.html",
    b"/download/../secret.txt",
    b"/attachment/hello.txt",
    b"/static/style.css",
    b"/static/../secret.txt",
    b"/go",
    b"/stream",
    b"/missing",
]
QUERY_NAMES = ["n", "f", "a", "next", "q"]


# Once anything imported ndb (other test modules do), gae.wrap opens an ndb context per
# request: with the plugin's offline client, never used for a call.
pytestmark = pytest.mark.usefixtures("offline_ndb")


class Apps(t.NamedTuple):
    plain: Flask
    wrapped: Flask
    target: Target


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Apps:
    plain = make_app(tmp_path_factory.mktemp("plain"))
    wrapped = make_app(tmp_path_factory.mktemp("wrapped"))
    # The App Engine adapter, believing X-Appengine-* and X-Cloud-Trace-Context as on
    # App Engine (where clients can send X-Cloud-Trace-Context themselves).
    wrapped.config["GAE_TRUST_HEADERS"] = True
    AppEngine(wrapped, settings=Settings.from_environ({}))
    client = plain.test_client()
    client.post("/session", data={"user": "alice", "n": "1"})
    cookie = client.get_cookie("session")
    assert cookie is not None
    target = Target(
        paths=PATHS,
        query_names=QUERY_NAMES,
        cookies=Cookies(name="session", valid=[cookie.value]),
        fields={"user": "bob", "title": "t"},
    )
    return Apps(plain, wrapped, target)


def _check(app: Flask, raw: t.Any) -> None:
    result = call(app, build_environ(raw), "framework")
    check_not_server_error(result, raw)
    assert SECRET_MARK not in result.body, raw.describe()
    if raw.method == "HEAD":
        assert result.body == b""


@FUZZ
@given(data=st.data())
def test_any_request(apps: Apps, data: st.DataObject) -> None:
    _check(apps.plain, data.draw(requests(apps.target), label="request"))


@FUZZ
@given(data=st.data())
def test_any_request_behind_gae_wrap(apps: Apps, data: st.DataObject) -> None:
    _check(apps.wrapped, data.draw(requests(apps.target), label="request"))


@FUZZ
@given(data=st.data())
def test_json_bodies(apps: Apps, data: st.DataObject) -> None:
    target = replace(apps.target, paths=[b"/json", b"/json/silent"])
    raw = data.draw(
        requests(target, methods=["POST", "PUT"], bodies=json_bodies(target.fields)),
        label="request",
    )
    _check(apps.plain, raw)


@FUZZ
@given(data=st.data())
def test_form_and_multipart_bodies(apps: Apps, data: st.DataObject) -> None:
    target = replace(apps.target, paths=[b"/form", b"/files", b"/session"])
    raw = data.draw(
        requests(target, methods=["POST", "PUT", "PATCH"], bodies=form_bodies(target.fields)),
        label="request",
    )
    _check(apps.plain, raw)


@FUZZ
@given(data=st.data())
def test_paths_converters_and_files(apps: Apps, data: st.DataObject) -> None:
    raw = data.draw(requests(apps.target, methods=["GET", "HEAD"]), label="request")
    _check(apps.plain, raw)


@FUZZ
@given(data=st.data())
def test_headers_and_cookies_behind_gae_wrap(apps: Apps, data: st.DataObject) -> None:
    target = replace(
        apps.target,
        paths=[b"/headers", b"/cookies", b"/session", b"/stream", b"/download/hello.txt"],
    )
    raw = data.draw(requests(target, methods=["GET", "HEAD"]), label="request")
    _check(apps.wrapped, raw)

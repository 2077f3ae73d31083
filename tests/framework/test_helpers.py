"""View helpers: redirect, abort, send_file, send_from_directory, static files, flashing."""

from __future__ import annotations

import io
import pathlib
import types
import typing as t

import pytest
from werkzeug.exceptions import HTTPException, NotFound

from ._parity import compare, mod_fixture

mod = mod_fixture()


def test_redirect() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/go/<int:code>")
        def go(code: int) -> t.Any:
            return m.redirect("/target?x=<1>", code=code)

        app.add_url_rule("/default", "default", lambda: m.redirect("https://other.test/p"))
        app.add_url_rule("/target", "target", lambda: "target")
        return app

    results = compare(build, "/default", "/go/301", "/go/303", "/go/307", "/go/308")
    assert [r.code for r in results] == [302, 301, 303, 307, 308]
    assert results[0].header("Location") == "https://other.test/p"
    assert results[0].header("Content-Type") == "text/html; charset=utf-8"
    assert b'href="https://other.test/p"' in results[0].body
    # Relative locations are kept as given (URL-quoted), HTML-escaped in the body.
    assert results[1].header("Location") == "/target?x=%3C1%3E"
    assert b'href="/target?x=&lt;1&gt;"' in results[1].body


def test_redirect_uses_app_response_class(mod: types.ModuleType) -> None:
    class MyResponse(mod.Response):  # type: ignore[misc,name-defined]
        pass

    app = mod.Flask(__name__)
    app.response_class = MyResponse
    with app.app_context():
        assert type(mod.redirect("/x")) is MyResponse
    # Outside an app context it still works, with werkzeug's response class.
    outside = mod.redirect("/y", 301)
    assert (outside.status_code, outside.headers["Location"]) == (301, "/y")


def test_abort(mod: types.ModuleType) -> None:
    with pytest.raises(NotFound):
        mod.abort(404)
    app = mod.Flask(__name__)
    with app.app_context():
        with pytest.raises(NotFound) as info:
            mod.abort(404, description="no such thing")
        assert info.value.description == "no such thing"
        response = mod.Response("body", 402)
        with pytest.raises(HTTPException) as resp_info:
            mod.abort(response)
        assert resp_info.value.get_response() is response
        with pytest.raises(LookupError):
            mod.abort(299)


def test_abort_uses_the_app_aborter(mod: types.ModuleType) -> None:
    class Teapot(HTTPException):
        code = 418
        description = "Custom teapot."

    app = mod.Flask(__name__)
    app.aborter.mapping[418] = Teapot
    app.add_url_rule("/", "index", lambda: mod.abort(418))
    response = app.test_client().get("/")
    assert response.status_code == 418
    assert b"Custom teapot." in response.data


@pytest.fixture
def files(tmp_path: pathlib.Path) -> pathlib.Path:
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "hello.txt").write_text("hello file\n")
    (public / "sub" / "page.html").write_text("<p>page</p>")
    (public / "data.json").write_text('{"x": 1}')
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    return tmp_path


def _file_app(m: types.ModuleType, root: pathlib.Path, **config: t.Any) -> t.Any:
    app = m.Flask(__name__, root_path=str(root), static_folder="public")
    app.config.update(config)
    public = root / "public"

    @app.route("/files/<path:name>")
    def files(name: str) -> t.Any:
        return m.send_from_directory(public, name)

    @app.route("/rel/<path:name>")
    def relative(name: str) -> t.Any:
        # A relative directory is relative to the app's root path.
        return m.send_from_directory("public", name)

    @app.route("/path")
    def by_path() -> t.Any:
        return m.send_file(public / "hello.txt")

    @app.route("/relpath")
    def by_relative_path() -> t.Any:
        return m.send_file("public/data.json")

    @app.route("/download")
    def download() -> t.Any:
        return m.send_file(public / "hello.txt", as_attachment=True, download_name="report ü.txt")

    @app.route("/fileobj")
    def fileobj() -> t.Any:
        return m.send_file(io.BytesIO(b"in memory"), mimetype="application/x-custom")

    @app.route("/fileobj-named")
    def fileobj_named() -> t.Any:
        return m.send_file(io.BytesIO(b"a,b"), download_name="table.csv")

    @app.route("/fileobj-unknown")
    def fileobj_unknown() -> t.Any:
        return m.send_file(io.BytesIO(b"???"))

    @app.route("/mimetype")
    def mimetype() -> t.Any:
        return m.send_file(public / "hello.txt", mimetype="text/x-special")

    return app


def test_send_file(files: pathlib.Path) -> None:
    results = compare(
        lambda m: _file_app(m, files),
        "/path",
        "/relpath",
        "/download",
        "/fileobj",
        "/fileobj-named",
        "/mimetype",
    )
    path, relpath, download, fileobj, named, mimetype = results
    assert (path.code, path.body) == (200, b"hello file\n")
    assert path.header("Content-Type") == "text/plain; charset=utf-8"
    assert path.header("Content-Length") == "11"
    assert path.header("Cache-Control") == "no-cache"
    assert path.header("ETag") is not None
    assert path.header("Last-Modified") is not None
    assert relpath.header("Content-Type") == "application/json"
    assert download.header("Content-Disposition") == (
        "attachment; filename=\"report u.txt\"; filename*=UTF-8''report%20%C3%BC.txt"
    )
    assert (fileobj.body, fileobj.header("Content-Type")) == (
        b"in memory",
        "application/x-custom",
    )
    assert named.header("Content-Type") == "text/csv; charset=utf-8"
    assert named.header("Content-Disposition") == "inline; filename=table.csv"
    assert mimetype.header("Content-Type") == "text/x-special; charset=utf-8"


def test_send_file_without_mimetype_is_type_error(
    mod: types.ModuleType, files: pathlib.Path
) -> None:
    app = _file_app(mod, files, TESTING=True)
    with pytest.raises(TypeError):
        app.test_client().get("/fileobj-unknown")


def test_send_file_conditional_and_range(mod: types.ModuleType, files: pathlib.Path) -> None:
    client = _file_app(mod, files).test_client()
    with client.get("/path") as first:
        etag = first.headers["ETag"]
    with client.get("/path", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.data == b""
    with client.get("/path", headers={"Range": "bytes=0-4"}) as partial:
        assert partial.status_code == 206
        assert partial.data == b"hello"
        assert partial.headers["Content-Range"] == "bytes 0-4/11"


def test_send_file_max_age(files: pathlib.Path) -> None:
    (res, static) = compare(
        lambda m: _file_app(m, files, SEND_FILE_MAX_AGE_DEFAULT=60), "/path", "/public/hello.txt"
    )
    assert res.header("Cache-Control") == "public, max-age=60"
    assert static.header("Cache-Control") == "public, max-age=60"
    assert res.header("Expires") is not None


def test_send_from_directory(files: pathlib.Path) -> None:
    secret = str(files / "secret.txt")
    attacks = [
        "/files/../secret.txt",
        "/files/sub/../../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/files/sub/..%5C..%5Csecret.txt",
        f"/files/{secret}",
        f"/files/%2F{secret.lstrip('/')}",
    ]
    results = compare(
        lambda m: _file_app(m, files),
        "/files/hello.txt",
        "/files/sub/page.html",
        "/rel/sub/page.html",
        "/files/missing.txt",
        "/files/sub",
        # "//" in a path is merged by routing with a redirect: follow it to the end.
        *(lambda c, a=a: c.get(a, follow_redirects=True) for a in attacks),
    )
    assert results[0].body == b"hello file\n"
    assert results[1].body == b"<p>page</p>"
    assert results[1].header("Content-Type") == "text/html; charset=utf-8"
    assert results[2].body == b"<p>page</p>"
    for res in results[3:]:
        assert res.code == 404
        assert b"TOP SECRET" not in res.body


def test_send_from_directory_rejects_traversal_directly(
    mod: types.ModuleType, files: pathlib.Path
) -> None:
    app = _file_app(mod, files)
    public = files / "public"
    with app.test_request_context():
        for name in ("../secret.txt", str(files / "secret.txt"), "sub/../../secret.txt"):
            with pytest.raises(NotFound):
                mod.send_from_directory(public, name)
        with mod.send_from_directory(public, "sub/../hello.txt") as response:
            assert response.status_code == 200


def test_static_route(files: pathlib.Path) -> None:
    results = compare(
        lambda m: _file_app(m, files),
        "/public/hello.txt",
        "/public/sub/page.html",
        "/public/../secret.txt",
        "/public/%2e%2e/secret.txt",
        "/public/nope.txt",
    )
    assert results[0].body == b"hello file\n"
    assert results[1].body == b"<p>page</p>"
    for res in results[2:]:
        assert res.code == 404
        assert b"TOP SECRET" not in res.body


def test_static_folder_none_has_no_static_route(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__, static_folder=None)
    assert "static" not in app.view_functions
    assert not app.has_static_folder


def _flash_app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)
    app.secret_key = "flash secret"

    @app.route("/flash")
    def flash() -> str:
        m.flash("plain message")
        m.flash("be careful", "warning")
        m.flash("it broke", "error")
        m.flash("<b>markup</b>", "error")
        return "flashed"

    @app.route("/read")
    def read() -> str:
        first = m.get_flashed_messages()
        # Reading again in the same request gives the same list.
        second = m.get_flashed_messages()
        return f"{first!r} {first == second}"

    @app.route("/categories")
    def categories() -> str:
        return repr(
            [
                m.get_flashed_messages(with_categories=True),
                m.get_flashed_messages(category_filter=["error"]),
                m.get_flashed_messages(with_categories=True, category_filter=["warning"]),
                m.get_flashed_messages(category_filter=["none-such"]),
            ]
        )

    return app


def test_flash_and_get_flashed_messages() -> None:
    def session_free(res: t.Any) -> t.Any:
        return res.code, res.text

    flash1, read, read_again, flash2, cats, after = compare(
        _flash_app,
        "/flash",
        "/read",
        "/read",
        "/flash",
        "/categories",
        "/read",
    )
    assert flash1.text == "flashed"
    assert flash1.header("Set-Cookie") is not None
    assert read.text == ("['plain message', 'be careful', 'it broke', '<b>markup</b>'] True")
    # Messages are consumed by reading them.
    assert read_again.text == "[] True"
    assert flash2.text == "flashed"
    assert cats.text == repr(
        [
            [
                ("message", "plain message"),
                ("warning", "be careful"),
                ("error", "it broke"),
                ("error", "<b>markup</b>"),
            ],
            ["it broke", "<b>markup</b>"],
            [("warning", "be careful")],
            [],
        ]
    )
    assert after.text == "[] True"


def test_flash_without_secret_key_is_runtime_error(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with app.test_request_context(), pytest.raises(RuntimeError) as info:
        mod.flash("no session")
    assert "secret" in str(info.value).lower()

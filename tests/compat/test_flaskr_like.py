"""The flaskr-like app's own test suite, written as a Flask user writes one.

Every test runs twice through the ``flavour`` fixture: once on Flask, once on the same
source ported to ``framework`` (see ``porting.py``). A test that passes on Flask and fails
on framework is a compatibility bug in framework.
"""

from __future__ import annotations

import importlib
import logging
import re
import sqlite3
import typing as t
from contextlib import contextmanager
from pathlib import Path

import pytest

from . import porting
from .conftest import USERS, AuthActions, make_app

# --- factory, config, CLI -----------------------------------------------------------------


def test_factory_without_test_config_reads_instance_config_py(flavour: str, tmp_path: Path) -> None:
    package = porting.load(flavour)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SECRET_KEY = 'from-file'\nSITE_NAME = 'Configured <Blog>'\nlowercase = 'ignored'\n"
    )
    app = package.create_app(instance_path=str(instance))
    assert app.instance_path == str(instance)
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["SITE_NAME"] == "Configured <Blog>"
    assert "lowercase" not in app.config
    assert app.config["DATABASE"] == str(instance / "flaskr_like.sqlite")
    assert not app.testing


def test_factory_without_config_file_keeps_defaults(flavour: str, tmp_path: Path) -> None:
    app = porting.load(flavour).create_app(instance_path=str(tmp_path / "inst"))
    assert (tmp_path / "inst").is_dir()
    assert app.config["SECRET_KEY"] == "dev"
    assert app.config["SITE_NAME"] == "Flaskr-like"


def test_test_config_overrides(app: t.Any, flavour: str) -> None:
    assert app.testing
    assert app.config["SECRET_KEY"] == "compat-secret"
    assert type(app).__module__.partition(".")[0] == flavour


def test_each_copy_uses_only_its_own_framework(flavour: str) -> None:
    package = porting.load(flavour)
    other = next(f for f in porting.FLAVOURS if f != flavour)
    modules = [package] + [getattr(package, sub) for sub in porting.SUBMODULES]
    used = {
        value.__module__.partition(".")[0]
        for module in modules
        for value in vars(module).values()
        if callable(value) and getattr(value, "__module__", None)
    }
    assert flavour in used
    assert other not in used
    for module in modules:
        assert module.__file__.startswith(str(porting.PACKAGE_DIR))
        source = module.__loader__.get_source(module.__name__)
        assert not re.search(rf"^\s*(from|import) {other}\b", source, re.MULTILINE)


def test_default_instance_path_is_next_to_the_package() -> None:
    paths = {
        flavour: porting.load(flavour)
        .Flask(porting.package_name(flavour), instance_relative_config=True)
        .instance_path
        for flavour in porting.FLAVOURS
    }
    assert set(paths.values()) == {str(porting.PACKAGE_DIR.parent / "instance")}


def test_same_url_map_on_both(tmp_path: Path) -> None:
    def rules(flavour: str) -> list[tuple[str, str, tuple[str, ...]]]:
        app = make_app(flavour, tmp_path / flavour)
        return sorted(
            (r.rule, r.endpoint, tuple(sorted(r.methods or ()))) for r in app.url_map.iter_rules()
        )

    ours, theirs = rules("framework"), rules("flask")
    assert ours == theirs
    assert ("/api/posts/<int:id>", "api.post", ("DELETE", "GET", "HEAD", "OPTIONS", "PUT")) in ours


def test_hello(client: t.Any) -> None:
    response = client.get("/hello")
    assert response.data == b"Hello, World!"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_init_db_command(runner: t.Any, app: t.Any, package: t.Any) -> None:
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert result.output == "Initialized the database.\n"
    with app.app_context():
        assert package.db.query("SELECT COUNT(*) AS n FROM post", one=True)["n"] == 0


def test_init_db_command_with_option(runner: t.Any, app: t.Any, package: t.Any) -> None:
    result = runner.invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = package.db.query("SELECT title FROM post")
    assert [r["title"] for r in rows] == ["Welcome"]
    client = app.test_client()
    AuthActions(client).login("demo", "demo")
    assert b'<span class="user">demo</span>' in client.get("/").data


def test_init_db_command_help_and_bad_option(runner: t.Any) -> None:
    result = runner.invoke(args=["init-db", "--help"])
    assert result.exit_code == 0
    assert "Clear the existing data and create new tables." in result.output
    assert "--demo" in result.output
    result = runner.invoke(args=["init-db", "--nope"])
    assert result.exit_code == 2
    assert "Error: No such option '--nope'." in result.output
    assert "init-db --help' for help" in result.output


def test_teardown_closes_the_connection(app: t.Any, package: t.Any) -> None:
    with app.app_context():
        db = package.db.get_db()
        assert db is package.db.get_db()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("SELECT 1")


# --- auth ---------------------------------------------------------------------------------


def test_register(client: t.Any, app: t.Any, package: t.Any) -> None:
    assert client.get("/auth/register").status_code == 200
    response = client.post("/auth/register", data={"username": "carol", "password": "s3cret"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    with app.app_context():
        row = package.db.query("SELECT * FROM user WHERE username = 'carol'", one=True)
    assert row is not None
    assert row["password"] != "s3cret"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<div class="flash success">Welcome, carol! You can log in now.</div>' in page
    assert (
        client.post("/auth/login", data={"username": "carol", "password": "s3cret"}).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", "", "Username is required."),
        ("dave", "", "Password is required."),
        ("alice", "other", "User alice is already registered."),
    ],
)
def test_register_validation(client: t.Any, username: str, password: str, message: str) -> None:
    response = client.post("/auth/register", data={"username": username, "password": password})
    assert response.status_code == 200
    assert f'<div class="flash error">{message}</div>' in response.get_data(as_text=True)
    # The flash was shown once; it is gone from the next page.
    assert message not in client.get("/").get_data(as_text=True)


def test_login(client: t.Any, auth: AuthActions, package: t.Any) -> None:
    assert client.get("/auth/login").status_code == 200
    response = auth.login()
    assert response.headers["Location"] == "/"
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("session=")
    assert "HttpOnly" in set_cookie
    assert "Path=/" in set_cookie
    with client:
        page = client.get("/").get_data(as_text=True)
        # The same ``session`` and ``g`` the app imported from its web framework.
        assert package.auth.session["user_id"] == 1
        assert package.auth.g.user["username"] == "alice"
    assert "Hello again, alice." in page
    assert "Log Out" in page


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("nobody", "wonderland"), ("", "")]
)
def test_login_rejects_bad_credentials(auth: AuthActions, username: str, password: str) -> None:
    response = auth.login(username, password or "-")
    assert response.status_code == 401
    assert "Incorrect username or password." in response.get_data(as_text=True)
    # The flash was added and shown in the same request: the empty session is deleted.
    assert response.headers.getlist("Set-Cookie") == [
        "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/"
    ]


def test_login_missing_field_is_a_400(client: t.Any) -> None:
    response = client.post("/auth/login", data={"username": "alice"})
    assert response.status_code == 400
    assert b"Bad Request" in response.data


@pytest.mark.parametrize(
    ("next_url", "location"),
    [("/create", "/create"), ("//evil.example/", "/"), ("https://evil.example/", "/")],
)
def test_login_redirects_to_next(client: t.Any, next_url: str, location: str) -> None:
    response = client.post(
        "/auth/login",
        query_string={"next": next_url},
        data={"username": "bob", "password": USERS["bob"]},
    )
    assert response.headers["Location"] == location


def test_remember_me_cookie(client: t.Any, auth: AuthActions) -> None:
    response = auth.login(remember="1")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2
    remember = next(c for c in cookies if c.startswith("last_user="))
    assert remember.startswith("last_user=alice; Expires=")
    assert remember.endswith("; Max-Age=3600; Path=/; SameSite=Lax")
    auth.logout()
    assert 'value="alice"' in client.get("/auth/login").get_data(as_text=True)


def test_logout(client: t.Any, auth: AuthActions, package: t.Any) -> None:
    auth.login()
    with client:
        response = auth.logout()
        assert response.status_code == 302
        assert "user_id" not in package.auth.session
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You have been logged out." in page
    assert "Log In" in page


def test_session_transaction_logs_in_directly(client: t.Any) -> None:
    with client.session_transaction() as sess:
        sess["user_id"] = 2
    page = client.get("/").get_data(as_text=True)
    assert '<span class="user">bob</span>' in page
    with client.session_transaction() as sess:
        assert sess["user_id"] == 2
        assert "_flashes" not in sess


def test_session_transaction_sees_pending_flashes(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    with client.session_transaction() as sess:
        assert sess["_flashes"] == [("success", "Hello again, alice.")]
        sess["_flashes"].append(("info", "Injected <b>note</b>"))
        sess.modified = True
    page = client.get("/").get_data(as_text=True)
    assert '<div class="flash info">Injected &lt;b&gt;note&lt;/b&gt;</div>' in page


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/create"), ("GET", "/1/update"), ("POST", "/1/delete"), ("GET", "/export.csv")],
)
def test_login_required(client: t.Any, method: str, path: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/auth/login?next={path}"
    followed = client.get(response.headers["Location"])
    assert '<div class="flash warning">Please log in first.</div>' in followed.get_data(
        as_text=True
    )


def test_login_required_then_back(client: t.Any) -> None:
    response = client.get("/create", follow_redirects=True)
    assert response.request.path == "/auth/login"
    response = client.post(
        "/auth/login?next=%2Fcreate",
        data={"username": "alice", "password": USERS["alice"]},
        follow_redirects=True,
    )
    assert response.request.path == "/create"
    assert [r.status_code for r in response.history] == [302]
    assert "New Post" in response.get_data(as_text=True)


# --- blog ---------------------------------------------------------------------------------


def test_index_anonymous(client: t.Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "<title>Posts - Flaskr-like</title>" in page
    assert 'href="/auth/login"' in page
    assert 'href="/static/style.css"' in page
    assert "Down the rabbit hole" in page
    assert "Yes we can. With a hammer, a level …" in page
    assert page.index("Tea party") < page.index("Can we fix it?")
    assert "Edit" not in page


def test_index_shows_edit_links_for_own_posts_only(client: t.Any, auth: AuthActions) -> None:
    auth.login("bob")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/2/update"' in page
    assert 'href="/1/update"' not in page
    assert 'href="/create"' in page


def test_detail_uses_nl2br_filter(client: t.Any) -> None:
    page = client.get("/1").get_data(as_text=True)
    assert "It was all very curious.<br>\nCuriouser and curiouser!" in page


def test_create(client: t.Any, auth: AuthActions, app: t.Any, package: t.Any) -> None:
    auth.login()
    assert client.get("/create").status_code == 200
    response = client.post("/create", data={"title": "Mad hatter", "body": "Why is a raven"})
    assert response.headers["Location"] == "/"
    with app.app_context():
        count = package.db.query("SELECT COUNT(id) AS n FROM post", one=True)["n"]
    assert count == 4
    page = client.get("/").get_data(as_text=True)
    assert "Post created." in page
    assert page.index("Mad hatter") < page.index("Tea party")


def test_create_requires_title(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    response = client.post("/create", data={"title": "  ", "body": "kept <text>"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Title is required." in page
    # The form macro, imported without context, still sees ``request`` (a template global).
    assert "kept &lt;text&gt;</textarea>" in page


def test_update(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    page = client.get("/1/update").get_data(as_text=True)
    assert 'value="Down the rabbit hole"' in page
    assert 'action="/1/delete"' in page
    response = client.post("/1/update", data={"title": "Renamed", "body": "New body"})
    assert response.headers["Location"] == "/1"
    page = client.get("/1").get_data(as_text=True)
    assert "<title>Renamed - Flaskr-like</title>" in page
    assert "Post updated." in page


@pytest.mark.parametrize(("method", "path"), [("GET", "/2/update"), ("POST", "/2/delete")])
def test_other_users_post_is_forbidden(
    client: t.Any, auth: AuthActions, method: str, path: str
) -> None:
    auth.login("alice")
    response = client.open(path, method=method, data={"title": "x"})
    assert response.status_code == 403
    assert b"<title>403 Forbidden</title>" in response.data
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/9/update", "/9/delete", "/9"])
def test_missing_post_is_404(client: t.Any, auth: AuthActions, path: str) -> None:
    auth.login()
    response = client.post(path) if path.endswith("delete") else client.get(path)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert f"Nothing lives at <code>{path}</code>." in page
    assert '<span class="user">alice</span>' in page


def test_delete(client: t.Any, auth: AuthActions, app: t.Any, package: t.Any) -> None:
    auth.login()
    assert client.get("/1/delete").status_code == 405
    response = client.post("/1/delete")
    assert response.headers["Location"] == "/"
    with app.app_context():
        assert package.db.query("SELECT * FROM post WHERE id = 1", one=True) is None
    assert "Post deleted." in client.get("/").get_data(as_text=True)


def test_user_content_is_escaped(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    client.post(
        "/create",
        data={"title": "<b>bold</b> & co", "body": "<script>alert(1)</script>\nline two"},
    )
    index = client.get("/").get_data(as_text=True)
    detail = client.get("/4").get_data(as_text=True)
    for page in (index, detail):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "&lt;/script&gt;<br>\nline two" in detail
    edit = client.get("/4/update").get_data(as_text=True)
    assert '<title>Edit "&lt;b&gt;bold&lt;/b&gt; &amp; co" - Flaskr-like</title>' in edit


# --- errors -------------------------------------------------------------------------------


def test_404_page(client: t.Any) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>Not Found - Flaskr-like</title>" in page
    assert "Nothing lives at <code>/no/such/page</code>." in page
    assert response.headers["X-Frame-Options"] == "DENY"


def test_500_page(flavour: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(flavour, tmp_path, PROPAGATE_EXCEPTIONS=False)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "<title>Server Error - Flaskr-like</title>" in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [record] = [r for r in caplog.records if r.name == app.logger.name]
    assert record.getMessage() == "Exception on /boom [GET]"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_exceptions_propagate_in_testing(client: t.Any) -> None:
    with pytest.raises(RuntimeError, match="the oven caught fire"):
        client.get("/boom")


def test_non_api_400_is_html(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    response = client.get("/export.csv?sep=ab")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert b"sep must be a single character." in response.data


# --- JSON ---------------------------------------------------------------------------------


def test_json_feed(client: t.Any) -> None:
    response = client.get("/posts.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    data = response.get_json()
    assert data["count"] == 3
    assert data["posts"][0] == {
        "author": "alice",
        "id": 1,
        "title": "Down the rabbit hole",
        "url": "http://localhost/1",
    }
    # Keys are sorted, output is compact and ends with a newline.
    assert response.data.startswith(b'{"count":3,"posts":[{"author":"alice","id":1,')
    assert response.data.endswith(b"}]}\n")


def test_json_list_and_non_ascii(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    client.post("/create", data={"title": "Caf\u00e9 \u2615", "body": ""})
    response = client.get("/posts.json?format=list")
    assert response.get_json()[-1] == "Caf\u00e9 \u2615"
    assert response.data.endswith(b'"Caf\\u00e9 \\u2615"]\n')


def test_jsonify_endpoint(client: t.Any, auth: AuthActions) -> None:
    response = client.get("/authors/bob.json")
    assert response.get_json() == {
        "author": "bob",
        "logged_in": False,
        "titles": ["Can we fix it?"],
    }
    auth.login()
    assert client.get("/authors/bob.json").get_json()["logged_in"] is True
    missing = client.get("/authors/zed.json")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "no author called zed"}


# --- MethodView API -----------------------------------------------------------------------


def test_api_list_and_get(client: t.Any) -> None:
    posts = client.get("/api/posts").get_json()
    assert [p["id"] for p in posts] == [1, 2, 3]
    assert posts[1]["links"] == {"self": "/api/posts/2"}
    post = client.get("/api/posts/3").get_json()
    assert post["title"] == "Tea party"
    head = client.head("/api/posts/3")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(client.get("/api/posts/3").data))


def test_api_missing_post_is_json_404(client: t.Any) -> None:
    response = client.get("/api/posts/42")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found", "message": "No post with id 42."}


def test_api_unknown_url_uses_the_app_404_page(client: t.Any) -> None:
    # Routing errors are not raised by a blueprint view: the app's handler answers.
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert b"Nothing lives at <code>/api/nothing-here</code>." in response.data


def test_api_writes_need_login(client: t.Any) -> None:
    response = client.post("/api/posts", json={"title": "x"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": "Log in to change posts."}


def test_api_create(client: t.Any, auth: AuthActions) -> None:
    auth.login("bob")
    response = client.post("/api/posts", json={"title": " From the API ", "body": "b"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/posts/4"
    assert response.get_json() == {
        "author_id": 2,
        "body": "b",
        "id": 4,
        "links": {"self": "/api/posts/4"},
        "title": "From the API",
    }
    assert "From the API" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": ["not", "an", "object"]}, "Send a JSON object."),
        ({"json": {"body": "no title"}}, "'title' must be a non-empty string."),
        ({"json": {"title": "t", "body": 3}}, "'body' must be a string."),
        (
            {"data": "{not json", "content_type": "application/json"},
            "The browser (or proxy) sent a request that this server could not understand.",
        ),
    ],
)
def test_api_bad_input_is_json_400(
    client: t.Any, auth: AuthActions, kwargs: dict[str, t.Any], message: str
) -> None:
    auth.login()
    response = client.post("/api/posts", **kwargs)
    assert response.status_code == 400
    assert response.get_json() == {"error": "bad request", "message": message}


def test_api_form_body_is_415(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    response = client.post("/api/posts", data={"title": "form"})
    assert response.status_code == 415
    assert response.mimetype == "text/html"
    assert b"Content-Type was not &#39;application/json&#39;" in response.data


def test_api_update_and_delete(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    response = client.put("/api/posts/3", json={"title": "Tea party, again"})
    assert response.status_code == 200
    assert response.get_json()["title"] == "Tea party, again"
    assert response.get_json()["body"] == ""
    response = client.delete("/api/posts/3")
    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" in response.headers
    assert client.get("/api/posts/3").status_code == 404


def test_api_other_users_post_is_json_403(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    for response in (
        client.put("/api/posts/2", json={"title": "mine"}),
        client.delete("/api/posts/2"),
    ):
        assert response.status_code == 403
        assert response.get_json() == {
            "error": "forbidden",
            "message": "That post belongs to someone else.",
        }


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/posts/1", "DELETE, GET, HEAD, OPTIONS, PUT"),
        ("DELETE", "/api/posts", "GET, HEAD, OPTIONS, POST"),
        ("PUT", "/api/posts", "GET, HEAD, OPTIONS, POST"),
    ],
)
def test_api_method_not_allowed(client: t.Any, method: str, path: str, allow: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert ", ".join(sorted(response.headers["Allow"].split(", "))) == allow
    assert b"<title>405 Method Not Allowed</title>" in response.data


def test_api_options(client: t.Any) -> None:
    response = client.options("/api/posts/1")
    assert response.status_code == 200
    assert sorted(response.headers["Allow"].split(", ")) == [
        "DELETE",
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
    ]
    assert response.data == b""


# --- streaming, files ---------------------------------------------------------------------


def test_csv_export_streams_with_context(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    response = client.get("/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=posts.csv"
    assert "Content-Length" not in response.headers
    assert response.is_streamed
    assert response.get_data(as_text=True) == (
        "id,title,author\n1,Down the rabbit hole,alice\n3,Tea party,alice\n# exported by alice\n"
    )


def test_csv_export_separator_and_args(client: t.Any) -> None:
    with client.session_transaction() as sess:
        sess["user_id"] = 2
    response = client.get("/export.csv", query_string={"sep": ";", "by": "robot"})
    assert response.get_data(as_text=True) == (
        "id;title;author\n2;Can we fix it?;bob\n# exported by robot\n"
    )


def test_download(client: t.Any) -> None:
    with client.get("/downloads/notes.txt") as response:
        body = response.data
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == "inline; filename=notes.txt"
    assert response.headers["Cache-Control"] == "no-cache"
    assert body == (porting.PACKAGE_DIR / "downloads" / "notes.txt").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    with client.get("/downloads/notes.txt", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert again.data == b""


def test_download_as_attachment_and_range(client: t.Any) -> None:
    with client.get("/downloads/sample.csv") as response:
        assert response.headers["Content-Disposition"] == "attachment; filename=sample.csv"
        assert response.mimetype == "text/csv"
    with client.get("/downloads/sample.csv", headers={"Range": "bytes=0-1"}) as part:
        assert part.status_code == 206
        assert part.data == b"id"
    assert part.headers["Content-Range"] == "bytes 0-1/17"


@pytest.mark.parametrize(
    "path",
    [
        "/downloads/missing.txt",
        "/downloads/../__init__.py",
        "/downloads/..%2f__init__.py",
        "/downloads/%2e%2e/db.py",
        "/downloads/..\\db.py",
        "/downloads/sub/../../auth.py",
    ],
)
def test_download_traversal_is_404(client: t.Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"Nothing lives at" in response.data
    assert b"import" not in response.data


def test_static_file(client: t.Any) -> None:
    with client.get("/static/style.css") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"
        assert response.data.startswith(b"body {")


def test_streamed_response_runs_teardown_after_the_view_and_after_the_stream(
    client: t.Any, app: t.Any, auth: AuthActions
) -> None:
    # Flask 3.1.3: the contexts are popped (teardown runs) when the view returns, and
    # stream_with_context pushes them again only while the body is iterated, so teardown
    # runs a second time when the stream ends. The db connection is reopened in between.
    events: list[str] = []
    app.teardown_request(lambda exc: events.append("request"))
    app.teardown_appcontext(lambda exc: events.append("appcontext"))
    auth.login()
    events.clear()
    response = client.get("/export.csv")
    assert events == ["request", "appcontext"]
    assert response.get_data(as_text=True).startswith("id,title,author\n1,")
    assert events == ["request", "appcontext"] * 2


@pytest.mark.parametrize("flavour", ["flask", "framework"])
def test_500_log_line_as_the_default_handler_writes_it(
    flavour: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(flavour, tmp_path, PROPAGATE_EXCEPTIONS=False)
    with caplog.at_level(logging.ERROR):
        app.test_client().get("/boom")
    [record] = [r for r in caplog.records if r.name == app.logger.name]
    default_handler = importlib.import_module(f"{flavour}.logging").default_handler
    first_line = default_handler.format(record).splitlines()[0]
    timestamp, _, rest = first_line.partition("] ")
    assert re.fullmatch(r"\[[\d-]+ [\d:,]+", timestamp)
    assert rest == "ERROR in app: Exception on /boom [GET]"
    assert "RuntimeError: the oven caught fire" in default_handler.format(record)


# --- profiles: url_value_preprocessor / url_defaults, View, JSON types, send_file ------------


def test_profile_page(client: t.Any) -> None:
    response = client.get("/u/alice/")
    assert response.headers["Cache-Control"] == "private, max-age=60"
    page = response.get_data(as_text=True)
    assert "<title>alice - Flaskr-like</title>" in page
    assert '<p class="count">2 posts, 3 in total.</p>' in page
    # url_defaults fills in the current username; an explicit one wins.
    assert '<a href="/u/alice/card">card</a>' in page
    assert '<a href="/u/bob/">bob</a>' in page
    assert "<footer>" not in page


def test_profile_template_test_filter_and_config(flavour: str, tmp_path: Path) -> None:
    app = make_app(flavour, tmp_path, SHOW_DEBUG_FOOTER=True)
    page = app.test_client().get("/u/bob/").get_data(as_text=True)
    assert '<p class="count">1 post, 3 in total.</p>' in page
    assert '<li class="long"><a href="/2">Can we fix it?</a>' in page
    assert "<footer>endpoint=profiles.overview blueprint=profiles</footer>" in page


def test_unknown_profile_is_404_and_no_slash_redirects(client: t.Any) -> None:
    response = client.get("/u/zed/card")
    assert response.status_code == 404
    assert b"Nothing lives at <code>/u/zed/card</code>." in response.data
    response = client.get("/u/bob")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/u/bob/"


def test_render_template_string_card(client: t.Any) -> None:
    assert client.get("/u/bob/card").data == (
        b"<p class=card>bob @ Flaskr-like - <a href='/u/bob/'>all posts</a></p>"
    )


def test_stats_json_serialises_dataclass_date_decimal_uuid(client: t.Any) -> None:
    assert client.get("/u/alice/stats.json").get_json() == {
        "joined": "Thu, 29 Feb 2024 00:00:00 GMT",
        "key": "9b8af889-593a-52f2-90ac-37effeecf22b",
        "posts": 2,
        "score": "12.50",
        "seen": "Fri, 01 Mar 2024 12:30:00 GMT",
        "username": "alice",
    }


def test_send_file_from_memory(client: t.Any) -> None:
    with client.get("/u/alice/titles.txt") as response:
        assert response.data == b"Down the rabbit hole\nTea party\n"
        assert response.headers["Content-Disposition"] == ("attachment; filename=alice-titles.txt")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "ETag" not in response.headers
        assert "Last-Modified" not in response.headers


def test_stream_template_is_not_autoescaped_for_txt(client: t.Any, auth: AuthActions) -> None:
    auth.login()
    client.post("/create", data={"title": "<tag> & more", "body": ""})
    response = client.get("/u/alice/feed")
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == (
        "1. Down the rabbit hole <http://localhost/1>\n"
        "2. Tea party <http://localhost/3>\n"
        "3. <tag> & more <http://localhost/4>\n"
        "-- alice"
    )


def test_abort_with_a_response(client: t.Any) -> None:
    response = client.get("/u/bob/teapot")
    assert response.status_code == 418
    assert response.get_json() == {"error": "I'm a teapot", "profile": "/u/bob/"}
    assert response.headers["X-Frame-Options"] == "DENY"


def test_about_class_based_view(client: t.Any) -> None:
    page = client.get("/about").get_data(as_text=True)
    assert "<title>About - Flaskr-like</title>" in page
    assert "Flaskr-like is a demo blog with 3 posts." in page
    assert "You are logged in." not in page
    with client.session_transaction() as sess:
        sess["user_id"] = 1
    assert "You are logged in." in client.get("/about").get_data(as_text=True)
    assert client.post("/about").status_code == 405


# --- config from the environment, permanent sessions, maintenance mode, signals -------------


def test_prefixed_env_config(flavour: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_SITE_NAME", "Env Blog")
    monkeypatch.setenv("FLASK_MAINTENANCE", "true")
    monkeypatch.setenv("FLASK_PERMANENT_SESSION_LIFETIME", "60")
    monkeypatch.setenv("FLASK_LIMITS__posts", "[1, 2]")
    app = porting.load(flavour).create_app(instance_path=str(tmp_path))
    assert app.config["SITE_NAME"] == "Env Blog"
    assert app.config["MAINTENANCE"] is True
    assert app.permanent_session_lifetime.total_seconds() == 60
    assert app.config["LIMITS"] == {"posts": [1, 2]}


def test_remember_me_makes_the_session_permanent(client: t.Any, auth: AuthActions) -> None:
    plain = auth.login().headers["Set-Cookie"]
    assert "Expires=" not in plain
    auth.logout()
    response = auth.login(remember="1")
    session_cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")
    )
    assert "Expires=" in session_cookie
    assert session_cookie.endswith("; HttpOnly; Path=/")
    with client.session_transaction() as sess:
        assert sess.permanent


def test_api_maintenance_mode(flavour: str, tmp_path: Path) -> None:
    app = make_app(flavour, tmp_path, MAINTENANCE=True)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["user_id"] = 1
    assert client.get("/api/posts/1").status_code == 200
    response = client.delete("/api/posts/1")
    assert response.status_code == 503
    assert response.get_json()["error"] == "maintenance"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/posts/1").status_code == 200


@contextmanager
def captured_templates(flavour: str, app: t.Any) -> t.Iterator[list[tuple[str, dict[str, t.Any]]]]:
    """Record (template name, context) of every template the app renders."""
    signals = importlib.import_module(flavour)
    recorded: list[tuple[str, dict[str, t.Any]]] = []

    def record(sender: t.Any, template: t.Any, context: dict[str, t.Any], **extra: t.Any) -> None:
        recorded.append((template.name, context))

    with signals.template_rendered.connected_to(record, app):
        yield recorded


def test_templates_rendered_with_context(flavour: str, client: t.Any, app: t.Any) -> None:
    with captured_templates(flavour, app) as templates:
        client.get("/")
        client.get("/1")
        client.get("/nope")
    assert [name for name, _ in templates] == [
        "blog/index.html",
        "blog/detail.html",
        "errors/404.html",
    ]
    index_context = templates[0][1]
    assert [p["title"] for p in index_context["posts"]] == [
        "Tea party",
        "Can we fix it?",
        "Down the rabbit hole",
    ]
    assert index_context["site_name"] == "Flaskr-like"
    assert callable(index_context["can_edit"])
    assert index_context["g"].user is None
    assert templates[2][1]["path"] == "/nope"


def test_message_flashed_signal(flavour: str, client: t.Any, app: t.Any) -> None:
    module = importlib.import_module(flavour)
    flashed: list[tuple[str, str]] = []

    def record(sender: t.Any, message: str, category: str, **extra: t.Any) -> None:
        flashed.append((category, message))

    with module.message_flashed.connected_to(record, app):
        client.get("/create")
        client.post("/auth/login", data={"username": "bob", "password": USERS["bob"]})
    assert flashed == [("warning", "Please log in first."), ("success", "Hello again, bob.")]


def test_url_for_in_a_test_request_context(app: t.Any, package: t.Any) -> None:
    with app.test_request_context("/u/alice/", base_url="https://blog.example"):
        url_for = package.blog.url_for
        assert url_for("blog.detail", id=3, _external=True) == "https://blog.example/3"
        assert url_for("api.post", id=1, _anchor="top", v=["a", "b"]) == (
            "/api/posts/1?v=a&v=b#top"
        )
        assert url_for("downloads.download", filename="a b/c.txt") == "/downloads/a%20b/c.txt"
        assert url_for("static", filename="style.css") == "/static/style.css"

"""The test client: cookies, redirects, sessions, preserved contexts, builders."""

from __future__ import annotations

import datetime
import decimal
import importlib
import types
import typing as t

import pytest

from ._parity import compare, mod_fixture

mod = mod_fixture()


def _testing(m: types.ModuleType) -> types.ModuleType:
    return importlib.import_module(f"{m.__name__}.testing")


def _app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)
    app.secret_key = "client secret"

    @app.route("/set")
    def set_cookie() -> t.Any:
        response = m.make_response("set")
        response.set_cookie("flavour", m.request.args.get("v", "oat"))
        return response

    @app.route("/get")
    def get_cookie() -> str:
        return m.request.cookies.get("flavour", "none")

    @app.route("/login")
    def login() -> t.Any:
        m.session["user"] = m.request.args.get("user", "ann")
        return m.redirect(m.url_for("home"))

    @app.route("/home")
    def home() -> str:
        return f"home of {m.session.get('user', 'nobody')}"

    @app.route("/hop/<int:n>")
    def hop(n: int) -> t.Any:
        if n == 0:
            return "landed"
        return m.redirect(m.url_for("hop", n=n - 1), 307 if n % 2 else 302)

    @app.route("/echo", methods=["GET", "POST"])
    def echo() -> t.Any:
        return {
            "json": m.request.get_json(silent=True),
            "content_type": m.request.content_type,
            "remote_addr": m.request.remote_addr,
            "user_agent": m.request.user_agent.string,
            "host": m.request.host,
            "scheme": m.request.scheme,
            "path": m.request.path,
            "script_root": m.request.script_root,
        }

    return app


def test_cookies_kept_across_requests() -> None:
    before, setting, after, changed, after_change = compare(
        _app, "/get", "/set", "/get", "/set?v=rye", "/get"
    )
    assert before.text == "none"
    assert setting.header("Set-Cookie") == "flavour=oat; Path=/"
    assert after.text == "oat"
    assert changed.header("Set-Cookie") == "flavour=rye; Path=/"
    assert after_change.text == "rye"


def test_cookie_helpers_and_use_cookies_false(mod: types.ModuleType) -> None:
    app = _app(mod)
    client = app.test_client()
    client.set_cookie("flavour", "spelt")
    assert client.get("/get").text == "spelt"
    client.get("/set?v=barley")
    cookie = client.get_cookie("flavour")
    assert cookie is not None
    assert cookie.value == "barley"
    client.delete_cookie("flavour")
    assert client.get("/get").text == "none"

    no_cookies = app.test_client(use_cookies=False)
    no_cookies.get("/set")
    assert no_cookies.get("/get").text == "none"


def test_follow_redirects_and_history(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    response = client.get("/hop/3", follow_redirects=True)
    assert response.text == "landed"
    assert response.request.path == "/hop/0"
    assert [r.status_code for r in response.history] == [307, 302, 307]
    assert [r.request.path for r in response.history] == ["/hop/3", "/hop/2", "/hop/1"]
    unfollowed = client.get("/hop/1")
    assert unfollowed.status_code == 307
    assert unfollowed.location == "/hop/0"
    assert unfollowed.history == ()


def test_redirect_after_login_keeps_session(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    response = client.get("/login?user=bo", follow_redirects=True)
    assert response.text == "home of bo"
    assert client.get("/home").text == "home of bo"


def test_session_transaction(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    with client.session_transaction() as sess:
        assert dict(sess) == {}
        sess["user"] = "cy"
    assert client.get("/home").text == "home of cy"
    client.get("/login?user=di")
    with client.session_transaction() as sess:
        assert sess["user"] == "di"
        sess["user"] = "ed"
    assert client.get("/home").text == "home of ed"
    with client.session_transaction() as sess:
        sess.clear()
    assert client.get("/home").text == "home of nobody"


def test_session_transaction_errors(mod: types.ModuleType) -> None:
    no_key = mod.Flask(__name__)
    with pytest.raises(RuntimeError), no_key.test_client().session_transaction():
        pass
    app = _app(mod)
    with pytest.raises(TypeError), app.test_client(use_cookies=False).session_transaction():
        pass


def test_with_client_preserves_request_context(mod: types.ModuleType) -> None:
    app = _app(mod)
    torn_down: list[str] = []

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(mod.request.path)

    @app.teardown_appcontext
    def teardown_app(exc: BaseException | None) -> None:
        torn_down.append("app")

    with app.test_client() as client:
        client.get("/login?user=fa")
        assert mod.request.path == "/login"
        assert mod.request.args["user"] == "fa"
        assert mod.session["user"] == "fa"
        assert mod.current_app._get_current_object() is app
        # Teardown functions ran at the end of the request; the context is kept pushed.
        assert torn_down == ["/login", "app"]
        client.get("/home")
        # The preserved context is popped (torn down again, as in Flask) when the next
        # request starts: one request teardown and one app teardown, no more.
        assert torn_down == ["/login", "app", "/login", "app", "/home", "app"]
        assert mod.request.path == "/home"
    assert torn_down == ["/login", "app", "/login", "app", "/home", "app", "/home", "app"]
    assert not mod.has_request_context()
    assert not mod.has_app_context()


def test_with_client_cannot_be_nested(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    with client, pytest.raises(RuntimeError), client:
        pass


def test_request_context_popped_without_with_block(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    client.get("/home")
    assert not mod.has_request_context()


def test_json_argument_and_response_json() -> None:
    (posted,) = compare(_app, lambda c: c.post("/echo", json={"a": [1, "ü"], "b": None}))
    assert posted.text.startswith('{"content_type":"application/json","host":"localhost"')
    assert '"json":{"a":[1,"\\u00fc"],"b":null}' in posted.text


def test_response_json_property(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    data = client.post("/echo", json={"k": 1}).json
    assert data["json"] == {"k": 1}
    assert data["remote_addr"] == "127.0.0.1"
    assert data["user_agent"].startswith("Werkzeug/")


def test_environ_base() -> None:
    def build(m: types.ModuleType) -> t.Any:
        return _app(m)

    default, per_request = compare(
        build,
        "/echo",
        lambda c: c.get("/echo", environ_base={"REMOTE_ADDR": "10.0.0.9"}),
    )
    assert '"remote_addr":"127.0.0.1"' in default.text
    assert '"remote_addr":"10.0.0.9"' in per_request.text


def test_client_environ_base_attribute(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    client.environ_base["HTTP_USER_AGENT"] = "custom-agent/1"
    data = client.get("/echo").json
    assert (data["remote_addr"], data["user_agent"]) == ("192.0.2.1", "custom-agent/1")


def test_environ_builder(mod: types.ModuleType) -> None:
    app = _app(mod)
    app.config.update(
        SERVER_NAME="example.test", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https"
    )
    builder = _testing(mod).EnvironBuilder(app, "/echo", method="POST", json={"via": "builder"})
    environ = builder.get_environ()
    builder.close()
    assert environ["HTTP_HOST"] == "example.test"
    assert environ["SCRIPT_NAME"] == "/root"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["PATH_INFO"] == "/echo"

    builder = _testing(mod).EnvironBuilder(app, "/echo", method="POST", json={"via": "builder"})
    data = app.test_client().open(builder).json
    builder.close()
    assert data["json"] == {"via": "builder"}
    assert (data["host"], data["scheme"], data["script_root"]) == (
        "example.test",
        "https",
        "/root",
    )
    with pytest.raises(AssertionError):
        _testing(mod).EnvironBuilder(app, "/", base_url="http://x.test", subdomain="api")
    with pytest.raises(AssertionError):
        _testing(mod).EnvironBuilder(app, "/", base_url="http://x.test", url_scheme="https")


def test_client_open_accepts_environ_dict_and_subdomain(mod: types.ModuleType) -> None:
    app = _app(mod)
    client = app.test_client()
    builder = _testing(mod).EnvironBuilder(app, "/echo", base_url="http://h.test")
    environ = builder.get_environ()
    builder.close()
    assert client.open(environ).json["host"] == "h.test"
    app.config["SERVER_NAME"] = "example.test"
    assert client.get("/echo", subdomain="api").json["host"] == "api.example.test"
    assert client.get("/echo", url_scheme="https").json["scheme"] == "https"


def test_test_client_class(mod: types.ModuleType) -> None:
    class MyClient(_testing(mod).FlaskClient):  # type: ignore[misc,name-defined]
        def get_home(self) -> t.Any:
            return self.get("/home")

    app = _app(mod)
    app.test_client_class = MyClient
    client = app.test_client()
    assert isinstance(client, MyClient)
    assert client.get_home().text == "home of nobody"


def test_head_and_other_methods(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    assert client.head("/home").data == b""
    assert client.post("/home").status_code == 405
    assert client.options("/home").headers["Allow"]


def test_session_transaction_for_another_host(mod: types.ModuleType) -> None:
    client = _app(mod).test_client()
    with client.session_transaction(base_url="http://h.test") as sess:
        sess["user"] = "gi"
    # The cookie belongs to h.test: other hosts do not get it.
    assert client.get("/home", base_url="http://h.test").text == "home of gi"
    assert client.get("/home").text == "home of nobody"


def test_json_argument_uses_the_app_json_provider() -> None:
    payload = {"when": datetime.date(2020, 1, 2), "amount": decimal.Decimal("1.50")}
    (res,) = compare(_app, lambda c: c.post("/echo", json=payload))
    assert '"json":{"amount":"1.50","when":"Thu, 02 Jan 2020 00:00:00 GMT"}' in res.text

"""URL rules: registration, converters, methods, slashes, automatic HEAD/OPTIONS, 404/405."""

from __future__ import annotations

import types
import typing as t
import uuid

import pytest
from werkzeug.routing import BaseConverter

from ._parity import compare, mod_fixture

mod = mod_fixture()


def test_add_url_rule_and_route(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    def index() -> str:
        return "index"

    app.add_url_rule("/", view_func=index)
    app.add_url_rule("/named", "custom_name", index)

    @app.route("/deco", endpoint="deco_ep")
    def decorated() -> str:
        return "decorated"

    client = app.test_client()
    assert client.get("/").text == "index"
    assert client.get("/named").text == "index"
    assert client.get("/deco").text == "decorated"
    assert app.view_functions["index"] is index
    assert app.view_functions["custom_name"] is index
    assert app.view_functions["deco_ep"] is decorated
    assert {r.endpoint for r in app.url_map.iter_rules()} == {
        "static",
        "index",
        "custom_name",
        "deco_ep",
    }
    rule = next(app.url_map.iter_rules("index"))
    assert rule.methods == {"GET", "HEAD", "OPTIONS"}


def test_add_url_rule_without_view_then_endpoint_decorator(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.add_url_rule("/later", "later")

    @app.endpoint("later")
    def later_view() -> str:
        return "late binding"

    assert app.view_functions["later"] is later_view
    assert app.test_client().get("/later").text == "late binding"


def test_add_url_rule_needs_view_or_endpoint(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with pytest.raises((TypeError, AssertionError)):
        app.add_url_rule("/nothing")


def test_methods_as_string_is_type_error(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with pytest.raises(TypeError):
        app.add_url_rule("/x", "x", lambda: "x", methods="POST")


def test_method_shortcuts_register_one_method() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        for verb in ("get", "post", "put", "delete", "patch"):

            def view(verb: str = verb) -> str:
                return f"{verb} handled"

            getattr(app, verb)(f"/{verb}", endpoint=verb)(view)
        return app

    results = compare(
        build,
        lambda c: c.get("/get"),
        lambda c: c.post("/post"),
        lambda c: c.put("/put"),
        lambda c: c.delete("/delete"),
        lambda c: c.patch("/patch"),
        lambda c: c.get("/post"),
        lambda c: c.post("/get"),
        lambda c: c.put("/patch"),
        lambda c: c.head("/get"),
        lambda c: c.options("/delete"),
    )
    for verb, res in zip(("get", "post", "put", "delete", "patch"), results, strict=False):
        assert res.code == 200
        assert res.text == f"{verb} handled"
    assert [r.code for r in results[5:8]] == [405, 405, 405]
    assert results[5].header("Allow") == "OPTIONS, POST"
    assert results[6].header("Allow") == "GET, HEAD, OPTIONS"
    assert results[8].code == 200
    assert results[8].body == b""
    assert results[8].header("Content-Length") == str(len("get handled"))
    assert results[9].code == 200
    assert results[9].header("Allow") == "DELETE, OPTIONS"


@pytest.mark.parametrize("verb", ["get", "post", "put", "delete", "patch"])
def test_method_shortcut_rejects_methods_argument(mod: types.ModuleType, verb: str) -> None:
    app = mod.Flask(__name__)
    with pytest.raises(TypeError) as info:
        getattr(app, verb)("/x", methods=["GET"])
    assert "route" in str(info.value)


class ListConverter(BaseConverter):
    """``a,b,c`` in the URL <-> ``["a", "b", "c"]`` in the view."""

    def to_python(self, value: str) -> list[str]:
        return value.split(",")

    def to_url(self, value: t.Any) -> str:
        to_url = super().to_url
        return ",".join(to_url(v) for v in value)


def _converter_app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)
    app.url_map.converters["list"] = ListConverter

    @app.route("/int/<int:n>")
    def as_int(n: int) -> str:
        return f"{type(n).__name__}:{n!r}"

    @app.route("/float/<float:x>")
    def as_float(x: float) -> str:
        return f"{type(x).__name__}:{x!r}"

    @app.route("/path/<path:p>")
    def as_path(p: str) -> str:
        return f"path:{p}"

    @app.route("/uuid/<uuid:u>")
    def as_uuid(u: uuid.UUID) -> str:
        return f"{type(u).__name__}:{u}"

    @app.route("/any/<any(red, green):colour>")
    def as_any(colour: str) -> str:
        return f"any:{colour}"

    @app.route("/str/<s>")
    def as_str(s: str) -> str:
        return f"{type(s).__name__}:{s}"

    @app.route("/list/<list:items>")
    def as_list(items: list[str]) -> str:
        return f"list:{items!r}"

    return app


def test_converters_match_and_convert() -> None:
    u = "6f1c7f2e-8b55-4e3c-9a36-0d7b0a8b1b2c"
    results = compare(
        _converter_app,
        "/int/42",
        "/int/-1",
        "/int/x",
        "/float/1.5",
        "/float/2",
        f"/path/a/b/{u}",
        f"/uuid/{u}",
        "/uuid/not-a-uuid",
        "/any/green",
        "/any/blue",
        "/str/hello%20there",
        "/str/a/b",
        "/list/a,b,c",
    )
    texts = [r.text if r.code == 200 else r.code for r in results]
    assert texts == [
        "int:42",
        404,
        404,
        "float:1.5",
        404,
        f"path:a/b/{u}",
        f"UUID:{u}",
        404,
        "any:green",
        404,
        "str:hello there",
        404,
        "list:['a', 'b', 'c']",
    ]


def test_converters_build_urls(mod: types.ModuleType) -> None:
    app = _converter_app(mod)
    with app.test_request_context():
        assert mod.url_for("as_int", n=7) == "/int/7"
        assert mod.url_for("as_path", p="x/y z") == "/path/x/y%20z"
        assert mod.url_for("as_list", items=["a", "b"]) == "/list/a,b"
        assert mod.url_for("as_any", colour="red") == "/any/red"
        u = uuid.UUID(int=1)
        assert mod.url_for("as_uuid", u=u) == f"/uuid/{u}"


def _slash_app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)

    @app.route("/dir/")
    def directory() -> str:
        return "dir"

    @app.route("/file")
    def file() -> str:
        return "file"

    @app.route("/loose/", strict_slashes=False)
    def loose() -> str:
        return "loose"

    @app.route("/form/", methods=["POST"])
    def form() -> str:
        return "form"

    return app


def test_strict_slashes() -> None:
    results = compare(
        _slash_app,
        "/dir",
        "/dir/",
        "/file",
        "/file/",
        "/loose",
        "/loose/",
        "/dir?a=1",
        lambda c: c.post("/form", data={"a": "1"}),
    )
    redirect, ok, file_ok, file_404, loose1, loose2, with_query, post = results
    assert redirect.code == 308
    assert redirect.header("Location") == "http://localhost/dir/"
    assert ok.text == "dir"
    assert file_ok.text == "file"
    assert file_404.code == 404
    assert (loose1.code, loose1.text) == (200, "loose")
    assert (loose2.code, loose2.text) == (200, "loose")
    assert with_query.header("Location") == "http://localhost/dir/?a=1"
    assert post.code == 308


def test_strict_slashes_redirect_followed(mod: types.ModuleType) -> None:
    client = _slash_app(mod).test_client()
    response = client.post("/form", data={"a": "1"}, follow_redirects=True)
    assert response.text == "form"
    assert [r.status_code for r in response.history] == [308]


def test_debug_post_redirect_to_slash_is_a_plain_308(mod: types.ModuleType) -> None:
    # 308 keeps the body, so even in debug mode no "form data lost" error is raised.
    app = _slash_app(mod)
    app.debug = True
    assert app.test_client().post("/form", data={"a": "1"}).status_code == 308


def _methods_app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.config.update(config)

    @app.route("/both", methods=["GET", "POST"])
    def both() -> str:
        return m.request.method

    @app.route("/post-only", methods=["post"])
    def post_only() -> str:
        return "posted"

    @app.route("/own-options", methods=["GET", "OPTIONS"])
    def own_options() -> t.Any:
        if m.request.method == "OPTIONS":
            return "custom options", 200, {"X-Own": "yes"}
        return "get"

    @app.route("/no-auto", provide_automatic_options=False)
    def no_auto() -> str:
        return "no auto"

    return app


def test_methods_head_and_options() -> None:
    results = compare(
        _methods_app,
        "/both",
        lambda c: c.post("/both"),
        lambda c: c.put("/both"),
        lambda c: c.head("/both"),
        lambda c: c.options("/both"),
        lambda c: c.post("/post-only"),
        "/post-only",
        lambda c: c.head("/post-only"),
        lambda c: c.options("/post-only"),
        lambda c: c.options("/own-options"),
        lambda c: c.options("/no-auto"),
        lambda c: c.options("/nowhere"),
    )
    get, post, put, head, options, post_only, get_po, head_po, opt_po, own, no_auto, nowhere = (
        results
    )
    assert (get.text, post.text) == ("GET", "POST")
    assert put.code == 405
    assert put.header("Allow") == "GET, HEAD, OPTIONS, POST"
    assert head.code == 200
    assert head.body == b""
    assert options.code == 200
    assert options.body == b""
    assert options.header("Allow") == "GET, HEAD, OPTIONS, POST"
    assert post_only.text == "posted"
    assert get_po.code == 405
    assert get_po.header("Allow") == "OPTIONS, POST"
    assert head_po.code == 405
    assert opt_po.header("Allow") == "OPTIONS, POST"
    assert (own.text, own.header("X-Own")) == ("custom options", "yes")
    assert no_auto.code == 405
    assert nowhere.code == 404


def test_provide_automatic_options_config_off() -> None:
    results = compare(
        lambda m: _methods_app(m, PROVIDE_AUTOMATIC_OPTIONS=False),
        lambda c: c.options("/both"),
        lambda c: c.options("/own-options"),
    )
    assert results[0].code == 405
    assert results[0].header("Allow") == "GET, HEAD, POST"
    assert results[1].text == "custom options"


def test_view_function_attributes_control_methods(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    def view() -> str:
        return mod.request.method

    view.methods = ["PUT"]  # type: ignore[attr-defined]
    view.required_methods = ["PATCH"]  # type: ignore[attr-defined]
    view.provide_automatic_options = False  # type: ignore[attr-defined]
    app.add_url_rule("/v", view_func=view)
    rule = next(app.url_map.iter_rules("view"))
    assert rule.methods == {"PUT", "PATCH"}
    client = app.test_client()
    assert client.put("/v").text == "PUT"
    assert client.patch("/v").text == "PATCH"
    assert client.options("/v").status_code == 405


def test_404_and_405_responses() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.add_url_rule("/only-get", "only_get", lambda: "x")
        return app

    missing, wrong_method = compare(build, "/missing", lambda c: c.delete("/only-get"))
    assert missing.status == "404 NOT FOUND"
    assert missing.header("Content-Type") == "text/html; charset=utf-8"
    assert b"<title>404 Not Found</title>" in missing.body
    assert b"The requested URL was not found on the server." in missing.body
    assert wrong_method.status == "405 METHOD NOT ALLOWED"
    assert wrong_method.header("Allow") == "GET, HEAD, OPTIONS"
    assert b"The method is not allowed for the requested URL." in wrong_method.body


def test_rule_defaults_redirect_and_redirect_to() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/users/", defaults={"page": 1})
        @app.route("/users/page/<int:page>")
        def users(page: int) -> str:
            return f"page {page}"

        app.add_url_rule("/old", "old", redirect_to="/users/")
        return app

    first, second, canonical, old = compare(
        build, "/users/", "/users/page/2", "/users/page/1", "/old"
    )
    assert first.text == "page 1"
    assert second.text == "page 2"
    assert canonical.code == 308
    assert canonical.header("Location") == "http://localhost/users/"
    assert old.code == 308
    assert old.header("Location") == "http://localhost/users/"


def _lang_app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)

    @app.url_defaults
    def add_language_code(endpoint: str, values: dict[str, t.Any]) -> None:
        if "lang_code" in values or not m.g.get("lang_code"):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang_code"):
            values["lang_code"] = m.g.lang_code

    @app.url_value_preprocessor
    def pull_lang_code(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        m.g.lang_code = values.pop("lang_code", None) if values else None

    @app.route("/<lang_code>/")
    def index() -> str:
        return f"{m.g.lang_code} index -> {m.url_for('about')} / {m.url_for('plain')}"

    @app.route("/<lang_code>/about")
    def about() -> str:
        return f"{m.g.lang_code} about {m.request.view_args!r}"

    @app.route("/plain")
    def plain() -> str:
        return f"plain {m.g.lang_code!r} -> {m.url_for('about', lang_code='fr')}"

    return app


def test_url_value_preprocessor_and_url_defaults() -> None:
    index, about, plain = compare(_lang_app, "/de/", "/en/about", "/plain")
    assert index.text == "de index -> /de/about / /plain"
    assert about.text == "en about {}"
    assert plain.text == "plain None -> /fr/about"


def test_duplicate_endpoint_is_assertion_error(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)

    @app.route("/a")
    def view() -> str:
        return "a"

    # The same function again under another URL is fine.
    app.add_url_rule("/a2", view_func=view)

    def other() -> str:
        return "b"

    with pytest.raises(AssertionError) as info:
        app.add_url_rule("/b", "view", other)
    assert "view" in str(info.value)
    assert app.view_functions["view"] is view
    assert app.test_client().get("/a2").text == "a"


def test_setup_after_first_request_is_assertion_error(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    app.add_url_rule("/", "index", lambda: "hi")
    assert app.test_client().get("/").text == "hi"

    setups: list[t.Callable[[], t.Any]] = [
        lambda: app.add_url_rule("/late", "late", lambda: "late"),
        lambda: app.route("/late2")(lambda: "x"),
        lambda: app.get("/late3"),
        lambda: app.before_request(lambda: None),
        lambda: app.after_request(lambda r: r),
        lambda: app.teardown_request(lambda e: None),
        lambda: app.teardown_appcontext(lambda e: None),
        lambda: app.errorhandler(404)(lambda e: "x"),
        lambda: app.register_error_handler(500, lambda e: "x"),
        lambda: app.url_value_preprocessor(lambda e, v: None),
        lambda: app.url_defaults(lambda e, v: None),
        lambda: app.context_processor(dict),
        lambda: app.template_filter()(str),
        lambda: app.endpoint("x")(str),
        lambda: app.register_blueprint(mod.Blueprint("bp", __name__)),
    ]
    for setup in setups:
        with pytest.raises(AssertionError) as info:
            setup()
        assert "first request" in str(info.value)
    # Nothing leaked into the app.
    assert "late" not in app.view_functions
    assert "bp" not in app.blueprints


def test_setup_check_applies_to_requests_in_test_request_context(mod: types.ModuleType) -> None:
    # Only a dispatched request counts as "first request", not a pushed context.
    app = mod.Flask(__name__)
    with app.test_request_context("/"):
        pass
    app.add_url_rule("/", "index", lambda: "still allowed")
    assert app.test_client().get("/").text == "still allowed"


def test_host_independent_routing_with_server_name() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.config["SERVER_NAME"] = "example.test"
        app.add_url_rule("/", "index", lambda: m.request.host)
        return app

    same, other = compare(
        build,
        lambda c: c.get("/"),
        lambda c: c.get("/", base_url="http://other.test"),
    )
    assert same.text == "example.test"
    assert (other.code, other.text) == (200, "other.test")


def test_subdomain_matching() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__, subdomain_matching=True)
        app.config["SERVER_NAME"] = "example.test"
        app.add_url_rule("/", "root", lambda: "root")
        app.add_url_rule("/", "api", lambda: "api", subdomain="api")

        @app.route("/", subdomain="<user>")
        def user_home(user: str) -> str:
            return f"user {user} -> {m.url_for('api', _external=True)}"

        return app

    root, api, user = compare(
        build,
        lambda c: c.get("/"),
        lambda c: c.get("/", subdomain="api"),
        lambda c: c.get("/", subdomain="ann"),
    )
    assert root.text == "root"
    assert api.text == "api"
    assert user.text == "user ann -> http://api.example.test/"

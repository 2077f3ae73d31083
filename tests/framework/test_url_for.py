"""Building URLs with ``url_for`` inside and outside requests."""

from __future__ import annotations

import types
import typing as t

import pytest
from werkzeug.routing import BuildError

from ._parity import compare, mod_fixture

mod = mod_fixture()


def _app(m: types.ModuleType, **config: t.Any) -> t.Any:
    app = m.Flask(__name__)
    app.config.update(config)
    app.add_url_rule("/", "index", lambda: "index")
    app.add_url_rule("/user/<name>", "user", lambda name: name)

    def thing() -> str:
        return m.request.method

    app.add_url_rule("/thing", view_func=thing, methods=["GET"])
    app.add_url_rule("/thing/new", view_func=thing, methods=["POST"])
    return app


def test_relative_urls_in_request(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.test_request_context("/"):
        assert mod.url_for("index") == "/"
        assert mod.url_for("user", name="ann") == "/user/ann"
        assert mod.url_for("user", name="a b/c") == "/user/a%20b/c"
        # Values the rule does not use become the query string.
        assert mod.url_for("user", name="ann", page=2) == "/user/ann?page=2"
        assert mod.url_for("index", q=["x", "y"]) == "/?q=x&q=y"
        assert mod.url_for("index", q=None) == "/"
        assert mod.url_for("index", q="ä&=") == "/?q=%C3%A4%26%3D"
        assert app.url_for("index") == "/"


def test_external_scheme_anchor_and_method(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.test_request_context("/", base_url="http://site.test:8080"):
        assert mod.url_for("index", _external=True) == "http://site.test:8080/"
        assert mod.url_for("index", _external=False) == "/"
        # _scheme implies an external URL.
        assert mod.url_for("index", _scheme="https") == "https://site.test:8080/"
        assert mod.url_for("index", _scheme="https", _external=True) == "https://site.test:8080/"
        assert mod.url_for("index", _anchor="top") == "/#top"
        assert mod.url_for("index", _anchor="a b&c/d?é#x") == "/#a%20b&c/d?%C3%A9#x"
        assert mod.url_for("user", name="x", _anchor="s", q=1) == "/user/x?q=1#s"
        assert mod.url_for("thing") == "/thing"
        assert mod.url_for("thing", _method="GET") == "/thing"
        assert mod.url_for("thing", _method="POST") == "/thing/new"


def test_scheme_without_external_is_value_error(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.test_request_context(), pytest.raises(ValueError) as info:
        mod.url_for("index", _scheme="https", _external=False)
    assert "_external" in str(info.value)


def test_url_for_in_views_matches_flask() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _app(m)

        @app.route("/links")
        def links() -> str:
            return " ".join(
                [
                    m.url_for("index"),
                    m.url_for("user", name="bo", _external=True),
                    m.url_for("index", _anchor="x y"),
                    m.url_for("thing", _method="POST", _scheme="https"),
                    m.url_for("user", name="é", extra="1"),
                ]
            )

        return app

    (res,) = compare(build, lambda c: c.get("/links", base_url="https://h.test/root"))
    assert res.text == (
        "/root/ https://h.test/root/user/bo /root/#x%20y https://h.test/root/thing/new "
        "/root/user/%C3%A9?extra=1"
    )


def test_outside_request_with_server_name(mod: types.ModuleType) -> None:
    app = _app(
        mod,
        SERVER_NAME="example.test:8000",
        APPLICATION_ROOT="/app",
        PREFERRED_URL_SCHEME="https",
    )
    with app.app_context():
        # Outside a request URLs are external by default.
        assert mod.url_for("index") == "https://example.test:8000/app/"
        assert mod.url_for("user", name="x", _external=False) == "/app/user/x"
        assert mod.url_for("index", _scheme="http") == "http://example.test:8000/app/"
    # app.url_for works without any context when SERVER_NAME is set.
    assert app.url_for("user", name="y") == "https://example.test:8000/app/user/y"


def test_outside_request_without_server_name_is_runtime_error(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.app_context(), pytest.raises(RuntimeError) as info:
        mod.url_for("index")
    assert "SERVER_NAME" in str(info.value)
    with pytest.raises(RuntimeError):
        app.url_for("index")


def test_outside_any_context_is_runtime_error(mod: types.ModuleType) -> None:
    with pytest.raises(RuntimeError) as info:
        mod.url_for("index")
    assert "application context" in str(info.value)


def test_build_error_messages(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.test_request_context():
        with pytest.raises(BuildError) as info:
            mod.url_for("indx")
        message = str(info.value)
        assert "Could not build url for endpoint 'indx'" in message
        assert "Did you mean 'index' instead?" in message
        with pytest.raises(BuildError) as info:
            mod.url_for("user")
        assert "name" in str(info.value)
        with pytest.raises(BuildError):
            mod.url_for("thing", _method="DELETE")


def test_url_build_error_handlers(mod: types.ModuleType) -> None:
    app = _app(mod)
    calls: list[tuple[str, str, dict[str, t.Any]]] = []

    def handler(error: BuildError, endpoint: str, values: dict[str, t.Any]) -> str | None:
        calls.append((type(error).__name__, endpoint, dict(values)))
        if endpoint == "external.page":
            return f"https://other.test/{values['slug']}"
        return None

    app.url_build_error_handlers.append(handler)
    with app.test_request_context():
        assert mod.url_for("external.page", slug="s") == "https://other.test/s"
        with pytest.raises(BuildError):
            mod.url_for("still.missing")
    assert calls[0][:2] == ("BuildError", "external.page")
    # The handler sees the values and the underscore options of the call.
    assert calls[0][2] == {
        "slug": "s",
        "_anchor": None,
        "_method": None,
        "_scheme": None,
        "_external": False,
    }
    assert calls[1][:2] == ("BuildError", "still.missing")


def test_url_build_error_handler_can_raise_its_own_error(mod: types.ModuleType) -> None:
    app = _app(mod)

    def handler(error: BuildError, endpoint: str, values: dict[str, t.Any]) -> str:
        raise LookupError(f"no URL for {endpoint}")

    app.url_build_error_handlers.append(handler)
    with app.test_request_context(), pytest.raises(LookupError, match="no URL for nope"):
        mod.url_for("nope")


def test_url_defaults_fill_values(mod: types.ModuleType) -> None:
    app = _app(mod)

    @app.url_defaults
    def default_name(endpoint: str, values: dict[str, t.Any]) -> None:
        if endpoint == "user":
            values.setdefault("name", "default-user")

    with app.test_request_context():
        assert mod.url_for("user") == "/user/default-user"
        assert mod.url_for("user", name="given") == "/user/given"


def test_static_url(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__, static_url_path="/assets")
    with app.test_request_context():
        assert mod.url_for("static", filename="css/site.css") == "/assets/css/site.css"


def test_relative_endpoints_and_blueprints() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = _app(m)
        bp = m.Blueprint("shop", __name__, url_prefix="/shop")

        @bp.route("/")
        def front() -> str:
            return " ".join([m.url_for(".item", n=1), m.url_for("index"), m.url_for(".front")])

        @bp.route("/item/<int:n>")
        def item(n: int) -> str:
            return m.url_for("shop.item", n=n + 1)

        app.register_blueprint(bp)
        app.add_url_rule("/dot", "dot", lambda: m.url_for(".index"))
        return app

    front, item, dot = compare(build, "/shop/", "/shop/item/1", "/dot")
    assert front.text == "/shop/item/1 / /shop/"
    assert item.text == "/shop/item/2"
    # Outside a blueprint a leading dot is simply dropped.
    assert dot.text == "/"

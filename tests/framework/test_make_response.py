"""Turning view return values into responses, for every accepted (and rejected) type."""

from __future__ import annotations

import types
import typing as t
import warnings

import pytest
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as WerkzeugResponse

from ._parity import compare, mod_fixture

mod = mod_fixture()


class PlainResponse(WerkzeugResponse):
    """A werkzeug response subclass that is not the app's response class."""

    default_mimetype = "text/plain"


def _wsgi_app(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("202 ACCEPTED", [("Content-Type", "text/x-wsgi"), ("X-Wsgi", "1")])
    return [b"from ", b"wsgi ", environ["PATH_INFO"].encode()]


RETURN_VALUES: dict[str, t.Callable[[types.ModuleType], t.Any]] = {
    "str": lambda m: "text ✓",
    "bytes": lambda m: b"raw \xff bytes",
    "bytearray": lambda m: bytearray(b"array"),
    "dict": lambda m: {"b": 1, "a": [1, 2]},
    "list": lambda m: [1, "two", None],
    "generator": lambda m: (part for part in ["gen", "er", "ated"]),
    "iterator": lambda m: iter([b"it", b"er"]),
    "str_status": lambda m: ("created", 201),
    "str_status_string": lambda m: ("created", "201 CREATED"),
    "str_status_code_only_string": lambda m: ("custom", "299"),
    "str_status_custom_reason": lambda m: ("custom", "299 Custom Reason"),
    "headers_dict": lambda m: ("with headers", {"X-A": "1", "Content-Type": "text/plain"}),
    "headers_list": lambda m: ("with list", [("X-A", "1"), ("X-B", "2")]),
    "headers_obj": lambda m: ("with Headers", Headers([("X-A", "1")])),
    "status_and_headers": lambda m: ("both", 418, {"X-Tea": "pot"}),
    "status_none_and_headers": lambda m: ("none status", None, {"X-A": "1"}),
    "dict_status": lambda m: ({"error": "nope"}, 400),
    "list_headers": lambda m: ([1], {"X-List": "yes"}),
    "response": lambda m: m.Response("resp", status=203, mimetype="text/csv"),
    "response_status_override": lambda m: (m.Response("resp"), 404),
    "response_headers": lambda m: (m.Response("resp"), {"X-Extra": "1"}),
    "generator_status": lambda m: ((c for c in "abc"), 206),
    "werkzeug_subclass": lambda m: PlainResponse("plain", status=201),
    "wsgi_callable": lambda m: _wsgi_app,
    "http_exception": lambda m: NotFound("gone away"),
    "redirect": lambda m: m.redirect("/elsewhere"),
    "jsonify": lambda m: m.jsonify(x=1),
}


def _app(m: types.ModuleType) -> t.Any:
    app = m.Flask(__name__)

    @app.route("/rv/<name>")
    def rv(name: str) -> t.Any:
        return RETURN_VALUES[name](m)

    return app


def test_every_return_type_matches_flask() -> None:
    names = list(RETURN_VALUES)
    results = dict(zip(names, compare(_app, *(f"/rv/{n}" for n in names)), strict=True))

    def check(name: str, status: str, body: bytes, content_type: str | None) -> None:
        res = results[name]
        assert (res.status, res.body, res.header("Content-Type")) == (status, body, content_type)

    html = "text/html; charset=utf-8"
    check("str", "200 OK", "text ✓".encode(), html)
    assert results["str"].header("Content-Length") == str(len("text ✓".encode()))
    check("bytes", "200 OK", b"raw \xff bytes", html)
    check("bytearray", "200 OK", b"array", html)
    check("dict", "200 OK", b'{"a":[1,2],"b":1}\n', "application/json")
    check("list", "200 OK", b'[1,"two",null]\n', "application/json")
    check("generator", "200 OK", b"generated", html)
    assert results["generator"].header("Content-Length") is None
    check("iterator", "200 OK", b"iter", html)
    check("str_status", "201 CREATED", b"created", html)
    check("str_status_string", "201 CREATED", b"created", html)
    check("str_status_code_only_string", "299 UNKNOWN", b"custom", html)
    check("str_status_custom_reason", "299 Custom Reason", b"custom", html)
    check("headers_dict", "200 OK", b"with headers", "text/plain")
    assert results["headers_dict"].header("X-A") == "1"
    assert (results["headers_list"].header("X-A"), results["headers_list"].header("X-B")) == (
        "1",
        "2",
    )
    assert results["headers_obj"].header("X-A") == "1"
    check("status_and_headers", "418 I'M A TEAPOT", b"both", html)
    assert results["status_and_headers"].header("X-Tea") == "pot"
    check("status_none_and_headers", "200 OK", b"none status", html)
    check("dict_status", "400 BAD REQUEST", b'{"error":"nope"}\n', "application/json")
    assert results["list_headers"].header("X-List") == "yes"
    check("response", "203 NON AUTHORITATIVE INFORMATION", b"resp", "text/csv; charset=utf-8")
    check("response_status_override", "404 NOT FOUND", b"resp", html)
    assert results["response_headers"].header("X-Extra") == "1"
    check("generator_status", "206 PARTIAL CONTENT", b"abc", html)
    check("werkzeug_subclass", "201 CREATED", b"plain", "text/plain; charset=utf-8")
    check("wsgi_callable", "202 ACCEPTED", b"from wsgi /rv/wsgi_callable", "text/x-wsgi")
    assert results["wsgi_callable"].header("X-Wsgi") == "1"
    assert results["http_exception"].code == 404
    assert b"gone away" in results["http_exception"].body
    assert results["redirect"].code == 302
    assert results["redirect"].header("Location") == "/elsewhere"
    check("jsonify", "200 OK", b'{"x":1}\n', "application/json")


def test_returned_objects_become_the_app_response_class(mod: types.ModuleType) -> None:
    app = _app(mod)
    with app.test_request_context():
        for name in ("str", "werkzeug_subclass", "wsgi_callable", "dict", "generator"):
            response = app.make_response(RETURN_VALUES[name](mod))
            assert isinstance(response, mod.Response), name
        streamed = app.make_response(RETURN_VALUES["generator"](mod))
        assert streamed.is_streamed
        assert not app.make_response("x").is_streamed
        own = mod.Response("mine")
        assert app.make_response(own) is own


def test_custom_response_class_is_used(mod: types.ModuleType) -> None:
    class MyResponse(mod.Response):  # type: ignore[misc,name-defined]
        default_mimetype = "text/plain"

    app = _app(mod)
    app.response_class = MyResponse
    with app.test_request_context():
        for name in ("str", "werkzeug_subclass", "wsgi_callable"):
            assert type(app.make_response(RETURN_VALUES[name](mod))) is MyResponse
        assert app.make_response("x").mimetype == "text/plain"


BAD_RETURN_VALUES: dict[str, t.Any] = {
    "none": None,
    "none_with_status": (None, 200),
    "one_tuple": ("x",),
    "four_tuple": ("x", 200, {}, "extra"),
    "int": 42,
    "object": object(),
}


@pytest.mark.parametrize("name", list(BAD_RETURN_VALUES))
def test_invalid_return_values_are_type_errors(mod: types.ModuleType, name: str) -> None:
    app = mod.Flask(__name__)
    app.testing = True

    @app.route("/bad")
    def bad_view() -> t.Any:
        return BAD_RETURN_VALUES[name]

    with pytest.raises(TypeError) as info:
        app.test_client().get("/bad")
    if name in {"none", "none_with_status"}:
        # The message names the view so the developer finds the missing return.
        assert "bad_view" in str(info.value)


def test_invalid_return_value_is_a_500_when_not_testing() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.logger.disabled = True
        app.add_url_rule("/none", "none", lambda: None)
        return app

    (res,) = compare(build, "/none")
    assert res.code == 500


def test_helpers_make_response(mod: types.ModuleType) -> None:
    app = mod.Flask(__name__)
    with app.test_request_context():
        empty = mod.make_response()
        assert isinstance(empty, mod.Response)
        assert (empty.status_code, empty.get_data()) == (200, b"")
        one = mod.make_response("body")
        assert one.get_data() == b"body"
        several = mod.make_response("missing", 404, {"X-A": "1"})
        assert (several.status_code, several.headers["X-A"]) == (404, "1")
        json_rv = mod.make_response({"k": "v"})
        assert json_rv.get_json() == {"k": "v"}
        existing = mod.Response("same")
        assert mod.make_response(existing) is existing


def test_make_response_in_view_then_modify() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/")
        def index() -> t.Any:
            response = m.make_response("made", 201)
            response.headers["X-Made"] = "here"
            response.set_cookie("flavour", "oat")
            return response

        return app

    (res,) = compare(build, "/")
    assert (res.code, res.text, res.header("X-Made")) == (201, "made", "here")
    assert res.header("Set-Cookie") == "flavour=oat; Path=/"


def test_make_response_outside_app_context_is_runtime_error(mod: types.ModuleType) -> None:
    with pytest.raises(RuntimeError):
        mod.make_response("x")


def test_head_request_drops_body_of_every_type() -> None:
    names = ["str", "dict", "generator", "wsgi_callable"]
    results = compare(_app, *(lambda c, n=n: c.head(f"/rv/{n}") for n in names))
    for res in results:
        assert res.body == b""
    assert results[0].header("Content-Length") == str(len("text ✓".encode()))


EDGE_RETURN_VALUES: dict[str, t.Callable[[types.ModuleType], t.Any]] = {
    "headers_as_tuple": lambda m: ("x", (("X-A", "1"),)),
    "status_bytes": lambda m: ("x", b"202 OK"),
    "response_status_string": lambda m: (m.Response("x"), "201"),
    "response_status_and_repeated_headers": lambda m: (
        m.Response("x", headers={"X-A": "0"}),
        202,
        [("X-A", "1"), ("X-A", "2")],
    ),
    "http_exception_with_status": lambda m: (NotFound(), 410),
    "http_exception_with_headers": lambda m: (NotFound(), {"X-E": "1"}),
    "empty_headers": lambda m: ("x", {}),
    "dict_status_headers": lambda m: ({"a": 1}, 201, {"X-J": "1"}),
    "json_content_type_override": lambda m: ({"a": 1}, {"Content-Type": "text/plain"}),
    "list_custom_status": lambda m: ([1], "404 NOPE"),
    "repeated_set_cookie": lambda m: (b"x", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
    "mixed_generator": lambda m: (x for x in [b"a", "b"]),
    "empty_string": lambda m: "",
    "empty_tuple": lambda m: (),
    "set": lambda m: {1, 2},
    "float_status": lambda m: ("x", 200.0),
}


def test_edge_return_values_match_flask() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)
        app.logger.disabled = True
        app.add_url_rule("/edge/<name>", "edge", lambda name: EDGE_RETURN_VALUES[name](m))
        return app

    names = list(EDGE_RETURN_VALUES)
    results = dict(zip(names, compare(build, *(f"/edge/{n}" for n in names)), strict=True))
    assert results["headers_as_tuple"].header("X-A") == "1"
    # Headers given with the return value replace the response's: the last one wins.
    assert results["response_status_and_repeated_headers"].header("X-A") == "2"
    assert results["http_exception_with_status"].status == "410 GONE"
    assert results["json_content_type_override"].header("Content-Type") == "text/plain"
    assert results["list_custom_status"].status == "404 NOPE"
    assert results["repeated_set_cookie"].header("Set-Cookie") == "a=1, b=2"
    assert results["mixed_generator"].body == b"ab"
    assert (results["empty_string"].code, results["empty_string"].body) == (200, b"")
    for name in ("empty_tuple", "set"):
        assert results[name].code == 500


def test_max_cookie_size_warning() -> None:
    def build(m: types.ModuleType) -> t.Any:
        app = m.Flask(__name__)

        @app.route("/cookie/<int:size>/<int:limit>")
        def cookie(size: int, limit: int) -> t.Any:
            app.config["MAX_COOKIE_SIZE"] = limit
            response = m.make_response("cookie")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                response.set_cookie("big", "v" * size)
            response.headers["X-Warnings"] = str(len(caught))
            response.headers.pop("Set-Cookie")
            return response

        return app

    small, big, raised, disabled = compare(
        build, "/cookie/10/4093", "/cookie/5000/4093", "/cookie/5000/10000", "/cookie/5000/0"
    )
    assert small.header("X-Warnings") == "0"
    assert big.header("X-Warnings") == "1"
    assert raised.header("X-Warnings") == "0"
    assert disabled.header("X-Warnings") == "0"

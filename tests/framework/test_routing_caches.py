"""The match and URL-build caches never change what routing answers."""

from __future__ import annotations

import typing as t

from werkzeug.routing import BaseConverter, Map, Rule

from framework import Flask, g, url_for
from framework.url_map import CachingMap, builds_deterministically


def test_rule_added_to_the_map_after_requests_is_matched() -> None:
    app = Flask(__name__)
    app.add_url_rule("/<name>", "named", lambda name: f"named {name}")
    client = app.test_client()
    assert client.get("/about").text == "named about"
    # Straight into the map (add_url_rule is closed after the first request): a more
    # specific static rule now wins, and the cached answer must not shadow it.
    app.url_map.add(Rule("/about", endpoint="about"))
    app.view_functions["about"] = lambda: "about page"
    assert client.get("/about").text == "about page"


def test_static_match_is_per_method() -> None:
    app = Flask(__name__)
    app.add_url_rule("/x", "x", lambda: "get")
    client = app.test_client()
    assert client.get("/x").text == "get"
    assert client.post("/x").status_code == 405
    assert client.get("/x").text == "get"


def test_url_defaults_that_depend_on_the_request_are_honoured() -> None:
    app = Flask(__name__)

    @app.url_defaults
    def add_lang(endpoint: str, values: dict[str, t.Any]) -> None:
        values.setdefault("lang", g.lang)

    @app.route("/<lang>/page")
    def page(lang: str) -> str:
        return url_for("page")

    @app.before_request
    def pick_lang() -> None:
        from framework import request

        g.lang = request.args.get("lang", "en")

    client = app.test_client()
    assert client.get("/en/page").text == "/en/page"
    assert client.get("/en/page?lang=de").text == "/de/page"
    assert client.get("/en/page").text == "/en/page"


class CountingConverter(BaseConverter):
    calls = 0

    def to_url(self, value: t.Any) -> str:
        CountingConverter.calls += 1
        return f"{value}-{CountingConverter.calls}"


def test_custom_converters_are_never_served_from_the_cache() -> None:
    app = Flask(__name__)
    app.url_map.converters["counting"] = CountingConverter
    app.add_url_rule("/c/<counting:v>", "c", lambda v: v)
    with app.test_request_context():
        first = url_for("c", v="a")
        second = url_for("c", v="a")
    assert first != second


class Slug:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return True  # a careless __eq__: all slugs are "equal"

    def __hash__(self) -> int:
        return 0


def test_objects_are_built_by_their_own_str_every_time() -> None:
    app = Flask(__name__)
    app.add_url_rule("/s/<slug>", "s", lambda slug: slug)
    with app.test_request_context():
        assert url_for("s", slug=Slug("one")) == "/s/one"
        assert url_for("s", slug=Slug("two")) == "/s/two"


def test_same_values_of_different_types_build_their_own_urls() -> None:
    app = Flask(__name__)
    app.add_url_rule("/v/<v>", "v", lambda v: v)
    with app.test_request_context():
        assert url_for("v", v=1) == "/v/1"
        assert url_for("v", v=True) == "/v/True"
        assert url_for("v", v=1.0) == "/v/1.0"


def test_external_and_relative_builds_do_not_mix() -> None:
    app = Flask(__name__)
    app.add_url_rule("/p", "p", lambda: "")
    with app.test_request_context(base_url="http://a.example"):
        assert url_for("p") == "/p"
        assert url_for("p", _external=True) == "http://a.example/p"
    with app.test_request_context(base_url="http://b.example"):
        assert url_for("p", _external=True) == "http://b.example/p"


def test_the_caches_belong_to_the_url_map_class() -> None:
    app = Flask(__name__)
    app.add_url_rule("/p", "p", lambda: "page")
    assert isinstance(app.url_map, CachingMap)
    assert app.test_client().get("/p").text == "page"
    assert list(app.url_map.static_matches) == [("/p", "GET")]
    with app.test_request_context():
        assert url_for("p") == "/p"
    assert list(app.url_map.built_urls.urls.values()) == ["/p"]
    # Adding a rule empties both.
    app.url_map.add(Rule("/q", endpoint="q"))
    assert app.url_map.static_matches == {}
    assert app.url_map.built_urls.urls == {}


def test_an_app_with_werkzeugs_own_map_routes_and_builds_without_caches() -> None:
    class PlainMapApp(Flask):
        url_map_class = Map

    app = PlainMapApp(__name__)
    app.add_url_rule("/p/<int:n>", "p", lambda n: f"page {n}")
    app.add_url_rule("/", "index", lambda: "index")
    client = app.test_client()
    assert type(app.url_map) is Map
    assert client.get("/").text == "index"
    assert client.get("/").text == "index"
    assert client.get("/p/3").text == "page 3"
    with app.test_request_context():
        assert url_for("p", n=4) == "/p/4"
        assert url_for("p", n=4, _external=True) == "http://localhost/p/4"


def test_a_replaced_default_converter_is_never_served_from_the_cache() -> None:
    app = Flask(__name__)
    app.url_map.converters["default"] = CountingConverter
    app.add_url_rule("/d/<v>", "d", lambda v: v)
    with app.test_request_context():
        assert url_for("d", v="a") != url_for("d", v="a")


def test_only_endpoints_with_werkzeugs_converters_build_deterministically() -> None:
    app = Flask(__name__)
    app.url_map.converters["counting"] = CountingConverter
    app.add_url_rule("/a/<int:n>/<path:rest>", "builtin", lambda n, rest: "")
    app.add_url_rule("/b/<counting(x=1):v>", "custom", lambda v: "")
    app.add_url_rule("/c/<any(one, two):v>", "any", lambda v: "")
    assert builds_deterministically(app.url_map, "builtin")
    assert builds_deterministically(app.url_map, "any")
    assert not builds_deterministically(app.url_map, "custom")
    assert not builds_deterministically(app.url_map, "missing")

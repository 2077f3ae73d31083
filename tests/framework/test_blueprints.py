"""Blueprints: every scenario runs on our framework and on Flask with the same expectations."""

from __future__ import annotations

import importlib
import os
import types
import typing as t

import pytest

SITE = os.path.join(os.path.dirname(__file__), "apps", "site")


@pytest.fixture(params=["framework", "flask"])
def mod(request: pytest.FixtureRequest) -> types.ModuleType:
    # Running every scenario on Flask too shows the expectations are Flask's behaviour.
    return importlib.import_module(request.param)


def _app(mod: types.ModuleType, **kwargs: t.Any) -> t.Any:
    kwargs.setdefault("root_path", SITE)
    return mod.Flask(f"bp_{mod.__name__}", **kwargs)


def _rules(app: t.Any) -> list[tuple[str, str, str | None]]:
    return sorted(
        (r.rule, r.endpoint, r.subdomain or None)
        for r in app.url_map.iter_rules()
        if r.endpoint != "static"
    )


def _responses(app: t.Any, *paths: str, **kwargs: t.Any) -> list[tuple[int, list[t.Any], bytes]]:
    client = app.test_client()
    out = []
    for path in paths:
        with client.get(path, **kwargs) as resp:
            # Date and Expires follow the clock, which may tick between the two apps.
            headers = sorted(
                (k, v) for k, v in resp.headers.items() if k not in {"Date", "Expires"}
            )
            if "Expires" in resp.headers:
                headers.append(("Expires", "<present>"))
            out.append((resp.status_code, headers, resp.get_data()))
    return out


def _same_on_both(build: t.Callable[[types.ModuleType], t.Any], *paths: str, **kw: t.Any) -> None:
    """Build the app with each module and compare status, headers and body of each path."""
    import flask

    import framework

    ours = _responses(build(framework), *paths, **kw)
    theirs = _responses(build(flask), *paths, **kw)
    assert ours == theirs


# -- url_prefix ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/p", "/p/", "/p//"])
def test_url_prefix_joins_with_rules(mod: types.ModuleType, prefix: str) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix=prefix)
    bp.add_url_rule("/x", "x", lambda: "x")
    bp.add_url_rule("y/", "y", lambda: "y")
    bp.add_url_rule("/", "slash", lambda: "slash")
    app.register_blueprint(bp)
    rules = {endpoint: rule for rule, endpoint, _ in _rules(app)}
    assert rules == {"bp.x": "/p/x", "bp.y": "/p/y/", "bp.slash": "/p/"}
    client = app.test_client()
    assert client.get("/p/x").text == "x"
    assert client.get("/p/").text == "slash"
    assert client.get("/p/y/").text == "y"


def test_no_url_prefix_leaves_rules_as_written(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)
    bp.add_url_rule("/x", "x", lambda: "x")
    bp.add_url_rule("/", "slash", lambda: "slash")
    app.register_blueprint(bp)
    assert _rules(app) == [("/", "bp.slash", None), ("/x", "bp.x", None)]
    # werkzeug insists on a leading slash when no prefix supplies one.
    bare = mod.Blueprint("bare", __name__)
    bare.add_url_rule("y", "y", lambda: "y")
    with pytest.raises(ValueError, match="slash"):
        _app(mod).register_blueprint(bare)


def test_empty_rule_under_prefix_is_the_prefix_itself(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/p")
    bp.add_url_rule("", "root", lambda: "root")
    app.register_blueprint(bp)
    assert _rules(app) == [("/p", "bp.root", None)]
    assert app.test_client().get("/p").text == "root"


def test_url_prefix_given_at_registration_overrides_the_blueprints(
    mod: types.ModuleType,
) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/orig")

    @bp.route("/hi")
    def hi() -> str:
        return mod.url_for(".hi")

    app.register_blueprint(bp, url_prefix="/override/")
    assert _rules(app) == [("/override/hi", "bp.hi", None)]
    client = app.test_client()
    assert client.get("/override/hi").text == "/override/hi"
    assert client.get("/orig/hi").status_code == 404


def test_empty_prefix_and_subdomain_at_registration_remove_the_blueprints(
    mod: types.ModuleType,
) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/orig", subdomain="sub")
    bp.add_url_rule("/x", "x", lambda: "x")
    app.register_blueprint(bp, url_prefix="", subdomain="")
    assert _rules(app) == [("/x", "bp.x", None)]
    assert app.test_client().get("/x").text == "x"


def test_nested_prefixes_are_joined_with_one_slash(mod: types.ModuleType) -> None:
    app = _app(mod)
    parent = mod.Blueprint("p", __name__, url_prefix="/p/")
    empty = mod.Blueprint("empty", __name__, url_prefix="")
    empty.add_url_rule("", "root", lambda: "empty root")
    empty.add_url_rule("/y", "y", lambda: "y")
    slashed = mod.Blueprint("slashed", __name__)
    slashed.add_url_rule("", "root", lambda: "slashed root")
    unprefixed = mod.Blueprint("unprefixed", __name__)
    unprefixed.add_url_rule("/z", "z", lambda: "z")
    parent.register_blueprint(empty)
    parent.register_blueprint(slashed, url_prefix="/s/")
    parent.register_blueprint(unprefixed)
    app.register_blueprint(parent)
    assert _rules(app) == [
        ("/p/", "p.empty.root", None),
        ("/p/s/", "p.slashed.root", None),
        ("/p/y", "p.empty.y", None),
        ("/p/z", "p.unprefixed.z", None),
    ]
    # A parent without a prefix passes the child's own prefix through.
    app = _app(mod)
    outer = mod.Blueprint("outer", __name__)
    inner = mod.Blueprint("inner", __name__, url_prefix="/in")
    inner.add_url_rule("/q", "q", lambda: "q")
    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    assert _rules(app) == [("/in/q", "outer.inner.q", None)]


def test_same_blueprint_twice_under_different_names_and_prefixes(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)
    seen: list[tuple[str, bool]] = []
    bp.record(lambda s: seen.append((s.name, s.first_registration)))

    @bp.route("/where")
    def where() -> str:
        return f"{mod.request.blueprint} {mod.url_for('.where')} {mod.request.endpoint}"

    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, name="two", url_prefix="/two")
    client = app.test_client()
    assert client.get("/one/where").text == "bp /one/where bp.where"
    assert client.get("/two/where").text == "two /two/where two.where"
    assert seen == [("bp", True), ("two", False)]
    assert app.blueprints == {"bp": bp, "two": bp}
    with app.test_request_context():
        assert mod.url_for("two.where") == "/two/where"


def test_name_clash_is_a_value_error(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="'bp'"):
        app.register_blueprint(bp)
    with pytest.raises(ValueError, match="'bp'"):
        app.register_blueprint(mod.Blueprint("bp", __name__), url_prefix="/other")
    # A unique name makes both work.
    app.register_blueprint(mod.Blueprint("bp", __name__), name="bp2")
    assert set(app.blueprints) == {"bp", "bp2"}


def test_dots_in_names_and_endpoints_are_value_errors(mod: types.ModuleType) -> None:
    with pytest.raises(ValueError):
        mod.Blueprint("a.b", __name__)
    with pytest.raises(ValueError):
        mod.Blueprint("", __name__)
    bp = mod.Blueprint("bp", __name__)
    with pytest.raises(ValueError):
        bp.add_url_rule("/x", "a.b", lambda: "x")

    def view() -> str:
        return "x"

    view.__name__ = "dotted.view"
    with pytest.raises(ValueError):
        bp.add_url_rule("/x", view_func=view)


def test_blueprint_cannot_register_itself(mod: types.ModuleType) -> None:
    bp = mod.Blueprint("bp", __name__)
    with pytest.raises(ValueError):
        bp.register_blueprint(bp)


# -- subdomains ------------------------------------------------------------------------------


def _subdomain_app(mod: types.ModuleType) -> t.Any:
    app = _app(mod, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/")
    def index() -> str:
        return "main"

    api = mod.Blueprint("api", __name__, subdomain="api")

    @api.route("/")
    def api_index() -> str:
        return f"api {mod.url_for('.api_index')} {mod.url_for('index')}"

    shop = mod.Blueprint("shop", __name__)

    @shop.route("/")
    def shop_index() -> str:
        return f"shop {mod.url_for('.shop_index', _external=True)}"

    app.register_blueprint(api)
    app.register_blueprint(shop, subdomain="shop")
    return app


def test_blueprint_subdomain_routes_by_host(mod: types.ModuleType) -> None:
    app = _subdomain_app(mod)
    client = app.test_client()
    assert client.get("/").text == "main"
    assert client.get("/", base_url="http://api.example.test").text == (
        "api / http://example.test/"
    )
    assert client.get("/", base_url="http://shop.example.test").text == (
        "shop http://shop.example.test/"
    )
    assert client.get("/", base_url="http://other.example.test").status_code == 404
    with app.app_context():
        assert mod.url_for("api.api_index") == "http://api.example.test/"
        assert mod.url_for("shop.shop_index") == "http://shop.example.test/"


def test_subdomain_responses_match_flask() -> None:
    _same_on_both(_subdomain_app, "/", base_url="http://api.example.test")
    _same_on_both(_subdomain_app, "/", base_url="http://nope.example.test")


# -- url_defaults and URL processors ---------------------------------------------------------


def test_url_defaults_of_blueprint_registration_and_rule_merge(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_defaults={"lang": "en", "page": 1})

    @bp.route("/list")
    def listing(lang: str, page: int) -> str:
        return f"{lang}:{page}"

    @bp.route("/one", defaults={"page": 9})
    def one(lang: str, page: int) -> str:
        return f"{lang}:{page}"

    app.register_blueprint(bp, url_prefix="/en")
    app.register_blueprint(bp, name="de", url_prefix="/de", url_defaults={"lang": "de"})
    client = app.test_client()
    assert client.get("/en/list").text == "en:1"
    assert client.get("/en/one").text == "en:9"
    assert client.get("/de/list").text == "de:1"
    assert client.get("/de/one").text == "de:9"
    with app.test_request_context():
        assert mod.url_for("bp.listing") == "/en/list"
        assert mod.url_for("de.listing", x=1) == "/de/list?x=1"
        assert mod.url_for("de.one") == "/de/one"


def test_blueprint_url_processors_are_scoped(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/<lang>")

    @bp.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        assert values is not None
        mod.g.lang = values.pop("lang")

    @bp.url_defaults
    def add_lang(endpoint: str, values: dict[str, t.Any]) -> None:
        values.setdefault("lang", mod.g.lang)

    @bp.route("/page")
    def page() -> str:
        return f"{mod.g.lang} {mod.url_for('.page')}"

    @app.route("/plain/<lang>")
    def plain(lang: str) -> str:
        return f"plain {lang} {'lang' in mod.g}"

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/fr/page").text == "fr /fr/page"
    assert client.get("/plain/fr").text == "plain fr False"


def test_app_url_value_preprocessor_and_app_url_defaults(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)

    @bp.app_url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        if values and "v" in values:
            mod.g.v = values.pop("v")

    @bp.app_url_defaults
    def push(endpoint: str, values: dict[str, t.Any]) -> None:
        if "v" in mod.g:
            values.setdefault("v", mod.g.v)

    @app.route("/<v>/app")
    def app_view() -> str:
        return f"{mod.g.v} {mod.url_for('app_view')}"

    app.register_blueprint(bp)
    assert app.test_client().get("/7/app").text == "7 /7/app"


# -- nesting ---------------------------------------------------------------------------------


def _nested_app(mod: types.ModuleType, log: list[str]) -> t.Any:
    app = _app(mod)
    parent = mod.Blueprint("parent", __name__, url_prefix="/parent")
    child = mod.Blueprint("child", __name__, url_prefix="/child")
    grandchild = mod.Blueprint("grandchild", __name__)

    @grandchild.route("/deep")
    def deep() -> str:
        return (
            f"{mod.request.blueprint}|{','.join(mod.request.blueprints)}|"
            f"{mod.url_for('.deep')}|{mod.request.endpoint}"
        )

    @child.route("/here")
    def here() -> str:
        return f"{mod.request.blueprint}|{','.join(mod.request.blueprints)}"

    @child.route("/boom")
    def boom() -> str:
        mod.abort(403)

    @parent.route("/top")
    def top() -> str:
        return ",".join(mod.request.blueprints)

    @app.route("/root")
    def root() -> str:
        return f"{mod.request.blueprint}|{mod.request.blueprints}"

    for name, scaffold in [("app", app), ("parent", parent), ("child", child)]:

        def before(name: str = name) -> None:
            log.append(f"before {name}")

        def after(resp: t.Any, name: str = name) -> t.Any:
            log.append(f"after {name}")
            return resp

        def teardown(exc: BaseException | None, name: str = name) -> None:
            log.append(f"teardown {name}")

        scaffold.before_request(before)
        scaffold.after_request(after)
        scaffold.teardown_request(teardown)

    @parent.errorhandler(403)
    def parent_forbidden(e: Exception) -> tuple[str, int]:
        return f"parent handled {mod.request.blueprint}", 403

    child.register_blueprint(grandchild, url_prefix="/g")
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    return app


def test_nested_blueprints_names_prefixes_and_request_blueprints(mod: types.ModuleType) -> None:
    app = _nested_app(mod, [])
    assert _rules(app) == [
        ("/parent/child/boom", "parent.child.boom", None),
        ("/parent/child/g/deep", "parent.child.grandchild.deep", None),
        ("/parent/child/here", "parent.child.here", None),
        ("/parent/top", "parent.top", None),
        ("/root", "root", None),
    ]
    assert set(app.blueprints) == {"parent", "parent.child", "parent.child.grandchild"}
    client = app.test_client()
    assert client.get("/parent/child/g/deep").text == (
        "parent.child.grandchild|parent.child.grandchild,parent.child,parent|"
        "/parent/child/g/deep|parent.child.grandchild.deep"
    )
    assert client.get("/parent/child/here").text == "parent.child|parent.child,parent"
    assert client.get("/parent/top").text == "parent"
    assert client.get("/root").text == "None|[]"


def test_parent_hooks_and_error_handlers_apply_to_children(mod: types.ModuleType) -> None:
    log: list[str] = []
    app = _nested_app(mod, log)
    client = app.test_client()
    client.get("/parent/child/here")
    assert log == [
        "before app",
        "before parent",
        "before child",
        "after child",
        "after parent",
        "after app",
        "teardown child",
        "teardown parent",
        "teardown app",
    ]
    log.clear()
    client.get("/parent/top")
    assert log == [
        "before app",
        "before parent",
        "after parent",
        "after app",
        "teardown parent",
        "teardown app",
    ]
    log.clear()
    client.get("/root")
    assert log == ["before app", "after app", "teardown app"]
    resp = client.get("/parent/child/boom")
    assert (resp.status_code, resp.text) == (403, "parent handled parent.child")


def test_nested_responses_match_flask() -> None:
    def build(mod: types.ModuleType) -> t.Any:
        return _nested_app(mod, [])

    _same_on_both(
        build, "/parent/child/g/deep", "/parent/child/boom", "/parent/nope", "/root", "/parent/top"
    )


def test_nested_subdomains_and_prefixes_combine(mod: types.ModuleType) -> None:
    app = _app(mod, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"
    parent = mod.Blueprint("parent", __name__, subdomain="api", url_prefix="/p")
    child = mod.Blueprint("child", __name__, subdomain="v1", url_prefix="/c")
    plain = mod.Blueprint("plain", __name__)
    child.add_url_rule("/x", "x", lambda: "child x")
    plain.add_url_rule("/y", "y", lambda: "plain y")
    parent.register_blueprint(child)
    parent.register_blueprint(plain, url_prefix="/q")
    app.register_blueprint(parent)
    assert _rules(app) == [
        ("/p/c/x", "parent.child.x", "v1.api"),
        ("/p/q/y", "parent.plain.y", "api"),
    ]
    client = app.test_client()
    assert client.get("/p/c/x", base_url="http://v1.api.example.test").text == "child x"
    assert client.get("/p/q/y", base_url="http://api.example.test").text == "plain y"
    assert client.get("/p/q/y").status_code == 404


def test_nested_blueprint_registered_under_two_parents(mod: types.ModuleType) -> None:
    app = _app(mod)
    child = mod.Blueprint("child", __name__)
    child.add_url_rule("/c", "c", lambda: mod.request.blueprint)
    one = mod.Blueprint("one", __name__, url_prefix="/1")
    two = mod.Blueprint("two", __name__, url_prefix="/2")
    one.register_blueprint(child)
    two.register_blueprint(child, url_prefix="/kid")
    app.register_blueprint(one)
    app.register_blueprint(two)
    client = app.test_client()
    assert client.get("/1/c").text == "one.child"
    assert client.get("/2/kid/c").text == "two.child"


# -- static files and templates --------------------------------------------------------------


def _static_app(mod: types.ModuleType) -> t.Any:
    app = _app(mod)
    admin = mod.Blueprint(
        "admin",
        __name__,
        root_path=os.path.join(SITE, "admin"),
        static_folder="static",
        template_folder="templates",
        url_prefix="/admin",
    )
    assets = mod.Blueprint(
        "assets",
        __name__,
        root_path=os.path.join(SITE, "admin"),
        static_folder="static",
        static_url_path="/files",
        url_prefix="/assets",
    )

    @admin.route("/")
    def index() -> str:
        return mod.url_for(".static", filename="admin.css")

    @admin.route("/only")
    def only() -> str:
        return mod.render_template("admin/only.html", value="<v>")

    @admin.route("/shared")
    def shared() -> str:
        return mod.render_template("shared.html", value="<v>")

    @admin.context_processor
    def who() -> dict[str, str]:
        return {"who": "admin-processor"}

    app.register_blueprint(admin)
    app.register_blueprint(assets)
    return app


def test_blueprint_static_files_are_served_under_its_prefix(mod: types.ModuleType) -> None:
    app = _static_app(mod)
    client = app.test_client()
    resp = client.get("/admin/static/admin.css")
    assert resp.status_code == 200
    assert resp.mimetype == "text/css"
    assert resp.text == "body { color: red; }\n"
    resp.close()
    resp = client.get("/assets/files/admin.css")
    assert resp.text == "body { color: red; }\n"
    resp.close()
    assert client.get("/admin/static/missing.css").status_code == 404
    assert client.get("/admin/").text == "/admin/static/admin.css"
    with app.test_request_context():
        assert mod.url_for("admin.static", filename="admin.css") == "/admin/static/admin.css"
        assert mod.url_for("assets.static", filename="x/y.js") == "/assets/files/x/y.js"
        assert mod.url_for("static", filename="app.txt") == "/static/app.txt"


def test_static_responses_match_flask() -> None:
    _same_on_both(
        _static_app, "/admin/static/admin.css", "/assets/files/admin.css", "/static/app.txt"
    )


def test_app_templates_win_over_blueprint_templates(mod: types.ModuleType) -> None:
    app = _static_app(mod)
    client = app.test_client()
    assert client.get("/admin/shared").text == "app says &lt;v&gt;"
    assert client.get("/admin/only").text == (
        "admin only &lt;v&gt;|/admin/|/admin/static/admin.css|admin-processor"
    )


def test_template_responses_match_flask() -> None:
    _same_on_both(_static_app, "/admin/only", "/admin/shared", "/admin/")


def test_blueprint_template_folder_found_without_app_templates(mod: types.ModuleType) -> None:
    app = mod.Flask("bare", root_path=os.path.join(SITE, "shop"), template_folder=None)
    shop = mod.Blueprint(
        "shop", __name__, root_path=os.path.join(SITE, "shop"), template_folder="templates"
    )
    shop.add_url_rule("/", "page", lambda: mod.render_template("shop_page.html", value="&"))
    app.register_blueprint(shop)
    assert app.test_client().get("/").text == "shop page &amp;"


# -- app-wide registrations from a blueprint -------------------------------------------------


def test_every_app_registration_of_a_blueprint(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")
    log: list[str] = []

    @bp.app_template_filter()
    def shout(s: str) -> str:
        return s.upper()

    @bp.app_template_filter("whisper")
    def lower_it(s: str) -> str:
        return s.lower()

    bp.add_app_template_filter(lambda s: s[::-1], "backwards")

    @bp.app_template_test()
    def short(s: str) -> bool:
        return len(s) < 4

    @bp.app_template_test("long")
    def is_long(s: str) -> bool:
        return len(s) > 8

    bp.add_app_template_test(lambda n: n % 2 == 0, "even_number")

    @bp.app_template_global()
    def site() -> str:
        return "Site"

    @bp.app_template_global("answer")
    def forty_two() -> int:
        return 42

    bp.add_app_template_global(lambda: "added", "added_global")

    @bp.before_app_request
    def before() -> None:
        log.append(f"before {mod.request.path}")

    @bp.after_app_request
    def after(resp: t.Any) -> t.Any:
        resp.headers["X-After"] = "yes"
        return resp

    @bp.teardown_app_request
    def teardown(exc: BaseException | None) -> None:
        log.append(f"teardown {mod.request.path}")

    @bp.app_context_processor
    def extra() -> dict[str, str]:
        return {"extra": "from-bp"}

    @bp.app_errorhandler(404)
    def not_found(e: Exception) -> tuple[str, int]:
        return "bp 404 page", 404

    @bp.app_errorhandler(KeyError)
    def key_error(e: Exception) -> tuple[str, int]:
        return "bp key error", 400

    @app.route("/")
    def index() -> str:
        return mod.render_template_string(
            "{{ 'Hi'|shout }} {{ 'Hi'|whisper }} {{ 'abc'|backwards }} "
            "{{ 'abc' is short }} {{ 'abcdefghij' is long }} {{ 4 is even_number }} "
            "{{ site() }} {{ answer() }} {{ added_global() }} {{ extra }}"
        )

    @app.route("/key")
    def key() -> str:
        raise KeyError("x")

    app.register_blueprint(bp)
    client = app.test_client()
    resp = client.get("/")
    assert resp.text == "HI hi cba True True True Site 42 added from-bp"
    assert resp.headers["X-After"] == "yes"
    assert log == ["before /", "teardown /"]
    resp = client.get("/missing")
    assert (resp.status_code, resp.text) == (404, "bp 404 page")
    assert client.get("/key").text == "bp key error"


def test_app_registrations_are_added_once_for_two_registrations(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)
    log: list[str] = []

    @bp.before_app_request
    def before() -> None:
        log.append("before")

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="again", url_prefix="/again")

    @app.route("/")
    def index() -> str:
        return "ok"

    app.test_client().get("/")
    assert log == ["before"]


# -- blueprint-scoped hooks and error handlers -----------------------------------------------


def _scoped_app(mod: types.ModuleType, log: list[str]) -> t.Any:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")

    @bp.before_request
    def before() -> None:
        log.append("bp before")

    @bp.after_request
    def after(resp: t.Any) -> t.Any:
        resp.headers["X-BP"] = "1"
        return resp

    @bp.teardown_request
    def teardown(exc: BaseException | None) -> None:
        log.append(f"bp teardown {type(exc).__name__}")

    @bp.errorhandler(404)
    def bp_not_found(e: Exception) -> tuple[str, int]:
        return "blueprint 404", 404

    @bp.errorhandler(ValueError)
    def bp_value_error(e: Exception) -> tuple[str, int]:
        return f"blueprint value error {e}", 422

    @app.errorhandler(404)
    def app_not_found(e: Exception) -> tuple[str, int]:
        return "app 404", 404

    @bp.route("/view")
    def view() -> str:
        return "bp view"

    @bp.route("/abort")
    def aborts() -> str:
        mod.abort(404)

    @bp.route("/value")
    def value() -> str:
        raise ValueError("bad")

    @app.route("/value")
    def app_value() -> str:
        raise ValueError("bad")

    @app.route("/abort")
    def app_abort() -> str:
        mod.abort(404)

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    app.register_blueprint(bp)
    return app


def test_blueprint_hooks_run_only_for_its_requests(mod: types.ModuleType) -> None:
    log: list[str] = []
    client = _scoped_app(mod, log).test_client()
    resp = client.get("/bp/view")
    assert (resp.text, resp.headers.get("X-BP")) == ("bp view", "1")
    assert log == ["bp before", "bp teardown NoneType"]
    log.clear()
    resp = client.get("/plain")
    assert (resp.text, resp.headers.get("X-BP")) == ("plain", None)
    assert log == []


def test_blueprint_error_handlers_are_scoped(mod: types.ModuleType) -> None:
    client = _scoped_app(mod, []).test_client()
    assert (client.get("/bp/abort").status_code, client.get("/bp/abort").text) == (
        404,
        "blueprint 404",
    )
    # A URL under the prefix that matches no rule belongs to no blueprint.
    assert client.get("/bp/nothing").text == "app 404"
    assert client.get("/abort").text == "app 404"
    resp = client.get("/bp/value")
    assert (resp.status_code, resp.text) == (422, "blueprint value error bad")
    app = _scoped_app(mod, [])
    app.testing = False
    assert app.test_client().get("/value").status_code == 500


def test_scoped_responses_match_flask() -> None:
    def build(mod: types.ModuleType) -> t.Any:
        return _scoped_app(mod, [])

    _same_on_both(build, "/bp/view", "/bp/abort", "/bp/nothing", "/bp/value", "/plain")


# -- record, record_once, set-up after registration ------------------------------------------


def test_record_and_record_once_see_each_registration(mod: types.ModuleType) -> None:
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp", subdomain="sub")
    every: list[tuple[str, str | None, str | None, bool]] = []
    once: list[str] = []

    @bp.record
    def on_register(state: t.Any) -> None:
        every.append((state.name, state.url_prefix, state.subdomain, state.first_registration))
        assert state.blueprint is bp
        assert state.app.name.startswith("bp_")

    @bp.record_once
    def on_first(state: t.Any) -> None:
        once.append(state.name)

    app = _app(mod)
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="b2", url_prefix="/b2", subdomain="other")
    other = _app(mod)
    other.register_blueprint(bp, name="b3")
    assert every == [
        ("bp", "/bp", "sub", True),
        ("b2", "/b2", "other", False),
        ("b3", "/bp", "sub", True),
    ]
    assert once == ["bp", "b3"]


def test_setup_state_add_url_rule_applies_prefix_and_name(mod: types.ModuleType) -> None:
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")
    bp.record(lambda s: s.add_url_rule("/rec", view_func=lambda: "recorded", endpoint="rec"))
    app = _app(mod)
    app.register_blueprint(bp)
    assert _rules(app) == [("/bp/rec", "bp.rec", None)]
    assert app.test_client().get("/bp/rec").text == "recorded"


def test_setting_up_a_registered_blueprint_is_an_assertion_error(mod: types.ModuleType) -> None:
    bp = mod.Blueprint("bp", __name__)
    _app(mod).register_blueprint(bp)
    with pytest.raises(AssertionError, match=r"route|add_url_rule"):
        bp.route("/late")(lambda: "late")
    with pytest.raises(AssertionError, match="before_request"):
        bp.before_request(lambda: None)
    with pytest.raises(AssertionError):
        bp.register_blueprint(mod.Blueprint("kid", __name__))
    with pytest.raises(AssertionError):
        bp.app_template_filter()(str.upper)


def test_registering_after_first_request_is_an_assertion_error(mod: types.ModuleType) -> None:
    app = _app(mod)
    app.add_url_rule("/", "index", lambda: "ok")
    app.test_client().get("/")
    with pytest.raises(AssertionError, match="register_blueprint"):
        app.register_blueprint(mod.Blueprint("late", __name__))


# -- relative url_for ------------------------------------------------------------------------


def test_relative_url_for_in_views_and_templates(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")

    @bp.route("/a")
    def a() -> str:
        return mod.render_template_string(
            "{{ url_for('.b', q=1) }} {{ url_for('index') }}", value=1
        )

    @bp.route("/b")
    def b() -> str:
        return mod.url_for(".a", _anchor="top")

    @app.route("/")
    def index() -> str:
        # Outside a blueprint, '.name' is an app endpoint.
        return mod.url_for(".index")

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/bp/a").text == "/bp/b?q=1 /"
    assert client.get("/bp/b").text == "/bp/a#top"
    assert client.get("/").text == "/"


# -- CLI -------------------------------------------------------------------------------------


def _cli_app(mod: types.ModuleType, **bp_kwargs: t.Any) -> tuple[t.Any, t.Any]:
    app = _app(mod)
    bp = mod.Blueprint("tools", __name__, **bp_kwargs)

    @bp.cli.command("hello")
    def hello() -> None:
        print(f"hello from {mod.current_app.name}")

    return app, bp


def test_blueprint_cli_commands_in_a_group_named_after_the_blueprint(
    mod: types.ModuleType,
) -> None:
    app, bp = _cli_app(mod)
    app.register_blueprint(bp)
    assert "tools" in app.cli.commands
    assert "hello" in app.cli.commands["tools"].commands
    result = app.test_cli_runner().invoke(args=["tools", "hello"])
    assert result.exit_code == 0, result.output
    assert result.output == f"hello from {app.name}\n"


def test_blueprint_cli_group_none_merges_commands_into_the_app(mod: types.ModuleType) -> None:
    app, bp = _cli_app(mod, cli_group=None)
    app.register_blueprint(bp)
    assert "hello" in app.cli.commands
    assert "tools" not in app.cli.commands
    result = app.test_cli_runner().invoke(args=["hello"])
    assert result.output == f"hello from {app.name}\n"


def test_blueprint_cli_group_given_at_construction_or_registration(
    mod: types.ModuleType,
) -> None:
    app, bp = _cli_app(mod, cli_group="custom")
    app.register_blueprint(bp)
    assert set(app.cli.commands) == {"custom"}
    app, bp = _cli_app(mod)
    app.register_blueprint(bp, cli_group="other")
    assert set(app.cli.commands) == {"other"}
    assert "hello" in app.cli.commands["other"].commands


def test_blueprint_without_cli_commands_adds_no_group(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("quiet", __name__)
    assert bp.cli.commands == {}
    app.register_blueprint(bp)
    assert "quiet" not in app.cli.commands


def test_nested_blueprint_cli_groups_use_dotted_names(mod: types.ModuleType) -> None:
    app = _app(mod)
    parent = mod.Blueprint("parent", __name__)
    child = mod.Blueprint("child", __name__)
    parent.cli.command("top")(lambda: print("top"))
    child.cli.command("deep")(lambda: print("deep"))
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert {name: set(group.commands) for name, group in app.cli.commands.items()} == {
        "parent": {"top"},
        "parent.child": {"deep"},
    }
    assert app.test_cli_runner().invoke(args=["parent.child", "deep"]).output == "deep\n"


# -- more scoping: parents' URL processors, 405s, static caching, template order ------------


def test_parent_url_processors_and_context_processors_apply_to_children(
    mod: types.ModuleType,
) -> None:
    app = _app(mod)
    parent = mod.Blueprint("parent", __name__, url_prefix="/<lang>")
    child = mod.Blueprint("child", __name__)

    @parent.url_defaults
    def add_lang(endpoint: str, values: dict[str, t.Any]) -> None:
        values.setdefault("lang", "xx")

    @parent.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        assert values is not None
        mod.g.lang = values.pop("lang")

    @parent.context_processor
    def tag() -> dict[str, str]:
        return {"tag": "parent-tag"}

    @child.route("/page")
    def page() -> str:
        return f"{mod.g.lang} {mod.url_for('.page')} " + mod.render_template_string("{{ tag }}")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert app.test_client().get("/fr/page").text == "fr /xx/page parent-tag"


def _method_app(mod: types.ModuleType) -> t.Any:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__, url_prefix="/bp")
    bp.add_url_rule("/v", "v", lambda: "v")

    @bp.errorhandler(405)
    def bp_405(e: Exception) -> tuple[str, int]:
        return "bp 405", 405

    @app.errorhandler(405)
    def app_405(e: Exception) -> tuple[str, int]:
        return "app 405", 405

    app.register_blueprint(bp)
    return app


def test_method_not_allowed_under_a_blueprint_goes_to_the_app_handler(
    mod: types.ModuleType,
) -> None:
    # Routing failed, so the request belongs to no blueprint.
    resp = _method_app(mod).test_client().post("/bp/v")
    assert (resp.status_code, resp.text) == (405, "app 405")


def test_method_responses_match_flask() -> None:
    _same_on_both(_method_app, "/bp/v", method="POST")
    _same_on_both(_method_app, "/bp/v", method="OPTIONS")
    _same_on_both(_method_app, "/bp/v", method="HEAD")


def _cached_static_app(mod: types.ModuleType) -> t.Any:
    app = _static_app(mod)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60
    return app


def test_blueprint_static_files_follow_send_file_max_age(mod: types.ModuleType) -> None:
    app = _cached_static_app(mod)
    with app.test_client().get("/admin/static/admin.css") as resp:
        assert resp.headers["Cache-Control"] == "public, max-age=60"
    bp = app.blueprints["admin"]
    assert bp.static_folder == os.path.join(SITE, "admin", "static")
    assert bp.static_url_path == "/static"
    assert bp.has_static_folder
    with app.test_request_context():
        assert mod.url_for("admin.static", filename="a b.css", v=1) == (
            "/admin/static/a%20b.css?v=1"
        )


def test_cached_static_responses_match_flask() -> None:
    _same_on_both(_cached_static_app, "/admin/static/admin.css")


def test_first_registered_blueprint_template_wins(mod: types.ModuleType) -> None:
    app = mod.Flask("order", root_path=SITE, template_folder=None)
    shop = mod.Blueprint(
        "shop", __name__, root_path=os.path.join(SITE, "shop"), template_folder="templates"
    )
    admin = mod.Blueprint(
        "admin", __name__, root_path=os.path.join(SITE, "admin"), template_folder="templates"
    )
    other = mod.Blueprint("other", __name__, root_path=os.path.join(SITE, "admin"))
    app.register_blueprint(other)
    app.register_blueprint(admin)
    app.register_blueprint(shop)
    with app.test_request_context():
        assert mod.render_template("shared.html", value=1) == "admin shared 1"
        assert mod.render_template("shop_page.html", value=2) == "shop page 2"
    assert set(app.jinja_env.list_templates()) == {
        "admin/only.html",
        "shared.html",
        "shop_page.html",
    }


def test_context_processor_applies_under_every_registered_name(mod: types.ModuleType) -> None:
    app = _app(mod)
    bp = mod.Blueprint("bp", __name__)
    bp.context_processor(lambda: {"where": mod.request.blueprint})
    bp.add_url_rule("/w", "w", lambda: mod.render_template_string("{{ where }}"))
    app.register_blueprint(bp, url_prefix="/a")
    app.register_blueprint(bp, name="b", url_prefix="/b")
    client = app.test_client()
    assert client.get("/a/w").text == "bp"
    assert client.get("/b/w").text == "b"


def test_teardown_of_a_blueprint_sees_unhandled_errors_only(mod: types.ModuleType) -> None:
    app = _app(mod)
    seen: list[str] = []
    bp = mod.Blueprint("bp", __name__)
    bp.teardown_request(lambda e: seen.append(repr(e)))
    bp.errorhandler(KeyError)(lambda e: ("handled", 400))

    @bp.route("/k")
    def handled() -> str:
        raise KeyError("k")

    @bp.route("/z")
    def unhandled() -> str:
        raise ZeroDivisionError("z")

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/k").status_code == 400
    assert client.get("/z").status_code == 500
    assert seen == ["None", "ZeroDivisionError('z')"]


def test_blueprint_endpoint_decorator_adds_an_unprefixed_app_view(mod: types.ModuleType) -> None:
    bp = mod.Blueprint("bp", __name__)

    @bp.endpoint("home")
    def home() -> str:
        return "home view"

    assert bp.view_functions == {"home": home}
    app = _app(mod)
    app.view_functions["home"] = lambda: "replaced"
    app.register_blueprint(bp)
    app.add_url_rule("/", endpoint="home")
    assert app.view_functions["home"] is home
    assert "bp.home" not in app.view_functions
    assert app.test_client().get("/").text == "home view"
